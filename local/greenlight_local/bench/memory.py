"""Memory: peak RSS of each handler on a full batch, each in a fresh process (probe.py), vs the same
process right after importing the handler; submit also vs the per-image SDK loop.

Submit gets 100 real messages, poll 100 due PENDING records, callback 1 then 100 sequential genuine
requests. A 1-message batch before each full one separates what a first invocation costs (lazy
imports, clients, the secret) from what a full batch adds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.environments import (
    base_env,
    bench_environment,
    bytecode_env,
    child_pythonpath,
    lambda_runtime_variables,
    warm_bytecode,
)
from greenlight_local.bench.harness import Figure
from greenlight_local.bench.naive import GREEN_REGION
from greenlight_local.bench.report import Row, Section, Spread, ms
from greenlight_local.bench.stacks import BATCH, clone_table, lambda_batches, prepared_stack
from greenlight_local.bench.stats import median
from greenlight_local.bench.submit_runs import UNPACED
from greenlight_local.processes import wait_until

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench
    from greenlight_local.bench.services import EmulatorProcess
    from greenlight_local.stack import LocalStack

FUNCTIONS = ("submit", "callback", "poll", "enforce")
PROBE = "greenlight_local.bench.probe"
CALLBACKS_PROBED = 25  # sequential callbacks a callback probe gets (peak RSS is flat after the first few)


def probe_round(bench: Bench, stack: LocalStack, secret: Mapping[str, str],
                messages: Sequence[dict[str, Any]], probes: Probes, table: str) -> dict[str, dict[str, Any]]:
    """One round of probes into `table`: submit (1 message, then 100), a second submit batch left to the
    callbacks, poll (100 due records), callback (1 then 99 more genuine requests), enforce (1 then 100
    decisions from stream records), and the SDK loop (1 message, then 100)."""
    emulator = bench.services.emulator()
    warm, first, second = messages[:1], messages[1:BATCH + 1], messages[BATCH + 1:2 * BATCH + 1]
    naive_warm, naive_batch = messages[2 * BATCH + 1:2 * BATCH + 2], messages[2 * BATCH + 2:]
    probes.table = table

    def env(function: str, **settings: str) -> dict[str, str]:
        return bench_environment(stack, function, green_endpoint=emulator.url, session_token=bench.session_token(),
                                 settings={"TABLE_NAME": table, **settings})

    finished_before = emulator.finished_tasks()
    found: dict[str, dict[str, Any]] = {}
    # Submit runs with a budget share pacing never waits for: waiting is not what is measured here.
    found["submit"] = probes.run("submit", "submit", env("submit", POLL_GRACE_SECONDS="0", **UNPACED),
                                 lambda_batches(stack, warm) + lambda_batches(stack, first))
    # The second batch is submitted with a long grace, so the poller leaves it to the callbacks.
    probes.run("submit-late", "submit", env("submit", POLL_GRACE_SECONDS="3000", **UNPACED),
               lambda_batches(stack, second))
    wait_until(lambda: emulator.finished_tasks() >= finished_before + 2 * BATCH + 1, timeout=60.0,
               what=f"{2 * BATCH + 1} finished Green tasks", interval=0.2)
    found["poll"] = probes.run("poll", "poll", env("poll", POLL_BATCH_LIMIT=str(BATCH)), [scheduled_event()])
    found["callback"] = probes.run("callback", "callback", env("callback"),
                                   callback_events(emulator, stack, table, secret))
    # Blocks are tagged, not quarantined: a quarantined version would be gone for the next round's submit.
    found["enforce"] = probes.run("enforce", "enforce", env("enforce", BLOCK_ACTION="none"),
                                  stream_events(stack, table))
    found["naive"] = probes.run("naive", "submit", env("submit"), lambda_batches(stack, naive_warm)
                                + lambda_batches(stack, naive_batch), naive=emulator)
    return found


def measure(bench: Bench) -> Section:
    stack, secret, messages = prepared_stack(bench, 3 * BATCH + 2, "memory")
    probes = Probes(bench, stack)
    warm_bytecode(bench.config.workdir, [*((stack.functions[name].handler.rsplit(".", 1)[0], probes.child_env(name))
                                           for name in FUNCTIONS), (PROBE, probes.child_env("submit"))])
    tables = [stack.table, *(clone_table(stack, f"m{n}") for n in range(1, bench.config.repeats))]
    rounds = [probe_round(bench, stack, secret, messages, probes, table) for table in tables]

    def spread(name: str, pick: Callable[[dict[str, Any]], float], fmt: str = "{:.1f}") -> Spread:
        return Spread(tuple(pick(r[name]) for r in rounds), fmt)

    def first_ms(name: str) -> Spread:
        return spread(name, lambda r: 1000 * r["seconds"][0], "{:.0f}")

    last = rounds[-1]
    submit, poll, callback, enforce, naive = (last[n] for n in ("submit", "poll", "callback", "enforce", "naive"))
    setting = (
        f"Memory: peak RSS (VmHWM) of a fresh process per probe (`python -m {PROBE}`, which imports only a few "
        "stdlib modules before the handler); not ru_maxrss, which "
        f"Linux carries over from the parent across fork + exec (it read {submit['start_rusage']:.1f} MB "
        f"in the probe before any import; VmHWM read {submit['start']:.1f} MB). Idle = peak RSS right after "
        f"importing the handler. {len(rounds)} rounds, each into an empty copy of the table, at zero latency. Each "
        f"submit probe first gets a batch of 1 message, then one of {BATCH} ({submit['output']}; SDK loop: "
        f"{naive['output']}); poll: {BATCH} due PENDING records (POLL_BATCH_LIMIT={BATCH}; {poll['output']}); "
        f"callback: {len(callback['marks'])} sequential genuine callbacks ({callback['output']}); enforce: a stream "
        f"batch of 1 decision, then one of {BATCH} ({enforce['output']}; BLOCK_ACTION=none, so blocks are tagged, "
        "not moved, and every round finds the same objects). The first "
        "invocation of each also pays what the handlers defer from import time (boto3, requests, Powertools "
        "parameters, clients, the secret and the policy).")
    preloaded = {name: result["preloaded"] for name, result in last.items() if result["preloaded"]}
    if preloaded:
        setting += (f" CAUTION: the probe had already loaded {preloaded} before importing the handler (through "
                    "greenlight_local.functions), so the idle figures and first-invocation times include them.")
    return Section(rows=[
        Row(f"Peak RSS, submit, batch of {BATCH} (MB)", spread("submit", lambda r: r["peak"]),
            f"{spread('naive', lambda r: r['peak'])} SDK loop; {submit['idle']:.1f} idle",
            f"{spread('submit', lambda r: r['peak']).median / spread('naive', lambda r: r['peak']).median:.2f}x"),
        Row(f"Peak RSS, poll, {BATCH} due records (MB)", spread("poll", lambda r: r["peak"]),
            f"{poll['idle']:.1f} idle"),
        Row(f"Peak RSS, callback, {len(callback['marks'])} requests (MB)", spread("callback", lambda r: r["peak"]),
            f"{callback['idle']:.1f} idle"),
        Row(f"Peak RSS, enforce, batch of {BATCH} decisions (MB)", spread("enforce", lambda r: r["peak"]),
            f"{enforce['idle']:.1f} idle"),
        Row("First invocation, submit, 1 message (ms)", first_ms("submit"), "-"),
        Row("First invocation, callback, 1 request (ms)", first_ms("callback"),
            f"later ones: median {ms(median(callback['seconds'][1:] or [0.0]))}"),
        Row(f"First invocation, poll, {BATCH} due records (ms)", first_ms("poll"), "-"),
        Row("First invocation, enforce, 1 decision (ms)", first_ms("enforce"),
            f"then {BATCH}: {ms(enforce['seconds'][-1])}"),
    ], settings=[setting])


def stream_events(stack: LocalStack, table: str) -> list[dict[str, Any]]:
    """Stream events as the enforce function's event source hands them over: the decided records of
    `table` (poll and callback decided them), 1 then up to 100."""
    dynamodb = stack.client("dynamodb")
    decided = [item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]
               if item["id"]["S"].startswith("v-") and "decision_rev" in item]
    records = [{"eventID": str(n), "eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": stack.region,
                "dynamodb": {"Keys": {"id": item["id"]}, "NewImage": item,
                             "OldImage": {k: v for k, v in item.items() if k != "decision_rev"},
                             "SequenceNumber": f"{n:021d}", "StreamViewType": "NEW_AND_OLD_IMAGES"}}
               for n, item in enumerate(decided[:BATCH + 1])]
    return [{"Records": records[:1]}, {"Records": records[1:]}]


class Probes:
    """Runs probe.py for one function of `stack`, with its events and the function's environment."""

    def __init__(self, bench: Bench, stack: LocalStack) -> None:
        self.bench = bench
        self.stack = stack
        self.table = stack.table
        self.dir = bench.config.workdir / "memory"
        self.dir.mkdir(parents=True, exist_ok=True)

    def child_env(self, function: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
        spec = self.stack.functions[function]
        return {**base_env(), **lambda_runtime_variables(spec), **bytecode_env(self.bench.config.workdir),
                **(env or {}), "PYTHONPATH": child_pythonpath(spec.code_dir)}

    def run(self, name: str, function: str, env: Mapping[str, str], events: Sequence[dict[str, Any]],
            naive: EmulatorProcess | None = None) -> dict[str, Any]:
        function_spec = self.stack.functions[function]
        spec: dict[str, Any] = {"function": function, "handler": function_spec.handler,
                                "code_dir": str(function_spec.code_dir), "logical_id": function_spec.logical_id,
                                "timeout": function_spec.timeout, "events": str(self.dir / f"{name}-events.json"),
                                "result": str(self.dir / f"{name}-result.json")}
        if naive is not None:
            spec["naive"] = {"endpoint": self.stack.endpoint, "region": self.stack.region, "table": self.table,
                             "secret_id": self.stack.secret_ids["GreenSecret"], "green_port": naive.port,
                             "session_token": env["AWS_SESSION_TOKEN"]}
        with open(spec["events"], "w", encoding="utf-8") as out:
            json.dump(list(events), out)
        spec_path = self.dir / f"{name}-spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        with open(self.dir / f"{name}.log", "wb") as log:
            subprocess.run([sys.executable, "-m", PROBE, str(spec_path)], env=self.child_env(function, env),
                           check=True, timeout=300, stdout=log, stderr=subprocess.STDOUT)
        with open(spec["result"], encoding="utf-8") as result:
            found: dict[str, Any] = json.load(result)
        return found


def scheduled_event() -> dict[str, Any]:
    from greenlight_local.lambda_host import scheduled_event as event

    return event()


def raw_results(emulator: EmulatorProcess, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Green's own result objects for these tasks (what its callbacks carry), via /green/image/results."""
    import requests

    from greenlight.green.signer import API_VERSION, Credentials, http_date, sign_request

    signed = sign_request(credentials=Credentials(emulator.key_id, emulator.key_secret), method="POST",
                          path="/green/image/results", body=json.dumps(list(task_ids)).encode("utf-8"),
                          date=http_date(time.time()), query={"RegionId": GREEN_REGION},
                          headers={"x-acs-version": API_VERSION, "x-acs-action": "ImageAsyncScanResults",
                                   "x-acs-region-id": GREEN_REGION})
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(emulator.url + signed.target, data=signed.body, headers=signed.headers, timeout=10)
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def callback_events(emulator: EmulatorProcess, stack: LocalStack, table: str,
                    secret: Mapping[str, str]) -> list[dict[str, Any]]:
    """Genuine callbacks (Green's result objects, checksummed with the secret) for the records still PENDING."""
    from green_emulator.callbacks import FORM_CONTENT_TYPE, callback_form
    from greenlight.aws.dynamo_writes import record_from_item
    from greenlight.domain.states import State
    from greenlight_local.lambda_host import http_api_event

    items = [i for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=table)
             for i in page["Items"] if i["id"]["S"].startswith("v-")]
    pending = [r for r in map(record_from_item, items) if r.state is State.PENDING and r.task_id]
    items = raw_results(emulator, [r.task_id or "" for r in pending][:CALLBACKS_PROBED])
    token = secret["callback_token"]
    events = []
    for item in items:
        body = callback_form(secret["uid"], secret["seed"], item)
        headers = {"Content-Type": FORM_CONTENT_TYPE, "Content-Length": str(len(body)), "User-Agent": "green"}
        events.append(http_api_event("POST", f"/callback/{token}", "", headers, body, "ANY /callback/{token}",
                                     {"token": token}, "127.0.0.1"))
    return events


FIGURE = Figure("memory", "peak RSS of each handler on a full batch in a fresh process, vs the SDK loop", measure)
