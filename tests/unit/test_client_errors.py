"""GreenClient's failure handling on a scripted HTTP session (no network): which failures are retried,
which may have reached Green (`maybe_accepted`), what the pace callback is charged, which endpoints
are refused. tests/integration/test_green_client.py checks the same on real loopback sockets."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any, cast

import pytest
import requests
from urllib3.connection import HTTPConnection
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from greenlight.green.client import GreenClient, RetryPolicy
from greenlight.green.errors import (
    GreenAuthError,
    GreenError,
    GreenInvalidRequest,
    GreenThrottled,
    GreenTransientError,
)
from greenlight.green.pacing import TokenBucket
from greenlight.green.signer import Credentials
from greenlight.green.wire import ScanTask

ATTEMPTS = 3
ENDPOINT = "https://green.example.com"
Answer = requests.Response | BaseException


def response(status: int, body: Any, content_type: str = "application/json") -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    answer.headers["Content-Type"] = content_type
    return answer


def ok(data: list[dict[str, Any]]) -> requests.Response:
    return response(200, {"code": 200, "msg": "OK", "requestId": "r-ok", "data": data})


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens: urllib3's NewConnectionError inside MaxRetryError."""
    reason = NewConnectionError(HTTPConnection("127.0.0.1", 9), "Failed to establish a new connection: refused")
    return requests.ConnectionError(MaxRetryError(None, "/green/image/asyncscan", reason))  # type: ignore[arg-type]


def dropped() -> requests.ConnectionError:
    """What requests raises when the server closed the connection after reading the request."""
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection")))


class ScriptedSession:
    """Stands in for requests.Session: answers each post with the next scripted answer (the last repeats)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        self.posts.append((url, kwargs))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def paths(self) -> list[str]:
        return [url.removeprefix(ENDPOINT).split("?", 1)[0] for url, _ in self.posts]


def client_on(session: ScriptedSession, **overrides: Any) -> GreenClient:
    options: dict[str, Any] = {"endpoint": ENDPOINT, "retry": RetryPolicy(max_attempts=ATTEMPTS),
                               "sleep": lambda _: None, "draw": lambda: 0.0}
    options.update(overrides)
    return GreenClient(Credentials("id", "secret"), session=cast(requests.Session, session), **options)


def scan(client: GreenClient) -> Any:
    return client.image_async_scan([ScanTask("d1", "https://img.example.com/a.png")], ["porn"])


def sync_scan(client: GreenClient) -> Any:
    return client.image_sync_scan([ScanTask("d1", "https://img.example.com/a.png")], ["porn"])


def results(client: GreenClient) -> Any:
    return client.image_async_results(["img1"])


# What the answer was lost to, and whether the request may have reached Green.
LOST_ANSWERS: list[tuple[str, Callable[[], Answer]]] = [
    ("read timeout", lambda: requests.ReadTimeout("read timed out")),
    ("dropped after sending", dropped),
    ("body cut off", lambda: requests.exceptions.ChunkedEncodingError("connection broken")),
    ("502 from a proxy, not Green", lambda: response(502, b"<html>Bad Gateway</html>", "text/html")),
    ("504 with an empty body", lambda: response(504, b"")),
]
NOTHING_SENT: list[tuple[str, Callable[[], Answer]]] = [
    ("connection refused", refused),
    ("connect timeout", lambda: requests.ConnectTimeout("connect timed out")),
]
GREEN_REFUSED: list[tuple[str, Callable[[], Answer], type[GreenError]]] = [
    ("body code 588", lambda: response(200, {"code": 588, "msg": "EXCEED_QUOTA", "requestId": "r"}), GreenThrottled),
    ("gateway Throttling.User", lambda: response(400, {"Code": "Throttling.User", "Message": "flow control",
                                                       "RequestId": "r"}), GreenThrottled),
    ("gateway 503 ServiceUnavailable", lambda: response(503, {"Code": "ServiceUnavailable", "Message": "retry",
                                                              "RequestId": "r"}), GreenTransientError),
    ("500 in Green's envelope", lambda: response(500, {"code": 500, "msg": "GENERAL_ERROR", "requestId": "r"}),
     GreenTransientError),
    ("HTTP 429", lambda: response(429, b"slow down", "text/plain"), GreenTransientError),
]


# -- maybe_accepted ------------------------------------------------------------------------------

def test_maybe_accepted_is_false_unless_said_and_every_error_type_carries_it() -> None:
    assert GreenError("x").maybe_accepted is False
    for kind in (GreenTransientError, GreenThrottled, GreenAuthError, GreenInvalidRequest):
        error = kind("x", code=1, request_id="r", maybe_accepted=True)
        assert (error.maybe_accepted, error.code, error.request_id) == (True, 1, "r")
    assert GreenInvalidRequest("x", field="tasks", maybe_accepted=True).field == "tasks"


@pytest.mark.parametrize("call", [scan, sync_scan], ids=["asyncscan", "scan"])
@pytest.mark.parametrize(("case", "answer"), LOST_ANSWERS, ids=[c[0] for c in LOST_ANSWERS])
def test_a_scan_whose_answer_was_lost_raises_at_once_as_maybe_accepted(
        case: str, answer: Callable[[], Answer], call: Callable[[GreenClient], Any]) -> None:
    # Given a session that loses the answer, then would answer OK
    session = ScriptedSession(answer(), ok([{"code": 200, "dataId": "d1", "taskId": "img1"}]))
    sleeps: list[float] = []

    # When a scan is sent with three attempts allowed
    with pytest.raises(GreenTransientError) as raised:
        call(client_on(session, sleep=sleeps.append))

    # Then it is not resent (Green may hold the tasks already) and the error says so
    assert raised.value.maybe_accepted is True
    assert len(session.posts) == 1 and sleeps == []


@pytest.mark.parametrize(("case", "answer"), LOST_ANSWERS, ids=[c[0] for c in LOST_ANSWERS])
def test_a_results_request_whose_answer_was_lost_is_retried(case: str, answer: Callable[[], Answer]) -> None:
    session = ScriptedSession(answer(), answer(), ok([{"code": 280, "taskId": "img1", "msg": "PROCESSING"}]))

    got = results(client_on(session))

    assert [r.code for r in got] == [280]
    assert session.paths() == ["/green/image/results"] * 3


@pytest.mark.parametrize(("case", "answer"), LOST_ANSWERS, ids=[c[0] for c in LOST_ANSWERS])
def test_a_results_request_that_keeps_losing_answers_raises_after_the_last_attempt(
        case: str, answer: Callable[[], Answer]) -> None:
    session = ScriptedSession(answer())

    with pytest.raises(GreenTransientError) as raised:
        results(client_on(session))

    assert raised.value.maybe_accepted is True  # reading results is harmless to repeat, but it is still true
    assert len(session.posts) == ATTEMPTS


@pytest.mark.parametrize(("case", "answer"), NOTHING_SENT, ids=[c[0] for c in NOTHING_SENT])
def test_a_scan_that_never_connected_is_not_maybe_accepted_and_is_retried(
        case: str, answer: Callable[[], Answer]) -> None:
    session = ScriptedSession(answer())

    with pytest.raises(GreenTransientError) as raised:
        scan(client_on(session))

    assert raised.value.maybe_accepted is False
    assert len(session.posts) == ATTEMPTS


@pytest.mark.parametrize(("case", "answer", "kind"), GREEN_REFUSED, ids=[c[0] for c in GREEN_REFUSED])
def test_a_scan_green_refused_is_retried_and_then_succeeds(case: str, answer: Callable[[], Answer],
                                                           kind: type[GreenError]) -> None:
    session = ScriptedSession(answer(), answer(), ok([{"code": 200, "dataId": "d1", "taskId": "img9"}]))

    submitted = scan(client_on(session))

    assert [(r.code, r.task_id) for r in submitted] == [(200, "img9")]
    assert session.paths() == ["/green/image/asyncscan"] * 3


@pytest.mark.parametrize(("case", "answer", "kind"), GREEN_REFUSED, ids=[c[0] for c in GREEN_REFUSED])
def test_a_scan_green_keeps_refusing_raises_its_error_type_not_maybe_accepted(
        case: str, answer: Callable[[], Answer], kind: type[GreenError]) -> None:
    session = ScriptedSession(answer())

    with pytest.raises(GreenError) as raised:
        scan(client_on(session))

    assert type(raised.value) is kind
    assert raised.value.maybe_accepted is False
    assert len(session.posts) == ATTEMPTS


def test_a_lost_answer_after_a_throttled_attempt_still_stops_the_scan() -> None:
    # Given Green throttles the first attempt and the answer to the second is lost
    session = ScriptedSession(response(200, {"code": 588, "msg": "EXCEED_QUOTA"}), requests.ReadTimeout("slow"),
                              ok([]))

    with pytest.raises(GreenTransientError) as raised:
        scan(client_on(session))

    # Then the third attempt is never made
    assert raised.value.maybe_accepted is True
    assert len(session.posts) == 2


def test_gateway_auth_errors_are_raised_at_once_without_maybe_accepted() -> None:
    session = ScriptedSession(response(400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature",
                                             "RequestId": "r"}))

    with pytest.raises(GreenAuthError) as raised:
        scan(client_on(session))

    assert (raised.value.code, raised.value.maybe_accepted, len(session.posts)) == ("SignatureDoesNotMatch", False, 1)


def test_a_scan_green_accepted_with_a_malformed_answer_is_maybe_accepted() -> None:
    session = ScriptedSession(response(200, {"code": 200, "msg": "OK", "data": {"not": "a list"}}))

    with pytest.raises(GreenTransientError) as raised:
        scan(client_on(session))

    assert len(session.posts) == 1
    assert raised.value.maybe_accepted is True


# -- pacing: what each request costs --------------------------------------------------------------

def test_pace_is_charged_one_per_image_for_scans_and_one_per_other_request() -> None:
    charged: list[float] = []
    tasks = [ScanTask(f"d{i}", "https://img.example.com/a.png") for i in range(7)]
    session = ScriptedSession(ok([{"code": 200, "dataId": f"d{i}", "taskId": f"img{i}"} for i in range(7)]))
    client = client_on(session, pace=charged.append)

    client.image_async_scan(tasks, ["porn"])
    client.image_sync_scan(tasks[:2], ["porn"])
    client.image_async_results(["img1", "img2", "img3"])

    assert charged == [7, 2, 1]


def test_pace_is_charged_again_for_every_retry() -> None:
    charged: list[float] = []
    throttled = response(200, {"code": 588, "msg": "EXCEED_QUOTA"})
    session = ScriptedSession(throttled, throttled, ok([{"code": 200, "dataId": "d1", "taskId": "img1"}] * 4))
    tasks = [ScanTask(f"d{i}", "https://img.example.com/a.png") for i in range(4)]

    client_on(session, pace=charged.append).image_async_scan(tasks, ["porn"])

    assert charged == [4, 4, 4]


def test_a_scan_of_n_images_waits_for_n_tokens_of_the_bucket() -> None:
    # Given a bucket of 10 images a second with a burst of 10, on a pinned clock
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=10, burst=10, clock=lambda: now[0], sleep=sleep)
    tasks = [ScanTask(f"d{i}", "https://img.example.com/a.png") for i in range(25)]
    session = ScriptedSession(ok([{"code": 200, "dataId": f"d{i}", "taskId": f"img{i}"} for i in range(25)]))
    client = client_on(session, pace=bucket.acquire)

    # When 25 images are scanned, then one results request follows
    client.image_async_scan(tasks, ["porn"])
    client.image_async_results(["img1"])

    # Then the scan waited for the 15 tokens beyond the burst, and the results request for one more
    assert waits == pytest.approx([1.5, 0.1])
    assert len(session.posts) == 2


# -- endpoints -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "expected"), [
    ("https://green.cn-shanghai.aliyuncs.com", "https://green.cn-shanghai.aliyuncs.com"),
    ("green-vpc.cn-shanghai.aliyuncs.com", "https://green-vpc.cn-shanghai.aliyuncs.com"),
    ("https://green.example.com:8443/ignored/path", "https://green.example.com:8443"),
    ("http://127.0.0.1:8900", "http://127.0.0.1:8900"),
    ("http://localhost:8900", "http://localhost:8900"),
    ("http://[::1]:8900", "http://[::1]:8900"),
])
def test_https_and_loopback_http_endpoints_are_accepted(endpoint: str, expected: str) -> None:
    assert GreenClient(Credentials("id", "secret"), endpoint=endpoint).endpoint == expected


@pytest.mark.parametrize("endpoint", [
    "http://green.cn-shanghai.aliyuncs.com",
    "http://10.0.0.8:8900",
    "http://192.168.1.20",
    "ftp://green.example.com",
    "https://",
])
def test_plain_http_to_anything_but_loopback_and_other_schemes_are_refused(endpoint: str) -> None:
    with pytest.raises(GreenInvalidRequest) as raised:
        GreenClient(Credentials("id", "secret"), endpoint=endpoint)
    assert raised.value.field == "endpoint"


@pytest.mark.parametrize("endpoint", ["http://localhost.attacker.example", "http://127.0.0.1.nip.example"])
def test_plain_http_to_a_name_that_only_starts_like_loopback_is_refused(endpoint: str) -> None:
    with pytest.raises(GreenInvalidRequest):
        GreenClient(Credentials("id", "secret"), endpoint=endpoint)


def test_an_unknown_region_is_refused_and_a_known_one_picks_the_public_endpoint() -> None:
    with pytest.raises(GreenInvalidRequest) as raised:
        GreenClient(Credentials("id", "secret"), region="eu-west-1")
    assert raised.value.field == "region"
    assert GreenClient(Credentials("id", "secret"), region="ap-southeast-1").endpoint == \
        "https://green.ap-southeast-1.aliyuncs.com"
