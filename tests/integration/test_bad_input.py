"""Hostile or broken input on the real adapters: each gets a clear verdict with a reason, a 4xx, or a
deliberate acknowledgement — never a crash, a lost message or a poisoned batch (README, "Bad input").

Here are the rows that depend on S3, its events or Green themselves; the decisions alone (an
oversized event, a lying content type, garbage among good messages) are in
tests/unit/test_submit_logic.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import submit_handler
from green_emulator import RunningEmulator, make_image
from greenlight.aws.s3_objects import S3Objects
from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import NotScannable
from greenlight.domain.states import State
from greenlight_local.stack import LocalStack, all_records
from integration.aws_helpers import receive_sqs_event, upload

pytestmark = pytest.mark.integration


def states(stack: LocalStack) -> dict[str, tuple[State, str | None]]:
    return {r.key: (r.state, r.reason) for r in all_records(stack)}




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


@pytest.mark.parametrize(("body", "expected"), [
    (make_image(seed=4) + b"\0" * 5000, ("too_large", {"size": len(make_image(seed=4)) + 5000})),
    (b"", ("zero_bytes", None)),  # a ranged GET of an empty object is answered 416
    (b"%PDF-1.7 not an image", ("not_an_image", {"size": 21})),
])
def test_the_object_itself_decides_when_the_event_has_no_size(
        body: bytes, expected: tuple[str, dict[str, int] | None], stack: LocalStack) -> None:
    # Given an object read through the real S3 adapter (one ranged GET), with a 4 KiB limit
    s3 = stack.client("s3")
    version = s3.put_object(Bucket=stack.bucket, Key="big.png", Body=body, ContentType="image/png")["VersionId"]
    objects = S3Objects(s3, url_signing="role", url_expiry=3600)

    verdict = objects.inspect(ObjectRef(stack.bucket, "big.png", version_id=version), max_bytes=4096)

    # Then the size comes from the object (Content-Range), not from an event
    assert isinstance(verdict, NotScannable) and verdict.state is State.SKIPPED
    reason, details = expected
    assert verdict.reason == reason
    if details:
        assert details.items() <= (verdict.details or {}).items()


def test_a_version_deleted_before_submit_is_skipped_as_missing(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    function_env("submit")
    version = upload(stack, "gone.png", make_image(seed=5))["VersionId"]
    event = receive_sqs_event(stack, 1)
    stack.client("s3").delete_object(Bucket=stack.bucket, Key="gone.png", VersionId=version)

    assert submit_handler.lambda_handler(event, context()) == {"batchItemFailures": []}

    assert states(stack) == {"gone.png": (State.SKIPPED, "object_missing")}


def test_green_decides_on_what_only_starts_like_an_image(
        stack: LocalStack, function_env: Callable[..., None], emulator: RunningEmulator,
        context: Callable[..., Any]) -> None:
    # Starts like a GIF, is not one: the sniff lets it through, Green answers 590 and it is SKIPPED with that
    function_env("submit", SCAN_MODE="sync")
    upload(stack, "file.bin", b"GIF89a" + b"\0" * 40, "image/gif")

    assert submit_handler.lambda_handler(receive_sqs_event(stack, 1), context()) == {"batchItemFailures": []}

    assert states(stack) == {"file.bin": (State.SKIPPED, "green_590_bad_format")}
    assert emulator.stats()["calls"]["scan"] == 1
