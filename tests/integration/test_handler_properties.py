"""Property-based, on the real adapters: random callback requests never make the callback handler
answer 5xx, whatever reaches the verdict table (a genuine checksum over random content looks records up
by whatever dataId or taskId it names) and the secret.

The submit half (random queue messages and direct invocations never make the handler raise) runs on
fakes with the real parser, in tests/unit/test_submit_logic.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import callback_handler
from greenlight.green.checksum import callback_checksum
from greenlight_local.stack import LocalStack
from integration.aws_helpers import FIXTURE, load_event

pytestmark = pytest.mark.integration
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


# Contents shaped like Green's task results (any ids, codes and scenes), so a genuine checksum over
# them reaches the verdict table with whatever dataId or taskId they name: the fixture's, random, empty.
task_results = st.fixed_dictionaries(
    {"code": st.sampled_from([200, 280, 480, 588, 590, 594, 596]) | st.integers(),
     "msg": st.text(max_size=12)},
    optional={
        "taskId": st.sampled_from([FIXTURE["task_id"], ""]) | st.text(max_size=40),
        "dataId": st.sampled_from([FIXTURE["data_id"], "", "k-" + FIXTURE["data_id"][2:]]) | st.text(max_size=40),
        "results": st.lists(st.fixed_dictionaries({
            "scene": st.sampled_from(["porn", "terrorism", ""]), "label": st.text(max_size=8),
            "suggestion": st.sampled_from(["pass", "review", "block", ""]),
            "rate": st.floats(min_value=0, max_value=100)}), max_size=2),
    },
)


@st.composite
def callback_requests(draw: st.DrawFn) -> dict[str, Any]:
    secret = FIXTURE["secret"]
    token = draw(st.sampled_from([secret["callback_token"], secret["callback_token"], "wrong", ""])
                 | st.text(min_size=1, max_size=30))
    content = draw(st.one_of(st.text(max_size=200), json_values.map(json.dumps), task_results.map(json.dumps)))
    checksum = draw(st.sampled_from([callback_checksum(secret["uid"], secret["seed"], content)] * 2 + ["0" * 64, ""]))
    fields = draw(st.sampled_from(["both", "both", "content", "checksum", "none", "raw"]))
    if fields == "raw":
        body = draw(st.binary(max_size=300))
    else:
        pairs = {"both": {"checksum": checksum, "content": content}, "content": {"content": content},
                 "checksum": {"checksum": checksum}, "none": {}}[fields]
        body = urlencode(pairs).encode()
    event = load_event("callback/result-good-checksum.json")
    path = f"/callback/{token}"
    event.update(rawPath=path, pathParameters={"token": token})
    method = draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]))
    event["requestContext"]["http"].update(path=path, method=method)
    event["headers"]["content-type"] = draw(st.sampled_from(
        ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
         "application/x-www-form-urlencoded", "text/plain", ""]))
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
