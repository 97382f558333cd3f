"""Hostile or broken input: each gets a clear verdict with a reason, a 4xx, or a deliberate
acknowledgement — never a crash, a lost message or a poisoned batch (README, "Bad input")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_helpers import receive_sqs_event, upload

import submit_handler
from green_emulator import RunningEmulator, make_image
from greenlight.events import ObjectRef
from greenlight.objects import inspect_object
from greenlight.states import State
from greenlight.store import VerdictStore
from greenlight_local.stack import LocalStack

pytestmark = pytest.mark.integration


def states(stack: LocalStack) -> dict[str, tuple[State, str | None]]:
    return {r.key: (r.state, r.reason) for r in VerdictStore(stack.client("dynamodb"), stack.table).scan_all()}


@pytest.mark.parametrize("key", ["100% real.png", "a+b=c&d.png", "spaces  and\ttab.png", "雪/❄ snow.png",
                                 "deep/" * 40 + "leaf.png", "quote's \"double\".png", "?#[]@!$()*,;.png"])
def test_awkward_keys_round_trip_through_the_real_event_path(
        key: str, stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, key, make_image(seed=1))

    response = submit_handler.lambda_handler(receive_sqs_event(stack, 1), context())

    assert response == {"batchItemFailures": []}
    assert states(stack) == {key: (State.PENDING, None)}
    assert emulator.stats()["tasks_submitted"] == 1


@pytest.mark.parametrize(("signing", "expected"), [("role", (State.SKIPPED, "url_too_long")),
                                                   ("key", (State.PENDING, None))])
def test_a_1024_byte_key_fits_only_a_key_signed_url(
        signing: str, expected: tuple[State, str | None], stack: LocalStack, function_env: Callable[..., None],
        emulator: RunningEmulator, context: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # The role's session token rides in a role-signed URL (as in Lambda); a signing key pair's does not
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2Vj" + "B" * 1100)
    stack.update_secret(url_signing_access_key_id="AKIASIGNINGONLY",
                        url_signing_secret_access_key="signing-only-secret")
    function_env("submit", URL_SIGNING=signing)
    key = "k/" + "x" * (1024 - len("k/") - len(".png")) + ".png"
    assert len(key.encode()) == 1024
    upload(stack, key, make_image(seed=2))

    assert submit_handler.lambda_handler(receive_sqs_event(stack, 1), context()) == {"batchItemFailures": []}

    assert states(stack) == {key: expected}


def test_an_object_over_20_mb_is_skipped_without_reading_it(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, "huge.png", make_image(seed=3) + b"\0" * (20 * 1024 * 1024 + 1))

    assert submit_handler.lambda_handler(receive_sqs_event(stack, 1), context()) == {"batchItemFailures": []}

    assert states(stack) == {"huge.png": (State.SKIPPED, "too_large")}
    assert emulator.stats()["calls"]["asyncscan"] == 0


def test_the_size_is_checked_from_the_object_when_the_event_has_none(stack: LocalStack) -> None:
    s3 = stack.client("s3")
    version = s3.put_object(Bucket=stack.bucket, Key="big.png", Body=make_image(seed=4) + b"\0" * 5000)["VersionId"]

    verdict = inspect_object(s3, ObjectRef(stack.bucket, "big.png", version_id=version), max_bytes=4096)

    assert (getattr(verdict, "state", None), getattr(verdict, "reason", None)) == (State.SKIPPED, "too_large")


def test_a_version_deleted_before_submit_is_skipped_as_missing(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    version = upload(stack, "gone.png", make_image(seed=5))["VersionId"]
    event = receive_sqs_event(stack, 1)
    stack.client("s3").delete_object(Bucket=stack.bucket, Key="gone.png", VersionId=version)

    assert submit_handler.lambda_handler(event, context()) == {"batchItemFailures": []}

    assert states(stack) == {"gone.png": (State.SKIPPED, "object_missing")}


@pytest.mark.parametrize(("body", "content_type"), [
    (b"GIF89a" + b"\0" * 40, "image/gif"),  # starts like a GIF, is not one: Green decides (590 -> SKIPPED)
    (make_image(fmt="PNG", seed=6), "text/plain"),  # a real PNG with a lying content type is scanned
])
def test_content_decides_not_the_declared_type(
        body: bytes, content_type: str, stack: LocalStack, function_env: Callable[..., None],
        emulator: RunningEmulator, context: Callable[..., Any]) -> None:
    function_env("submit", SCAN_MODE="sync")
    upload(stack, "file.bin", body, content_type)

    assert submit_handler.lambda_handler(receive_sqs_event(stack, 1), context()) == {"batchItemFailures": []}

    state, reason = states(stack)["file.bin"]
    if body.startswith(b"GIF89a\0"):
        assert (state, reason) == (State.SKIPPED, "green_590_bad_format")
    else:
        assert state is State.FINAL


def test_garbage_among_good_messages_does_not_poison_the_batch(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    upload(stack, "good.png", make_image(seed=7))
    event = receive_sqs_event(stack, 1)
    template = event["Records"][0]
    for index, body in enumerate(["", "null", "{]", json.dumps({"Records": "nope"}),
                                  json.dumps({"detail-type": "Object Created", "source": "aws.s3"}),
                                  json.dumps({"Type": "Notification", "Message": "{]"})]):
        event["Records"].append({**template, "messageId": f"garbage-{index}", "body": body})

    response = submit_handler.lambda_handler(event, context())

    assert response == {"batchItemFailures": []}
    assert states(stack) == {"good.png": (State.PENDING, None)}
