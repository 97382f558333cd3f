"""The callback handler with the events/ payloads: the HTTP API event shapes, the callback secret in
Secrets Manager and the verdict table, on moto server.

The callback's decisions (the order of checks, rotation, replays, malformed content, which records
a genuine result may change) are tested on fakes in tests/unit/test_callback_logic.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

import callback_handler
from greenlight.aws.s3_events import parse_message
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.domain.identity import ObjectRef
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_local.stack import LocalStack
from integration.aws_helpers import FIXTURE, load_event

pytestmark = pytest.mark.integration


def fixture_object() -> ObjectRef:
    """The object version the events/ payloads are about, as the submit event announces it."""
    [message] = load_event("submit/eventbridge-object-created.json")["Records"]
    announced = parse_message(message["body"])
    assert isinstance(announced, list)
    [obj] = announced
    assert obj.data_id == FIXTURE["data_id"]  # the callback payloads' dataId
    return obj


@pytest.fixture
def store(stack: LocalStack, function_env: Callable[..., None]) -> DynamoVerdictStore:
    """The callback function's environment, with the events/ fixture's uid, seed and token in the secret."""
    stack.update_secret(**FIXTURE["secret"])
    function_env("callback")
    return DynamoVerdictStore(stack.client("dynamodb"), stack.table)


@pytest.fixture
def pending(store: DynamoVerdictStore) -> DynamoVerdictStore:
    """The events/ fixture's object PENDING under its task, as submit leaves it."""
    obj = fixture_object()
    claim = store.claim(obj, lease_seconds=60, max_attempts=3, by="submit")
    assert claim.claimed and claim.lease_token
    assert store.mark_pending(obj.data_id, lease_token=claim.lease_token, task_id=FIXTURE["task_id"], due_at=0,
                              url_expires_at=None, details=None, by="submit")
    return store


def record(store: DynamoVerdictStore) -> VerdictRecord:
    found = store.get(FIXTURE["data_id"])
    assert found is not None
    return found


def call(event: dict[str, Any], context: Callable[..., Any]) -> tuple[int, dict[str, Any]]:
    response = callback_handler.lambda_handler(event, context())
    assert response["headers"]["Content-Type"] == "application/json"
    return int(response["statusCode"]), json.loads(response["body"] or "{}")


def test_a_genuine_callback_records_the_verdict_once(pending: DynamoVerdictStore,
                                                     context: Callable[..., Any]) -> None:
    event = load_event("callback/result-good-checksum.json")

    status, body = call(event, context)

    assert (status, body) == (200, {"ok": True, "applied": True})
    after = record(pending)
    assert (after.state, after.suggestion, after.source) == (State.FINAL, "block", "callback")
    assert after.scenes["porn"] == {"label": "porn", "suggestion": "block", "rate": 99.6}
    assert after.due_at is None and after.history[-1]["by"] == "callback"

    # Green retries (or an attacker replays): still 200, nothing changes
    assert call(event, context) == (200, {"ok": True, "applied": False})
    assert record(pending) == after


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
        name: str, status: int, pending: DynamoVerdictStore, context: Callable[..., Any]) -> None:
    before = record(pending)

    got, body = call(load_event(name), context)

    assert got == status
    assert isinstance(body.get("message"), str) and body["message"]
    assert "Traceback" not in json.dumps(body)
    assert record(pending) == before


def test_base64_bodies_are_decoded(pending: DynamoVerdictStore, context: Callable[..., Any]) -> None:
    event = load_event("callback/result-good-checksum.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    assert call(event, context) == (200, {"ok": True, "applied": True})
    assert record(pending).state is State.FINAL
