"""The whole pipeline on one machine: moto server, the Green emulator, the stack from template.yaml,
and the three functions in their own processes, driven as Lambda would drive them.

Used by `make demo`, the end-to-end tests, the chaos run and the benchmarks:

    with LocalPipeline(PipelineOptions()) as pipeline:
        pipeline.upload("cat.png", image_bytes)
        pipeline.wait_for(lambda records: ..., timeout=60)

Local time scale: Lambda's minutes become seconds here. The functions get a shorter timeout,
lease, poll grace and recheck interval, and the event source a shorter visibility timeout, in
the same proportions as the template (visibility > lease > timeout). Every such override is in
`PipelineOptions` and written, with the template's own environment, to the run's state file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from green_emulator import EmulatorConfig, RunningEmulator, start_emulator
from green_emulator.config import Faults
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.domain.record import VerdictRecord
from greenlight_local.functions import function_environment
from greenlight_local.processes import ROOT, free_port, pythonpath, terminate, wait_until
from greenlight_local.stack import LocalStack, all_records, create_stack

if TYPE_CHECKING:
    from greenlight_local.moto_server import MotoServer

FUNCTIONS = ("submit", "callback", "poll", "enforce")


def fake_session_token(length: int = 1100) -> str:
    """A stand-in for a Lambda role's session token: presigned URLs carry it, so they are as long."""
    alphabet = string.ascii_letters + string.digits + "+/"
    return "IQoJb3JpZ2luX2Vj" + "".join(secrets.choice(alphabet) for _ in range(length - 16))


@dataclass
class PipelineOptions:
    workdir: Path = ROOT / ".local" / "run"
    parameters: dict[str, str] = field(default_factory=dict)  # template parameters
    submit_instances: int = 2
    callback_instances: int = 2
    scan_mode: str = "async"
    timeout: float = 30.0  # function timeout (template: 60 s)
    timeouts: dict[str, float] = field(default_factory=dict)  # per function, instead of `timeout`
    time_reserve: float = 3.0  # TIME_RESERVE_SECONDS (template default: 5 s)
    lease: float = 36.0  # LEASE_SECONDS (template: 90 s)
    visibility_timeout: float = 45.0  # queue visibility: how soon failed or lost batches come back (template: 360 s)
    batch_window: float = 2.0  # cap on the template's batching window (template: 5 s)
    poll_interval: float = 2.0  # the schedule (template: 1 minute)
    poll_grace: float = 2.0  # POLL_GRACE_SECONDS (template: 60 s)
    recheck: float = 1.0  # POLL_RECHECK_SECONDS (template: 30 s)
    poll_batch_window: float = 4.0  # POLL_BATCH_WINDOW_SECONDS (template: 30 s)
    resubmit_after: float = 60.0  # RESUBMIT_AFTER_SECONDS (template: 2,700 s)
    recovery_backoff: float = 2.0  # RECOVERY_BACKOFF_SECONDS (template: 60 s)
    session_token: bool = True  # sign URLs with a role-like session token (long URLs, as in Lambda)
    faults: dict[str, Any] = field(default_factory=lambda: {"processing_delay": 0.5})
    emulator: dict[str, Any] = field(default_factory=lambda: {"callback_retry_delay": 0.5})
    extra_env: dict[str, str] = field(default_factory=dict)  # more settings of the functions' own variables
    # Called once the stack exists, before any function starts: may add resources and returns more
    # settings (like extra_env), e.g. BUCKET_NAMES with a bucket it created.
    with_stack: Callable[[LocalStack], Mapping[str, str]] | None = None
    # A fault plan for the function hosts (greenlight_local.fault_hooks), passed as GREENLIGHT_FAULTS.
    host_faults: Path | None = None


class LocalPipeline:
    def __init__(self, options: PipelineOptions | None = None) -> None:
        self.options = options or PipelineOptions()
        self.workdir = self.options.workdir
        self.moto: MotoServer | None = None
        self.emulator: RunningEmulator | None = None
        self.stack: LocalStack | None = None
        self.hosts: dict[str, list[subprocess.Popen[bytes]]] = {name: [] for name in FUNCTIONS}
        self.state_file = self.workdir / "state.json"
        self.secret_values: dict[str, str] = {}
        self.callback_port = 0
        self._hosts_lock = threading.Lock()
        self._paused: set[tuple[str, int]] = set()
        self._stack_settings: dict[str, str] = {}
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalPipeline:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)
        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1"})
        os.environ.pop("AWS_SESSION_TOKEN", None)
        self._start_moto()
        self._start_emulator()
        assert self.emulator is not None
        # Uploads flow at once here (the keys are filled below); in AWS, set-up turns ProcessUploads on.
        self.stack = create_stack(self.moto_url, parameters={"ProcessUploads": "true", **self.options.parameters})
        if self.options.with_stack is not None:
            self._stack_settings = dict(self.options.with_stack(self.stack))
        self._fill_secret()
        self.callback_port = free_port()
        self.state_file.write_text(json.dumps(self._state(), indent=2), encoding="utf-8")
        for _ in range(self.options.callback_instances):
            self.start_host("callback")
        wait_until(self._callback_ready, timeout=30, what="the local HTTP API")
        for _ in range(self.options.submit_instances):
            self.start_host("submit")
        self.start_host("poll")
        self.start_host("enforce")
        self._monitor = threading.Thread(target=self._restart_dead_hosts, daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        with self._hosts_lock:
            terminate(*(process for processes in self.hosts.values() for process in processes))
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def _start_moto(self) -> None:
        from greenlight_local.moto_server import MotoServer

        self.moto = MotoServer(self.workdir / "logs" / "moto.log")
        self.moto_url = self.moto.url

    def _start_emulator(self) -> None:
        key_id = "LTAI" + secrets.token_hex(8)
        self.secret_values = {
            "access_key_id": key_id,
            "access_key_secret": secrets.token_urlsafe(24),
            "uid": str(secrets.randbelow(9 * 10**15) + 10**15),
        }
        faults = Faults().with_changes(self.options.faults)
        config = EmulatorConfig(port=0, access_key_id=key_id,
                                access_key_secret=self.secret_values["access_key_secret"],
                                uid=self.secret_values["uid"], faults=faults, **self.options.emulator)
        self.emulator = start_emulator(config)

    def _fill_secret(self) -> None:
        """Put the throwaway keys in the stack's secret, as an operator does after deploying."""
        assert self.stack is not None
        self.secret_values = self.stack.update_secret(**self.secret_values, callback_token=secrets.token_urlsafe(32))

    def _state(self) -> dict[str, Any]:
        assert self.stack is not None and self.emulator is not None
        options = self.options
        settings = {
            "SCAN_MODE": options.scan_mode,
            "LEASE_SECONDS": str(int(options.lease)),
            "POLL_GRACE_SECONDS": str(int(options.poll_grace)),
            "POLL_RECHECK_SECONDS": str(max(1, int(options.recheck))),
            "POLL_BATCH_WINDOW_SECONDS": str(int(options.poll_batch_window)),
            "RESUBMIT_AFTER_SECONDS": str(int(options.resubmit_after)),
            "RECOVERY_BACKOFF_SECONDS": str(max(1, int(options.recovery_backoff))),
            # The stack-wide Green budget is shared by the instances that really run here.
            "GREEN_CONCURRENCY": str(options.submit_instances + 1),
            **options.extra_env,
            **self._stack_settings,
        }
        # The template gives no function TIME_RESERVE_SECONDS (the code's default, 5 s, applies in AWS), so
        # settings would drop it: it is set on the process, like PYTHONPATH.
        process = {"PYTHONPATH": pythonpath(), "TIME_RESERVE_SECONDS": str(options.time_reserve)}
        if options.session_token:
            process["AWS_SESSION_TOKEN"] = fake_session_token()
        state = self.stack.to_json()
        for name, function in state["functions"].items():
            function["environment"] = function_environment(
                self.stack, name, green_endpoint=self.emulator.url, settings=settings, process=process,
                callback_url=f"http://127.0.0.1:{self.callback_port}/callback")
        for name, seconds in options.timeouts.items():  # e.g. the poller's longer timeout, as in the template
            if name in state["functions"]:
                state["functions"][name]["local"] = {"timeout": seconds}
        # The template's parameters in force, for tools that read the state file (the `greenlight` CLI).
        state["parameters"] = {name: str(self.stack.resolver.values[name])
                               for name in (self.stack.resolver.template.get("Parameters") or {})}
        state["local"] = {
            "timeout": options.timeout, "visibility_timeout": options.visibility_timeout,
            "batch_window": options.batch_window,
            "poll_interval": options.poll_interval, "callback_port": self.callback_port,
        }
        return state

    def start_host(self, function: str) -> None:
        with self._hosts_lock:
            self.hosts[function].append(self._spawn(function, len(self.hosts[function])))

    def _spawn(self, function: str, index: int) -> subprocess.Popen[bytes]:
        log = open(self.workdir / "logs" / f"{function}-{index}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "PYTHONPATH": pythonpath()}
        if self.options.host_faults is not None:
            env["GREENLIGHT_FAULTS"] = str(self.options.host_faults)
        return subprocess.Popen(
            [sys.executable, "-m", "greenlight_local.lambda_host", "--state", str(self.state_file),
             "--function", function, "--index", str(index)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )

    def kill_host(self, function: str, index: int = 0) -> None:
        """SIGKILL one host (no cleanup, like a Lambda runtime dying mid-invocation) and start another."""
        with self._hosts_lock:
            process = self.hosts[function][index]
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            self.hosts[function][index] = self._spawn(function, index)

    def pause_host(self, function: str, index: int = 0) -> None:
        """Stop one host (SIGTERM: it finishes the invocation in progress) and keep it stopped, as when
        a function's trigger is disabled or its invocations are throttled away, until resume_host."""
        with self._hosts_lock:
            self._paused.add((function, index))
            process = self.hosts[function][index]
        terminate(process)

    def resume_host(self, function: str, index: int = 0) -> None:
        with self._hosts_lock:
            self._paused.discard((function, index))
            if self.hosts[function][index].poll() is not None:
                self.hosts[function][index] = self._spawn(function, index)

    def _restart_dead_hosts(self) -> None:
        """A host whose invocation timed out ends itself, like a Lambda sandbox; start a new one."""
        while not self._stopping.wait(0.5):
            with self._hosts_lock:
                for function, processes in self.hosts.items():
                    for index, process in enumerate(processes):
                        if (process.poll() is not None and not self._stopping.is_set()
                                and (function, index) not in self._paused):
                            processes[index] = self._spawn(function, index)

    def _callback_ready(self) -> bool:
        try:
            requests.get(f"http://127.0.0.1:{self.callback_port}/", timeout=1)
            return True
        except requests.RequestException:
            return False

    # -- use --------------------------------------------------------------------------------------

    @property
    def store(self) -> DynamoVerdictStore:
        assert self.stack is not None
        return DynamoVerdictStore(self.stack.client("dynamodb"), self.stack.table)

    def upload(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> dict[str, Any]:
        assert self.stack is not None
        s3 = self.stack.client("s3")
        return dict(s3.put_object(Bucket=self.stack.bucket, Key=key, Body=body, ContentType=content_type))

    def records(self) -> list[VerdictRecord]:
        assert self.stack is not None
        return all_records(self.stack)

    def wait_for(self, check: Callable[[list[VerdictRecord]], bool], *, timeout: float,
                 what: str) -> list[VerdictRecord]:
        result: list[VerdictRecord] = []

        def probe() -> bool:
            nonlocal result
            result = self.records()
            return check(result)

        wait_until(probe, timeout=timeout, interval=0.5, what=what)
        return result

    def queue_depths(self) -> dict[str, int]:
        assert self.stack is not None
        sqs = self.stack.client("sqs")
        depths = {}
        for name, url in (("queue", self.stack.queue_url), ("dlq", self.stack.dlq_url),
                          ("event_dlq", self.stack.event_dlq_url)):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"])
            depths[name + "_in_flight"] = int(attributes["ApproximateNumberOfMessagesNotVisible"])
        return depths

    def metric_totals(self) -> dict[str, float]:
        """Sum of every metric the functions emitted (from the EMF blobs in their logs)."""
        totals: dict[str, float] = {}
        for _, line in self.logs():
            if not line.startswith('{"_aws"'):
                continue
            try:
                blob = json.loads(line)
            except ValueError:
                continue
            for directive in blob["_aws"].get("CloudWatchMetrics", []):
                for metric in directive.get("Metrics", []):
                    values = blob.get(metric["Name"], [])
                    totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                        values if isinstance(values, list) else [values])
        return totals

    def logs(self) -> Iterator[tuple[str, str]]:
        """(file name, line) for every line the functions logged."""
        for path in sorted((self.workdir / "logs").glob("*.log")):
            if path.name == "moto.log":
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                yield path.name, line
