"""Submitting uploads in this process: greenlight's submit handler, and the per-image SDK baseline.

One stack is filled with images and their queue messages received once (untimed); every run then
submits those same messages into a table of its own (stacks.clone_table), so repeats start from no
records without uploading again. Only the submitting is timed.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.environments import bench_environment, environ, quota_share, stdout_to
from greenlight_local.bench.harness import Shared
from greenlight_local.bench.services import isolated_green
from greenlight_local.bench.stacks import clone_table, handler_module, lambda_batches, prepared_stack
from greenlight_local.context import LambdaContext

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench
    from greenlight_local.stack import LocalStack

UNPACED = {"GREEN_MAX_RPS": "1000", "GREEN_CONCURRENCY": "1"}  # a budget share pacing never waits for


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


@dataclass
class Uploads:
    """A stack with images uploaded and their S3 events received, for repeated submit runs."""

    stack: LocalStack
    messages: list[dict[str, Any]]
    runs: int = 0

    def table(self) -> str:
        self.runs += 1
        return clone_table(self.stack, f"r{self.runs}")


def _uploads(bench: Bench) -> Uploads:
    stack, _, messages = prepared_stack(bench, bench.config.uploads, "submit")
    return Uploads(stack, messages)


UPLOADS: Shared[Uploads] = Shared("submit-uploads", _uploads)


def uploads(bench: Bench) -> Uploads:
    return UPLOADS.get(bench)


def new_container(module: ModuleType) -> None:
    """What a new Lambda container starts with: the handler's dependencies and the layer's boto3
    clients are built again on first use."""
    from greenlight.aws.clients import aws_client, s3_client_for_key

    module.dependencies.override(None)
    aws_client.cache_clear()
    s3_client_for_key.cache_clear()


def count_states(stack: LocalStack, table: str) -> dict[str, int]:
    from collections import Counter

    from greenlight.aws.dynamo_writes import record_from_item

    states: Counter[str] = Counter()
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        states.update(record_from_item(i).state.value for i in page["Items"] if i["id"]["S"].startswith("v-"))
    return dict(states)


def run_ours(bench: Bench, count: int, *, settings: Mapping[str, str] | None = None, profiler: Any = None) -> SubmitRun:
    """submit_handler.lambda_handler on `count` of the uploads in batches of 100, into a table of its
    own, in a new container (clients, secret and settings built inside the timing). `profiler` (a
    cProfile.Profile) is enabled around the handler invocations only."""
    emulator = bench.services.emulator()
    found = uploads(bench)
    stack, table = found.stack, found.table()
    events = lambda_batches(stack, found.messages[:count])
    env = bench_environment(stack, "submit", green_endpoint=emulator.url, session_token=bench.session_token(),
                            settings={"TABLE_NAME": table, **(settings or {})})
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
    run = SubmitRun(count, seconds, scans, failures, count_states(stack, table), quota_share(env))
    OURS.get(bench).append(run)
    return run


def run_naive(bench: Bench, count: int, *, results: bool = False) -> NaiveRun:
    """The per-image SDK loop on `count` of the uploads, into a table of its own; with `results`, then
    one results call per image (counted, for the requests figure)."""
    from greenlight_local.bench.naive import NaiveSubmitter

    emulator = bench.services.emulator()
    found = uploads(bench)
    stack, table = found.stack, found.table()
    records = [record for event in lambda_batches(stack, found.messages[:count]) for record in event["Records"]]
    calls = emulator.stats()["calls"]
    with isolated_green(emulator):
        started = time.perf_counter()
        naive = NaiveSubmitter(endpoint=stack.endpoint, region=stack.region, session_token=bench.session_token(),
                               table=table, secret_id=stack.secret_ids["GreenSecret"], green_port=emulator.port)
        task_ids = [naive.submit(record["body"]) for record in records]
        seconds = time.perf_counter() - started
        after_submit = emulator.stats()["calls"]
        result_seconds = 0.0
        if results:
            # One results call per image, as the samples do, asked once each: the baseline's best case
            # (a real loop asks again about a task still processing).
            started = time.perf_counter()
            for task_id in task_ids:
                naive.result(task_id)
            result_seconds = time.perf_counter() - started
    after = emulator.stats()["calls"]
    submit = SubmitRun(count, seconds, after_submit["asyncscan"] - calls["asyncscan"], 0, {"PENDING": len(task_ids)})
    return NaiveRun(submit, after["results"] - after_submit["results"], result_seconds, naive.timings)


OURS: Shared[list[SubmitRun]] = Shared("ours", lambda bench: [])  # every run_ours, in order
NAIVE: Shared[NaiveRun] = Shared("naive", lambda bench: run_naive(bench, bench.config.uploads, results=True))


def rates(runs: Sequence[SubmitRun]) -> tuple[float, ...]:
    return tuple(run.rate for run in runs)
