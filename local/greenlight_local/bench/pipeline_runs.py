"""Runs of the whole local pipeline (LocalPipeline: moto, the emulator, the functions in their own
processes): upload every image, wait for every verdict, and keep what the run counted and logged."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.environments import quota_share
from greenlight_local.bench.harness import BenchConfig, Shared
from greenlight_local.bench.resources import child_cpu, cpu_used_since, own_cpu_seconds
from greenlight_local.bench.uploads import bench_images, upload_all

if TYPE_CHECKING:
    from greenlight_local.pipeline import LocalPipeline, PipelineOptions
    from greenlight_local.stack import LocalStack


@dataclass
class PipelineRun:
    images: int
    seconds: float  # first upload start -> latest finished_at
    upload_seconds: float
    scan_requests: int
    result_requests: int
    sync_requests: int
    states: dict[str, int]
    sources: dict[str, int]
    callbacks_delivered: int
    metrics: dict[str, float]
    submit_batches: list[dict[str, Any]]  # the submit function's "batch done" log lines
    poll_runs: list[dict[str, Any]]  # the poll function's "poll done" log lines
    cpu: dict[str, float]  # CPU seconds by process
    moto_requests: int
    complete: bool
    options: PipelineOptions
    quota_share: float  # images a second each submit host paces itself to (its share of Green's quota)

    @property
    def pacing_floor(self) -> float:
        """Seconds the submit hosts need at least to send every image, at their quota share."""
        return self.images / (self.options.submit_instances * self.quota_share)

    def describe(self) -> str:
        return (f"{self.images:,} images, {self.seconds:.1f} s (uploads {self.upload_seconds:.1f} s), "
                f"{self.scan_requests} asyncscan + {self.sync_requests} sync scan + {self.result_requests} results "
                f"requests, {self.callbacks_delivered} callbacks delivered, verdicts by {self.sources}, "
                f"states {self.states}; {self.cpu_summary()}")

    def cpu_summary(self) -> str:
        busy = sum(self.cpu.values())
        parts = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(self.cpu.items(), key=lambda i: -i[1])
                          if seconds >= 0.5)
        return (f"CPU seconds {parts} = {busy:.0f} in {self.seconds:.0f} s wall "
                f"({busy / max(self.seconds, 1e-9):.2f} of {os.cpu_count()} CPUs busy); moto served "
                f"{self.moto_requests:,} requests ({self.moto_requests / self.images:.1f} per image)")

    def metric(self, name: str) -> float:
        return float(self.metrics.get(name, 0))

    def incomplete(self, name: str) -> str:
        """One sentence on a run whose records did not all reach a terminal state."""
        from greenlight.domain.outcomes import Outcome
        from greenlight.domain.states import TERMINAL

        terminal = {state.value for state in TERMINAL}
        left = {state: n for state, n in self.states.items() if state not in terminal}
        return (f"The {name} run did not finish: {sum(left.values())} of {self.images:,} records were still "
                f"{left} when the wait ended (no progress for 45 s, or the time limit); the functions counted "
                f"{self.metric(Outcome.DUPLICATE_EVENT):.0f} duplicate events, "
                f"{self.metric(Outcome.LEASE_TAKEOVER):.0f} lease takeovers and "
                f"{self.metric(Outcome.MESSAGE_RETRIED):.0f} retried messages.")

    @property
    def full_batches_retried(self) -> list[dict[str, Any]]:
        """Submit batches that sent nothing and handed every message back (no time left to send)."""
        return [b for b in self.submit_batches if b.get("sent") == 0 and b.get("retry_messages")]


def default_options() -> PipelineOptions:
    from greenlight_local.pipeline import PipelineOptions

    return PipelineOptions()


def describe_options(options: PipelineOptions) -> str:
    """The local time scale a pipeline run used."""
    return (f"{options.submit_instances} submit hosts, {options.callback_instances} callback hosts, "
            f"{options.batch_window:g} s batching window, {options.timeout:g} s function timeout, poll every "
            f"{options.poll_interval:g} s with a {options.poll_grace:g} s grace and a {options.poll_batch_window:g} s "
            f"batch window, emulator processing delay {options.faults.get('processing_delay', 1.0):g} s")


def run_pipeline(config: BenchConfig, name: str, **changes: Any) -> PipelineRun:
    """Upload `config.uploads` images into the whole local pipeline and wait for every verdict."""
    from collections import Counter

    from greenlight_local.pipeline import LocalPipeline, PipelineOptions

    options = PipelineOptions(workdir=config.workdir / name, **changes)
    images = bench_images(config.uploads, name)
    with LocalPipeline(options) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        cpu_before, children_before = own_cpu_seconds(), child_cpu()
        started = upload_all(pipeline.stack, images, config.upload_threads)
        uploaded = time.time()
        complete = wait_terminal(pipeline.stack, len(images), config.settle_timeout)
        records = pipeline.records()
        cpu = {**cpu_used_since(children_before),
               "this process (uploads, Green emulator)": own_cpu_seconds() - cpu_before}
        stats = pipeline.emulator.stats()
        metrics = pipeline.metric_totals()
        submit_batches = logged(pipeline, "batch done")
        poll_runs = logged(pipeline, "poll done")
        hosts = json.loads(pipeline.state_file.read_text(encoding="utf-8"))["functions"]  # as the hosts run
    finished = [finished_epoch(r.finished_at) for r in records if r.finished_at]
    last = max(finished) if complete and finished else time.time()
    calls = stats["calls"]
    return PipelineRun(
        images=len(images), seconds=last - started, upload_seconds=uploaded - started,
        scan_requests=int(calls["asyncscan"]), result_requests=int(calls["results"]),
        sync_requests=int(calls["scan"]), states=dict(Counter(r.state.value for r in records)),
        sources=dict(Counter(r.source or "-" for r in records)),
        callbacks_delivered=int(stats["callbacks"]["delivered"]), metrics=metrics, submit_batches=submit_batches,
        poll_runs=poll_runs, cpu=cpu, moto_requests=count_moto_requests(options.workdir / "logs" / "moto.log"),
        complete=complete, options=options, quota_share=quota_share(hosts["submit"]["environment"]))


# Every result from the poller: the emulator drops every callback; the template's 5 s batching window.
POLLER_ONLY = Shared("poller-only", lambda bench: run_pipeline(
    bench.config, "poller-only", batch_window=5.0, faults={"processing_delay": 0.5, "callback_drop_rate": 1.0}))


def wait_terminal(stack: LocalStack, expected: int, timeout: float, stall: float = 45.0) -> bool:
    """Count terminal records every 3 s until `expected` are; give up after `timeout`, or after `stall`
    seconds without progress (a record left behind will not move). A COUNT scan, so the watching adds
    little load to moto; the end time comes from the records' finished_at, not from this loop."""
    from greenlight.domain.states import TERMINAL

    dynamodb = stack.client("dynamodb")
    states = sorted(s.value for s in TERMINAL)
    values = {f":s{i}": {"S": state} for i, state in enumerate(states)}
    condition = f"begins_with(#id, :v) AND #state IN ({', '.join(values)})"

    def terminal() -> int:
        total = 0
        kwargs: dict[str, Any] = {}
        for _ in range(1000):  # pages; bounded
            page = dynamodb.scan(TableName=stack.table, Select="COUNT", FilterExpression=condition,
                                 ExpressionAttributeNames={"#id": "id", "#state": "state"},
                                 ExpressionAttributeValues={**values, ":v": {"S": "v-"}}, **kwargs)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        return total

    deadline = time.monotonic() + timeout
    best, progressed = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - progressed < stall:
        done = terminal()
        if done >= expected:
            return True
        if done > best:
            best, progressed = done, time.monotonic()
        time.sleep(3)
    return False


def logged(pipeline: LocalPipeline, message: str) -> list[dict[str, Any]]:
    """The functions' JSON log lines with this message (their summaries of each invocation)."""
    found = []
    for _, line in pipeline.logs():
        if f'"message":"{message}"' in line or f'"message": "{message}"' in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def count_moto_requests(log: Path) -> int:
    """Requests moto's server logged (one line each); 0 when the log is not where it used to be."""
    import re

    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    return len(re.findall(r'"(?:GET|PUT|POST|DELETE|HEAD) /', text))


def finished_epoch(iso_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()
