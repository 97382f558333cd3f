"""The submit handler against moto server (real S3 -> EventBridge -> SQS events) and the Green emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_helpers import load_event, receive_sqs_event, upload

import submit_handler
from green_emulator import RunningEmulator, make_image
from greenlight.events import parse_message
from greenlight.states import State
from greenlight.store import VerdictStore
from greenlight_local.stack import LocalStack

pytestmark = pytest.mark.integration

BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.1}]


def store_of(stack: LocalStack) -> VerdictStore:
    return VerdictStore(stack.client("dynamodb"), stack.table)


def by_key(stack: LocalStack) -> dict[str, Any]:
    return {r.key: r for r in store_of(stack).scan_all()}


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def test_images_are_submitted_in_one_request_and_recorded_pending(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Given three uploads whose events went S3 -> EventBridge rule -> SQS in moto
    function_env("submit")
    upload(stack, "a.png", make_image(seed=1))
    upload(stack, "dir/b c.jpg", make_image(BLOCK, fmt="JPEG", seed=2), "image/jpeg")
    upload(stack, "ünï côde.png", make_image(seed=3))
    event = receive_sqs_event(stack, 3)

    # When the submit handler gets the batch
    response = submit_handler.lambda_handler(event, context())

    # Then nothing is retried, Green got one async scan with three tasks, and each object is PENDING
    assert response == {"batchItemFailures": []}
    stats = emulator.stats()
    assert stats["calls"]["asyncscan"] == 1
    assert stats["tasks_submitted"] == 3
    records = by_key(stack)
    assert set(records) == {"a.png", "dir/b c.jpg", "ünï côde.png"}
    for record in records.values():
        assert record.state is State.PENDING
        assert record.task_id and record.task_id in record.task_ids
        assert record.attempts == 1
        assert record.size and record.content_type and record.url_expires_at
        assert [h["to"] for h in record.history] == ["RECEIVED", "PENDING"]


def test_objects_green_cannot_take_are_skipped_with_a_reason_and_not_sent(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, "notes.txt", b"plain text", "text/plain")
    upload(stack, "fake.jpg", b"<html>not a jpeg</html>", "image/jpeg")
    upload(stack, "empty.png", b"", "image/png")
    upload(stack, "folder/", b"", "application/x-directory")
    event = receive_sqs_event(stack, 4)

    response = submit_handler.lambda_handler(event, context())

    assert response == {"batchItemFailures": []}
    assert emulator.stats()["calls"]["asyncscan"] == 0
    reasons = {key: (r.state, r.reason) for key, r in by_key(stack).items()}
    assert reasons == {
        "notes.txt": (State.SKIPPED, "not_an_image"),
        "fake.jpg": (State.SKIPPED, "not_an_image"),
        "empty.png": (State.SKIPPED, "zero_bytes"),
        "folder/": (State.SKIPPED, "folder_marker"),
    }
    notes = by_key(stack)["notes.txt"]
    assert (notes.size, notes.content_type, notes.source) == (10, "text/plain", "submit")


def test_a_duplicate_event_submits_nothing_new(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, "once.png", make_image(seed=5))
    event = receive_sqs_event(stack, 1)
    submit_handler.lambda_handler(event, context())
    before = by_key(stack)["once.png"]

    # S3 delivers the same event again (at-least-once)
    response = submit_handler.lambda_handler(event, context())

    assert response == {"batchItemFailures": []}
    assert emulator.stats()["tasks_submitted"] == 1
    after = by_key(stack)["once.png"]
    assert (after.rev, after.task_id, after.state) == (before.rev, before.task_id, State.PENDING)


def test_throttling_fails_only_the_scannable_records_and_releases_their_leases(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    emulator.set_faults(throttle_rate=1.0)
    upload(stack, "ok.png", make_image(seed=6))
    upload(stack, "text.txt", b"words", "text/plain")
    event = receive_sqs_event(stack, 2)
    message_for = {json.loads(r["body"])["detail"]["object"]["key"]: r["messageId"] for r in event["Records"]}

    response = submit_handler.lambda_handler(event, context(seconds=20))

    # The image's message is retried later; the text file is final and acknowledged
    assert failed_ids(response) == {message_for["ok.png"]}
    records = by_key(stack)
    assert records["text.txt"].state is State.SKIPPED
    assert records["ok.png"].state is State.RECEIVED
    assert records["ok.png"].lease_until == 0  # released: the redelivery can claim it at once
    assert emulator.stats()["calls"]["asyncscan"] >= 2  # the client retried within the budget

    # When Green recovers, the redelivered message gets the image scanned
    emulator.set_faults(throttle_rate=0.0)
    retried = {"Records": [r for r in event["Records"] if r["messageId"] == message_for["ok.png"]]}
    assert submit_handler.lambda_handler(retried, context()) == {"batchItemFailures": []}
    assert by_key(stack)["ok.png"].state is State.PENDING


def test_more_than_100_images_take_two_requests(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    image = make_image(seed=7)
    for index in range(130):
        upload(stack, f"bulk/{index:03d}.png", image)
    event = receive_sqs_event(stack, 130, timeout=30)

    response = submit_handler.lambda_handler(event, context(seconds=60))

    assert response == {"batchItemFailures": []}
    stats = emulator.stats()
    assert stats["calls"]["asyncscan"] == 2
    assert stats["tasks_submitted"] == 130
    assert sum(1 for r in by_key(stack).values() if r.state is State.PENDING) == 130


def test_no_time_left_leaves_every_message_for_redelivery_untouched(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, "late.png", make_image(seed=8))
    event = receive_sqs_event(stack, 1)

    response = submit_handler.lambda_handler(event, context(seconds=2))

    assert failed_ids(response) == {event["Records"][0]["messageId"]}
    assert by_key(stack) == {}
    assert emulator.stats()["calls"]["asyncscan"] == 0


def test_sync_mode_records_the_verdict_at_once(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit", SCAN_MODE="sync")
    upload(stack, "now.png", make_image(BLOCK, seed=9))
    event = receive_sqs_event(stack, 1)

    assert submit_handler.lambda_handler(event, context()) == {"batchItemFailures": []}

    record = by_key(stack)["now.png"]
    assert (record.state, record.suggestion, record.source) == (State.FINAL, "block", "sync")
    assert record.scenes["porn"] == {"label": "porn", "suggestion": "block", "rate": 99.1}
    assert emulator.stats()["calls"]["scan"] == 1


def test_a_url_over_2048_characters_is_skipped_not_sent(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the role's session token in the URL (as in Lambda) and a long key
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2Vj" + "A" * 1100)
    function_env("submit")
    key = "deep/" + "k" * 900 + ".png"
    upload(stack, key, make_image(seed=10))
    event = receive_sqs_event(stack, 1)

    assert submit_handler.lambda_handler(event, context()) == {"batchItemFailures": []}

    record = by_key(stack)[key]
    assert (record.state, record.reason) == (State.SKIPPED, "url_too_long")
    assert emulator.stats()["calls"]["asyncscan"] == 0


def test_a_newer_version_supersedes_the_pending_older_one(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    first = upload(stack, "same.png", make_image(seed=11))
    submit_handler.lambda_handler(receive_sqs_event(stack, 1), context())
    second = upload(stack, "same.png", make_image(BLOCK, seed=12))

    submit_handler.lambda_handler(receive_sqs_event(stack, 1), context())

    versions = {r.version_id: r for r in store_of(stack).scan_all()}
    assert versions[first["VersionId"]].state is State.SUPERSEDED
    assert versions[first["VersionId"]].reason == "newer_version_uploaded"
    assert versions[second["VersionId"]].state is State.PENDING


def test_an_older_event_arriving_late_is_recorded_superseded_and_not_sent(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, "order.png", make_image(seed=13))
    upload(stack, "order.png", make_image(seed=14))
    event = receive_sqs_event(stack, 2)
    records = sorted(event["Records"], key=lambda r: json.loads(r["body"])["detail"]["object"]["sequencer"])

    # The newer event is handled first, the older one after it
    submit_handler.lambda_handler({"Records": [records[1]]}, context())
    submit_handler.lambda_handler({"Records": [records[0]]}, context())

    states = sorted(r.state.value for r in store_of(stack).scan_all())
    assert states == ["PENDING", "SUPERSEDED"]
    assert emulator.stats()["tasks_submitted"] == 1


@pytest.mark.parametrize("name", ["submit/s3-test-event.json", "submit/sam-sqs-receive-message.json",
                                  "submit/mixed-batch.json", "submit/sam-s3-put.json",
                                  "submit/eventbridge-object-created.json", "submit/s3-notification.json"])
def test_events_files_are_handled_without_retries(
        name: str, stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # These name a bucket that is not the stack's, or announce nothing to scan: acknowledged, nothing sent
    function_env("submit")

    response = submit_handler.lambda_handler(load_event(name), context())

    assert response == {"batchItemFailures": []}
    assert emulator.stats()["calls"]["asyncscan"] == 0
    assert store_of(stack).scan_all() == []


def test_an_event_whose_etag_no_longer_matches_the_object_is_superseded(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # The events/ payload names bucket greenlight-uploads, key "photos/red flower+1.jpg" (URL-encoded) and
    # an ETag; the object there now has other content (overwritten since, in an unversioned bucket)
    function_env("submit", BUCKET_NAMES="greenlight-uploads")
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="greenlight-uploads")
    s3.put_object(Bucket="greenlight-uploads", Key="photos/red flower+1.jpg", Body=b"not really a jpeg")
    event = load_event("submit/eventbridge-object-created.json")

    assert submit_handler.lambda_handler(event, context()) == {"batchItemFailures": []}

    records = store_of(stack).scan_all()
    assert [(r.key, r.state, r.reason) for r in records] == [("photos/red flower+1.jpg", State.SUPERSEDED,
                                                              "overwritten_before_scan")]
    assert emulator.stats()["calls"]["asyncscan"] == 0


def test_an_object_another_invocation_is_submitting_comes_back_later(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Given another invocation holds the claim (its lease is live) on the uploaded version
    function_env("submit")
    upload(stack, "busy.png", make_image(seed=15))
    event = receive_sqs_event(stack, 1)
    [ref] = parse_message(event["Records"][0]["body"])  # type: ignore[misc]
    assert store_of(stack).claim(ref, lease_seconds=60).claimed

    response = submit_handler.lambda_handler(event, context())

    # The message is not acknowledged as a duplicate: if the other invocation fails, this one
    # must still be there to take over once the lease runs out
    assert failed_ids(response) == {event["Records"][0]["messageId"]}
    assert by_key(stack)["busy.png"].state is State.RECEIVED
    assert emulator.stats()["calls"]["asyncscan"] == 0
