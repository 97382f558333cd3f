"""The submit handler on its real adapters: moto server (real S3 -> EventBridge -> SQS events, the
verdict table, the secrets) and the Green emulator.

Only what needs the real thing is here: event shapes and keys as S3 and EventBridge send them, real
sequencers and ETags, a role-signed URL's length, and Green's wire protocol. Submit's decisions on
fakes are in tests/unit/test_submit_logic.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import submit_handler
from green_emulator import RunningEmulator, make_image
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_local.stack import LocalStack, all_records
from integration.aws_helpers import load_event, receive_sqs_event, upload

pytestmark = pytest.mark.integration

BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.1}]


def by_key(stack: LocalStack) -> dict[str, VerdictRecord]:
    return {r.key: r for r in all_records(stack)}


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}




def test_real_uploads_reach_pending_in_one_request(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Given three uploads (a space, a unicode key) whose events went S3 -> EventBridge rule -> SQS in moto
    function_env("submit")
    upload(stack, "a.png", make_image(seed=1))
    upload(stack, "dir/b c.jpg", make_image(BLOCK, fmt="JPEG", seed=2), "image/jpeg")
    upload(stack, "ünï côde.png", make_image(seed=3))
    event = receive_sqs_event(stack, 3)

    # When the submit handler gets the batch
    response = submit_handler.lambda_handler(event, context())

    # Then nothing is retried, the emulator got one async scan with three tasks, and each object is PENDING
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
    assert records["dir/b c.jpg"].image_format == "jpeg"


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
    assert all_records(stack) == []


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

    records = all_records(stack)
    assert [(r.key, r.state, r.reason) for r in records] == [("photos/red flower+1.jpg", State.SUPERSEDED,
                                                              "overwritten_before_scan")]
    assert emulator.stats()["calls"]["asyncscan"] == 0


def test_a_role_signed_url_over_2048_characters_is_skipped_not_sent(
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


@pytest.mark.parametrize("newer_first", [False, True], ids=["in order", "newer event first"])
def test_a_newer_real_version_supersedes_the_older_one(
        newer_first: bool, stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Given two writes of one key: real version ids and real S3 sequencers
    function_env("submit")
    first = upload(stack, "same.png", make_image(seed=11))
    second = upload(stack, "same.png", make_image(BLOCK, seed=12))
    event = receive_sqs_event(stack, 2)
    by_version = {json.loads(r["body"])["detail"]["object"]["version-id"]: r for r in event["Records"]}
    older, newer = by_version[first["VersionId"]], by_version[second["VersionId"]]

    # When each event is handled by an invocation of its own, in upload order or the newer first
    for record in ([newer, older] if newer_first else [older, newer]):
        assert submit_handler.lambda_handler({"Records": [record]}, context()) == {"batchItemFailures": []}

    # Then the older version is SUPERSEDED and the newer one PENDING; the older is sent only if it came first
    versions = {r.version_id: r for r in all_records(stack)}
    superseded = versions[first["VersionId"]]
    assert superseded.state is State.SUPERSEDED
    assert superseded.reason == ("newer_version_seen" if newer_first else "newer_version_uploaded")
    assert versions[second["VersionId"]].state is State.PENDING
    assert emulator.stats()["tasks_submitted"] == (1 if newer_first else 2)


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
    assert record.task_id and record.finished_at
    stats = emulator.stats()
    assert (stats["calls"]["scan"], stats["calls"]["asyncscan"]) == (1, 0)
