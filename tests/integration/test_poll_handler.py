"""The poll handler end to end: the verdict table on moto, presigned S3 URLs and the Green emulator.

The poller's decisions (rechecks, rescans, give-ups, recoveries, the batch window and limit) are
tested on fakes in tests/unit/test_poll_logic.py; these prove the real adapters carry them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import poll_handler
import submit_handler
from green_emulator import RunningEmulator, make_image
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_local.processes import wait_until
from greenlight_local.stack import LocalStack, all_records
from integration.aws_helpers import load_event, receive_sqs_event, upload

pytestmark = pytest.mark.integration
SCHEDULE = load_event("poll/sam-scheduled-event.json")


def records(stack: LocalStack) -> dict[str, VerdictRecord]:
    return {r.key: r for r in all_records(stack)}


def submit(stack: LocalStack, function_env: Callable[..., None], context: Callable[..., Any],
           keys: list[str]) -> None:
    """Upload `keys` and run the submit handler on their queue messages (no callback URL: only the
    poller can record the verdicts)."""
    function_env("submit", POLL_GRACE_SECONDS="0")
    for index, key in enumerate(keys):
        upload(stack, key, make_image(seed=index))
    assert submit_handler.lambda_handler(receive_sqs_event(stack, len(keys)), context()) == {"batchItemFailures": []}
    assert all(r.state is State.PENDING for r in records(stack).values())


def poll(function_env: Callable[..., None], context: Callable[..., Any], seconds: float = 30, **env: str) -> Any:
    function_env("poll", **{"POLL_RECHECK_SECONDS": "1", "POLL_GRACE_SECONDS": "0", "POLL_BATCH_WINDOW_SECONDS": "0",
                            **env})
    return poll_handler.lambda_handler(SCHEDULE, context(seconds=seconds))


def test_submitted_images_reach_final_through_the_poller(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    emulator.set_faults(processing_delay=3.0)
    submit(stack, function_env, context, ["p1.png", "p2.png"])

    # Right after submission the emulator is still processing: asked, nothing finished yet
    first = poll(function_env, context)

    assert (first["due"], first["asked"], first["requests"], first["finished"]) == (2, 2, 1, 0)
    assert all(r.state is State.PENDING and r.last_code == 280 for r in records(stack).values())

    wait_until(lambda: poll(function_env, context) is not None
               and all(r.state is State.FINAL for r in records(stack).values()),
               timeout=15, interval=0.5, what="poll to record the verdicts")
    final = records(stack)
    assert all(r.source == "poll" and r.suggestion and r.scenes and r.due_at is None for r in final.values())
    assert emulator.stats()["calls"]["results"] >= 2


def test_a_task_the_emulator_forgot_is_scanned_again_with_a_fresh_url(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Green forgets every finished task at once (as after its 1-hour retention)
    emulator.set_faults(expire_rate=1.0, processing_delay=0.0)
    submit(stack, function_env, context, ["lost.png"])
    original = records(stack)["lost.png"]
    wait_until(lambda: emulator.stats()["faults"].get("expire") == 1, timeout=10, what="the task to be forgotten")
    emulator.set_faults(expire_rate=0.0)

    summary = poll(function_env, context)

    assert summary["rescanned"] == 1
    again = records(stack)["lost.png"]
    assert again.state is State.PENDING and again.reason == "green_594"
    assert again.attempts == 2 and again.task_id not in (None, original.task_id)
    assert again.task_ids == {original.task_id, again.task_id}
    assert [h["to"] for h in again.history] == ["RECEIVED", "PENDING", "PENDING"]
    assert again.url_expires_at and original.url_expires_at and again.url_expires_at >= original.url_expires_at

    # The emulator keeps it this time (it downloads the fresh URL): the next polls record the verdict
    wait_until(lambda: poll(function_env, context) is not None and records(stack)["lost.png"].state is State.FINAL,
               timeout=15, interval=0.5, what="the verdict after the rescan")
    stats = emulator.stats()
    assert (stats["calls"]["asyncscan"], stats["downloads"]) == (2, 2)  # the fresh URL was fetched


def test_with_no_time_left_the_handler_stops_without_asking_green(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # The handler turns the Lambda context's remaining milliseconds into the logic's budget in seconds
    submit(stack, function_env, context, ["budget.png"])

    summary = poll(function_env, context, seconds=3, TIME_RESERVE_SECONDS="5")

    assert summary["stopped_early"] is True
    assert emulator.stats()["calls"]["results"] == 0
    assert records(stack)["budget.png"].state is State.PENDING
