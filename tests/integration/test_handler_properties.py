"""Property-based: random events and callback bodies never make a handler raise or answer 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_helpers import FIXTURE, load_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import callback_handler
import submit_handler
from greenlight.green.checksum import callback_checksum
from greenlight_local.stack import LocalStack

pytestmark = pytest.mark.integration
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def s3ish_bodies(draw: st.DrawFn, bucket: str) -> str:
    """Bodies that look more or less like what S3, EventBridge or SNS put on the queue."""
    key = draw(st.text(min_size=0, max_size=60))
    kind = draw(st.sampled_from(["eventbridge", "notification", "sns", "json", "text"]))
    if kind == "eventbridge":
        obj = draw(st.dictionaries(st.sampled_from(["key", "size", "etag", "eTag", "version-id", "sequencer"]),
                                   json_values, max_size=6))
        obj.setdefault("key", key)
        body: Any = {"detail-type": draw(st.sampled_from(["Object Created", "Object Deleted", "x"])),
                     "source": draw(st.sampled_from(["aws.s3", "aws.ec2"])), "time": draw(json_values),
                     "detail": {"bucket": {"name": draw(st.sampled_from([bucket, "other"]))}, "object": obj}}
    elif kind == "notification":
        body = {"Records": [{"eventSource": "aws:s3", "eventName": draw(st.sampled_from(
            ["ObjectCreated:Put", "ObjectRemoved:Delete", ""])), "eventTime": draw(json_values),
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": draw(json_values)}}}]}
    elif kind == "sns":
        body = {"Type": "Notification", "Message": draw(st.text(max_size=80))}
    elif kind == "json":
        body = draw(json_values)
    else:
        return draw(st.text(max_size=200))
    return json.dumps(body)


@SETTINGS
@given(data=st.data())
def test_submit_never_raises_on_random_messages(data: st.DataObject, stack: LocalStack,
                                                function_env: Callable[..., None],
                                                context: Callable[..., Any]) -> None:
    function_env("submit")
    template = load_event("submit/s3-test-event.json")["Records"][0]
    bodies = data.draw(st.lists(s3ish_bodies(stack.bucket), min_size=1, max_size=5))
    event = {"Records": [{**template, "messageId": f"m-{i}", "body": body} for i, body in enumerate(bodies)]}

    response = submit_handler.lambda_handler(event, context())

    assert set(response) == {"batchItemFailures"}
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} <= {f"m-{i}" for i in range(len(bodies))}


@SETTINGS
@given(event=st.dictionaries(st.sampled_from(["Records", "detail-type", "source", "body", "x"]), json_values,
                             max_size=3))
def test_submit_accepts_any_direct_invocation_payload(event: dict[str, Any], stack: LocalStack,
                                                      function_env: Callable[..., None],
                                                      context: Callable[..., Any]) -> None:
    function_env("submit")

    response = submit_handler.lambda_handler(event, context())

    assert set(response) == {"batchItemFailures"}


@st.composite
def callback_requests(draw: st.DrawFn) -> dict[str, Any]:
    secret = FIXTURE["secret"]
    token = draw(st.sampled_from([secret["callback_token"], "wrong", ""]) | st.text(min_size=1, max_size=30))
    content = draw(st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
    checksum = draw(st.sampled_from([callback_checksum(secret["uid"], secret["seed"], content), "0" * 64, ""]))
    fields = draw(st.sampled_from(["both", "content", "checksum", "none", "raw"]))
    if fields == "raw":
        body = draw(st.binary(max_size=300))
    else:
        pairs = {"both": {"checksum": checksum, "content": content}, "content": {"content": content},
                 "checksum": {"checksum": checksum}, "none": {}}[fields]
        body = urlencode(pairs).encode()
    event = load_event("callback/result-good-checksum.json")
    path = f"/callback/{token}"
    event.update(rawPath=path, pathParameters={"token": token})
    event["requestContext"]["http"].update(path=path, method=draw(st.sampled_from(["POST", "POST", "GET", "PUT"])))
    event["headers"]["content-type"] = draw(st.sampled_from(
        ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8", "text/plain", ""]))
    try:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64

        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


@SETTINGS
@given(event=callback_requests())
def test_callback_never_answers_5xx(event: dict[str, Any], stack: LocalStack, function_env: Callable[..., None],
                                    context: Callable[..., Any]) -> None:
    if stack.secret().get("seed") != FIXTURE["secret"]["seed"]:
        stack.update_secret(**FIXTURE["secret"])
    function_env("callback")

    response = callback_handler.lambda_handler(event, context())

    assert 200 <= response["statusCode"] < 500
    body = json.loads(response["body"])
    assert isinstance(body, dict) and "Traceback" not in response["body"]
