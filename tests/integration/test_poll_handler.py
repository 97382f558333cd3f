"""The poll handler: results for pending records, rescans of lost tasks, bounded work."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_helpers import load_event, receive_sqs_event, upload

import poll_handler
import submit_handler
from green_emulator import RunningEmulator, make_image
from greenlight.states import State
from greenlight.store import VerdictRecord, VerdictStore
from greenlight_local.processes import wait_until
from greenlight_local.stack import LocalStack

pytestmark = pytest.mark.integration
SCHEDULE = load_event("poll/sam-scheduled-event.json")


def records(stack: LocalStack) -> dict[str, VerdictRecord]:
    return {r.key: r for r in VerdictStore(stack.client("dynamodb"), stack.table).scan_all()}


def submit(stack: LocalStack, function_env: Callable[..., None], context: Callable[..., Any],
           keys: list[str]) -> None:
    function_env("submit", POLL_GRACE_SECONDS="0")
    for index, key in enumerate(keys):
        upload(stack, key, make_image(seed=index))
    assert submit_handler.lambda_handler(receive_sqs_event(stack, len(keys)), context()) == {"batchItemFailures": []}


def poll(function_env: Callable[..., None], context: Callable[..., Any], seconds: float = 30, **env: str) -> Any:
    function_env("poll", **{"POLL_RECHECK_SECONDS": "1", "POLL_GRACE_SECONDS": "0", "POLL_BATCH_WINDOW_SECONDS": "0",
                            **env})
    return poll_handler.lambda_handler(SCHEDULE, context(seconds=seconds))


def test_processing_tasks_stay_pending_then_the_verdict_is_recorded(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    emulator.set_faults(processing_delay=1.5)
    submit(stack, function_env, context, ["p1.png", "p2.png"])

    first = poll(function_env, context)

    assert (first["asked"], first["processing"], first["finished"]) == (2, 2, 0)
    assert all(r.state is State.PENDING for r in records(stack).values())

    def finished() -> bool:
        summary = poll(function_env, context)
        return bool(summary["finished"]) or all(r.state is State.FINAL for r in records(stack).values())

    wait_until(finished, timeout=15, interval=0.5, what="poll to record the verdicts")
    final = records(stack)
    assert all(r.state is State.FINAL and r.source == "poll" for r in final.values())
    assert emulator.stats()["calls"]["results"] >= 2


def test_an_expired_task_is_scanned_again_with_a_fresh_url(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Green forgets every finished task at once (as after its 1-hour retention)
    emulator.set_faults(expire_rate=1.0, processing_delay=0.0)
    submit(stack, function_env, context, ["lost.png"])
    original = records(stack)["lost.png"]
    wait_until(lambda: emulator.stats()["faults"].get("expire") == 1, timeout=10, what="the task to be forgotten")
    emulator.set_faults(expire_rate=0.0)

    summary = poll(function_env, context)

    assert summary["resubmitted"] == 1
    again = records(stack)["lost.png"]
    assert again.state is State.PENDING
    assert again.attempts == 2 and again.task_id != original.task_id
    assert again.task_ids == {original.task_id, again.task_id}
    assert again.reason == "green_594"
    assert [h["to"] for h in again.history] == ["RECEIVED", "PENDING", "PENDING"]

    # Green keeps it this time: the next poll records the verdict
    wait_until(lambda: poll(function_env, context) and records(stack)["lost.png"].state is State.FINAL,
               timeout=15, interval=0.5, what="the verdict after the rescan")


def test_after_the_last_attempt_the_record_is_an_error_with_the_reason(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    emulator.set_faults(download_failure_rate=1.0, processing_delay=0.0)
    submit(stack, function_env, context, ["never.png"])

    def settled() -> bool:
        poll(function_env, context, MAX_SCAN_ATTEMPTS="2")
        return records(stack)["never.png"].state is State.ERROR

    wait_until(settled, timeout=20, interval=0.3, what="the record to give up")
    record = records(stack)["never.png"]
    assert record.reason == "gave_up_after_green_480"
    assert record.attempts == 2


def test_a_run_handles_at_most_its_batch_limit_and_the_rest_stay_due(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    emulator.set_faults(processing_delay=0.0)
    submit(stack, function_env, context, [f"many/{i}.png" for i in range(5)])
    time.sleep(0.3)  # lets the emulator finish the five downloads; the assertions below do not depend on it

    first = poll(function_env, context, POLL_BATCH_LIMIT="3")
    second = poll(function_env, context, POLL_BATCH_LIMIT="3")

    assert first["due"] == 3 and second["due"] <= 3
    wait_until(lambda: poll(function_env, context, POLL_BATCH_LIMIT="3") is not None
               and all(r.state is State.FINAL for r in records(stack).values()),
               timeout=15, interval=0.3, what="every record final")


def test_with_no_time_left_the_run_stops_without_asking_green(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    submit(stack, function_env, context, ["budget.png"])

    summary = poll(function_env, context, seconds=3)

    assert summary["stopped_early"] is True
    assert emulator.stats()["calls"]["results"] == 0
    assert records(stack)["budget.png"].state is State.PENDING


def test_a_partial_request_waits_for_the_batch_window(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    emulator.set_faults(processing_delay=0.0)
    submit(stack, function_env, context, ["w1.png", "w2.png", "w3.png"])

    waiting = poll(function_env, context, POLL_BATCH_WINDOW_SECONDS="60")

    # Three due records are fewer than a full request of 100: they wait, and Green is not asked
    assert (waiting["deferred"], waiting["asked"], waiting["requests"]) == (3, 0, 0)
    assert emulator.stats()["calls"]["results"] == 0

    # Once the oldest has been due for the window (here: a window of 0), one request asks for all
    asked = poll(function_env, context, POLL_BATCH_WINDOW_SECONDS="0")
    assert (asked["deferred"], asked["asked"], asked["requests"]) == (0, 3, 1)
