"""The callback handler with the events/ payloads, against moto server."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_helpers import FIXTURE, load_event

import callback_handler
from greenlight.events import ObjectRef
from greenlight.green.checksum import callback_checksum
from greenlight.states import State
from greenlight.store import VerdictRecord, VerdictStore
from greenlight_local.stack import LocalStack

pytestmark = pytest.mark.integration
FIXTURE_OBJECT = ObjectRef(FIXTURE["bucket"], FIXTURE["key"], size=FIXTURE["size"], etag=FIXTURE["etag"])


@pytest.fixture
def store(stack: LocalStack, function_env: Callable[..., None]) -> VerdictStore:
    """The callback function's environment, with the events/ fixture's uid, seed and token in the secret."""
    stack.update_secret(**FIXTURE["secret"])
    function_env("callback")
    return VerdictStore(stack.client("dynamodb"), stack.table)


@pytest.fixture
def pending(store: VerdictStore) -> VerdictStore:
    """The events/ fixture's object PENDING under its task."""
    claim = store.claim(FIXTURE_OBJECT, lease_seconds=60)
    assert claim.lease_token
    assert store.mark_pending(FIXTURE_OBJECT.data_id, lease_token=claim.lease_token, task_id=FIXTURE["task_id"],
                              due_at=0, url_expires_at=None)
    return store


def record(store: VerdictStore) -> VerdictRecord:
    found = store.get(FIXTURE_OBJECT.data_id)
    assert found is not None
    return found


def call(event: dict[str, Any], context: Callable[..., Any]) -> tuple[int, dict[str, Any]]:
    response = callback_handler.lambda_handler(event, context())
    return int(response["statusCode"]), json.loads(response["body"] or "{}")


def test_a_genuine_callback_records_the_verdict_once(pending: VerdictStore, context: Callable[..., Any]) -> None:
    event = load_event("callback/result-good-checksum.json")

    status, body = call(event, context)

    assert (status, body) == (200, {"ok": True, "applied": True})
    after = record(pending)
    assert (after.state, after.suggestion, after.source) == (State.FINAL, "block", "callback")
    assert after.scenes["porn"]["label"] == "porn"

    # Green retries (or an attacker replays): still 200, nothing changes
    status, body = call(event, context)
    assert (status, body) == (200, {"ok": True, "applied": False})
    assert record(pending).rev == after.rev


@pytest.mark.parametrize(("name", "status"), [
    ("callback/result-bad-checksum.json", 403),
    ("callback/wrong-token.json", 404),
    ("callback/wrong-method.json", 405),
    ("callback/wrong-content-type.json", 415),
    ("callback/garbage-form.json", 400),
    ("callback/binary-body.json", 400),
    ("callback/sam-http-api-proxy.json", 404),
])
def test_bad_callbacks_get_a_4xx_with_a_message_and_change_nothing(
        name: str, status: int, pending: VerdictStore, context: Callable[..., Any]) -> None:
    before = record(pending)

    got, body = call(load_event(name), context)

    assert got == status
    assert isinstance(body.get("message"), str) and body["message"]
    assert "Traceback" not in json.dumps(body)
    assert record(pending) == before


def _post(content: str, checksum: str, token: str = FIXTURE["secret"]["callback_token"]) -> dict[str, Any]:
    event = load_event("callback/result-good-checksum.json")
    body = urlencode({"checksum": checksum, "content": content})
    event["body"] = body
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/callback/{token}"
    event["pathParameters"] = {"token": token}
    return event


def test_a_body_over_the_cap_gets_413(pending: VerdictStore, context: Callable[..., Any]) -> None:
    event = _post("x" * 300_000, "0" * 64)

    status, _ = call(event, context)

    assert status == 413


def test_base64_bodies_are_decoded(pending: VerdictStore, context: Callable[..., Any]) -> None:
    event = load_event("callback/result-good-checksum.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    assert call(event, context) == (200, {"ok": True, "applied": True})


def test_the_previous_seed_is_accepted_during_a_rotation(
        pending: VerdictStore, stack: LocalStack, context: Callable[..., Any]) -> None:
    # Given a rotated secret: a new seed, the old one kept as previous_seed
    stack.update_secret(previous_seed=stack.secret()["seed"], seed="aFreshSeed42")

    # A callback signed with the old seed (a task submitted before the rotation) still counts
    assert call(load_event("callback/result-good-checksum.json"), context)[0] == 200
    assert record(pending).state is State.FINAL


def test_a_valid_checksum_for_another_task_changes_nothing(pending: VerdictStore,
                                                           context: Callable[..., Any]) -> None:
    secret = FIXTURE["secret"]
    content = json.dumps({"code": 200, "msg": "OK", "dataId": FIXTURE["data_id"], "taskId": "img-someone-else",
                          "results": [{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": 99.0}]})
    event = _post(content, callback_checksum(secret["uid"], secret["seed"], content))

    assert call(event, context) == (200, {"ok": True, "applied": False})
    assert record(pending).state is State.PENDING


def test_a_download_failure_makes_the_record_due_for_the_poller(pending: VerdictStore,
                                                                context: Callable[..., Any]) -> None:
    secret = FIXTURE["secret"]
    content = json.dumps({"code": 480, "msg": "DOWNLOAD_FAILED", "dataId": FIXTURE["data_id"],
                          "taskId": FIXTURE["task_id"]})
    event = _post(content, callback_checksum(secret["uid"], secret["seed"], content))

    assert call(event, context) == (200, {"ok": True, "applied": False})
    after = record(pending)
    assert after.state is State.PENDING
    assert after.due_at is not None and after.due_at <= __import__("time").time()


def test_a_result_that_outruns_submit_is_refused_so_green_retries_it(
        store: VerdictStore, context: Callable[..., Any]) -> None:
    # Given the fixture object claimed by submit, but its task id not yet recorded
    claim = store.claim(FIXTURE_OBJECT, lease_seconds=60)

    status, body = call(load_event("callback/result-good-checksum.json"), context)

    assert status == 409 and "retry" in body["message"]
    assert record(store).state is State.RECEIVED

    # Once submit records the task, Green's retry is applied
    assert claim.lease_token and store.mark_pending(FIXTURE_OBJECT.data_id, lease_token=claim.lease_token,
                                                    task_id=FIXTURE["task_id"], due_at=0, url_expires_at=None)
    assert call(load_event("callback/result-good-checksum.json"), context)[0] == 200
    assert record(store).state is State.FINAL


def test_the_previous_path_token_works_during_a_rotation_and_not_after(
        pending: VerdictStore, stack: LocalStack, context: Callable[..., Any]) -> None:
    stack.update_secret(previous_callback_token=stack.secret()["callback_token"],
                        callback_token="a-new-unguessable-token")
    event = load_event("callback/result-good-checksum.json")  # addressed to the old token

    assert call(event, context)[0] == 200

    stack.update_secret(previous_callback_token="")  # the rotation window is over
    assert call(event, context)[0] == 404
