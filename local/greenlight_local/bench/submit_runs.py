"""Submitting uploads in this process: greenlight's submit handler, and the per-image SDK baseline.

Both start from a fresh stack with the images uploaded and their queue messages received (untimed),
and time only the submitting. The throughput, requests and memory figures and the submit profile
read these runs.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.environments import bench_environment, environ, quota_share, stdout_to
from greenlight_local.bench.harness import Shared
from greenlight_local.bench.services import isolated_green
from greenlight_local.bench.stacks import count_states, handler_module, lambda_batches, prepared_stack
from greenlight_local.context import LambdaContext

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench


@dataclass
class SubmitRun:
    images: int
    seconds: float
    scan_requests: int
    failures: int
    states: dict[str, int]
    quota_share: float | None = None  # images a second the client paces itself to (None: no pacing)

    @property
    def rate(self) -> float:
        return self.images / self.seconds


@dataclass
class NaiveRun:
    submit: SubmitRun
    result_requests: int
    result_seconds: float
    timings: dict[str, list[float]]


def new_container(module: ModuleType) -> None:
    """What a new Lambda container starts with: the handler's dependencies and the layer's boto3
    clients are built again on first use."""
    from greenlight.aws.clients import aws_client, s3_client_for_key

    module.dependencies.override(None)
    aws_client.cache_clear()
    s3_client_for_key.cache_clear()


def run_ours(bench: Bench, count: int, profiler: Any = None) -> SubmitRun:
    """submit_handler.lambda_handler on `count` uploads in batches of 100, in a new container (clients,
    secret and settings built inside the timing). `profiler` (a cProfile.Profile) is enabled around
    the handler invocations only."""
    emulator = bench.services.emulator()
    stack, _, messages = prepared_stack(bench, count, "ours")
    events = lambda_batches(stack, messages)
    env = bench_environment(stack, "submit", green_endpoint=emulator.url, session_token=bench.session_token())
    spec = stack.functions["submit"]
    module = handler_module(bench, stack, "submit")  # Lambda's init phase: not part of the timing
    before = emulator.calls("asyncscan")
    failures = 0
    with environ(env), stdout_to(bench.log), warnings.catch_warnings():
        # Powertools flushes a metric by itself once it holds 100 values; a batch of exactly 100 then
        # ends with nothing left to flush, and log_metrics warns about that. Not a result.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        new_container(module)
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        for event in events:
            response = module.lambda_handler(event, LambdaContext(spec.logical_id, spec.timeout))
            failures += len(response["batchItemFailures"])
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        new_container(module)  # nothing built with this stack's environment outlives it
    scans = emulator.calls("asyncscan") - before
    return SubmitRun(count, seconds, scans, failures, count_states(stack), quota_share(env))


def run_naive(bench: Bench, count: int) -> NaiveRun:
    """The per-image SDK loop on `count` uploads, then one results call per image."""
    from greenlight_local.bench.naive import NaiveSubmitter

    emulator = bench.services.emulator()
    stack, _, messages = prepared_stack(bench, count, "naive")
    events = lambda_batches(stack, messages)
    calls = emulator.stats()["calls"]
    with isolated_green(emulator):
        started = time.perf_counter()
        naive = NaiveSubmitter(endpoint=stack.endpoint, region=stack.region, session_token=bench.session_token(),
                               table=stack.table, secret_id=stack.secret_ids["GreenSecret"],
                               green_port=emulator.port)
        task_ids = [naive.submit(record["body"]) for event in events for record in event["Records"]]
        seconds = time.perf_counter() - started
        after_submit = emulator.stats()["calls"]
        # One results call per image, as the samples do, asked once each: the baseline's best case
        # (a real loop asks again about a task still processing).
        started = time.perf_counter()
        for task_id in task_ids:
            naive.result(task_id)
        result_seconds = time.perf_counter() - started
    after = emulator.stats()["calls"]
    submit = SubmitRun(count, seconds, after_submit["asyncscan"] - calls["asyncscan"], 0, {"PENDING": len(task_ids)})
    return NaiveRun(submit, after["results"] - after_submit["results"], result_seconds, naive.timings)


NAIVE = Shared("naive", lambda bench: run_naive(bench, bench.config.uploads))
