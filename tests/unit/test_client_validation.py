"""GreenClient refuses bad input before sending anything, naming the field; retry delay math.

No network: the client gets a recording session that answers every request as Green would."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from greenlight.green.client import GreenClient, RetryPolicy
from greenlight.green.errors import GreenInvalidRequest
from greenlight.green.signer import Credentials
from greenlight.green.wire import Feedback, ScanTask

GOOD_URL = "https://example.com/a.png"
ENDPOINT = "https://green.example.com"


class RecordingSession:
    """Stands in for requests.Session: records each post and answers code 200 with one task per item sent."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []

    def post(self, url: str, *, data: bytes, **kwargs: Any) -> requests.Response:
        path = url.removeprefix(ENDPOINT).split("?", 1)[0]
        payload = json.loads(data)
        self.posts.append((path, payload))
        items = payload if isinstance(payload, list) else payload.get("tasks", [])
        tasks = [{"code": 200, "taskId": item} if isinstance(item, str) else
                 {"code": 200, "taskId": f"img-{item['dataId']}", "dataId": item["dataId"]} for item in items]
        answer = requests.Response()
        answer.status_code = 200
        answer._content = json.dumps({"code": 200, "msg": "OK", "requestId": "r", "data": tasks}).encode()
        return answer


def client_on(session: RecordingSession) -> GreenClient:
    return GreenClient(Credentials("id", "secret"), endpoint=ENDPOINT, session=cast(requests.Session, session),
                       retry=RetryPolicy(max_attempts=1))


def tasks(count: int) -> list[ScanTask]:
    return [ScanTask(f"d{i}", GOOD_URL) for i in range(count)]


CASES: list[tuple[str, Callable[[GreenClient], Any], str]] = [
    ("no tasks", lambda c: c.image_sync_scan([], ["porn"]), "tasks"),
    ("101 tasks", lambda c: c.image_sync_scan(tasks(101), ["porn"]), "tasks"),
    ("101 async tasks", lambda c: c.image_async_scan(tasks(101), ["porn"]), "tasks"),
    ("url of 2049 characters",
     lambda c: c.image_sync_scan([ScanTask("d", "https://example.com/" + "a" * 2029)], ["porn"]), "tasks[0].url"),
    ("ftp url", lambda c: c.image_sync_scan([ScanTask("d", "ftp://example.com/a.png")], ["porn"]), "tasks[0].url"),
    ("empty url", lambda c: c.image_sync_scan([ScanTask("d", "")], ["porn"]), "tasks[0].url"),
    ("unknown scene", lambda c: c.image_sync_scan(tasks(1), ["porn", "nudity"]), "scenes"),
    ("no scenes", lambda c: c.image_sync_scan(tasks(1), []), "scenes"),
    ("scenes as a string", lambda c: c.image_sync_scan(tasks(1), "porn"), "scenes"),
    ("callback without seed",
     lambda c: c.image_async_scan(tasks(1), ["porn"], callback="https://hooks.example.com/g"), "seed"),
    ("seed with bad characters",
     lambda c: c.image_async_scan(tasks(1), ["porn"], callback="https://hooks.example.com/g", seed="s33d!"), "seed"),
    ("seed of 65 characters",
     lambda c: c.image_async_scan(tasks(1), ["porn"], callback="https://hooks.example.com/g", seed="s" * 65), "seed"),
    ("ftp callback", lambda c: c.image_async_scan(tasks(1), ["porn"], callback="ftp://h/g", seed="s"), "callback"),
    ("duplicate dataId",
     lambda c: c.image_sync_scan([ScanTask("same", GOOD_URL), ScanTask("same", GOOD_URL)], ["porn"]),
     "tasks[1].dataId"),
    ("empty dataId", lambda c: c.image_sync_scan([ScanTask("", GOOD_URL)], ["porn"]), "tasks[0].dataId"),
    ("dataId of 129 characters", lambda c: c.image_sync_scan([ScanTask("d" * 129, GOOD_URL)], ["porn"]),
     "tasks[0].dataId"),
    ("url without a host", lambda c: c.image_sync_scan([ScanTask("d", "https:///a.png")], ["porn"]), "tasks[0].url"),
    ("second task's url bad", lambda c: c.image_async_scan([ScanTask("a", GOOD_URL), ScanTask("b", "a.png")],
                                                           ["porn"]), "tasks[1].url"),
    ("empty seed with a callback",
     lambda c: c.image_async_scan(tasks(1), ["porn"], callback="https://hooks.example.com/g", seed=""), "seed"),
    ("results with no ids", lambda c: c.image_async_results([]), "taskIds"),
    ("results with 101 ids", lambda c: c.image_async_results([f"img{i}" for i in range(101)]), "taskIds"),
    ("results with an empty id", lambda c: c.image_async_results(["img1", ""]), "taskIds"),
    ("feedback suggestion review", lambda c: c.image_scan_feedback(Feedback(suggestion="review", scenes=("porn",))),
     "suggestion"),
    ("feedback suggestion without scenes", lambda c: c.image_scan_feedback(Feedback(suggestion="block")), "scenes"),
    ("feedback with an unknown scene",
     lambda c: c.image_scan_feedback(Feedback(suggestion="block", scenes=("nudity",))), "scenes"),
    ("feedback with an ftp url", lambda c: c.image_scan_feedback(Feedback(task_id="img1", url="ftp://h/a.png")), "url"),
]


@pytest.mark.parametrize(("case", "call", "field"), CASES, ids=[case[0] for case in CASES])
def test_client_rejects_before_sending(case: str, call: Callable[[GreenClient], Any], field: str) -> None:
    # Given a client on a session that records what is sent
    session = RecordingSession()
    client = client_on(session)

    # When the input is invalid, Then it raises naming the field
    with pytest.raises(GreenInvalidRequest) as raised:
        call(client)
    assert raised.value.field == field

    # And nothing was sent
    assert session.posts == []


def test_boundaries_are_accepted() -> None:
    # 100 ids, 100 tasks, a URL of exactly 2048 characters, a dataId of 128 and a seed of 64 are within
    # Green's limits and are sent as given.
    session = RecordingSession()
    client = client_on(session)
    long_url = "http://127.0.0.1:9/" + "a" * (2048 - len("http://127.0.0.1:9/"))
    assert len(long_url) == 2048
    ids = [f"img{i}" for i in range(100)]

    assert len(client.image_async_results(ids)) == 100
    assert len(client.image_async_scan([ScanTask("d" * 128, long_url)], ["porn"],
                                       callback="https://hooks.example.com/g", seed="S_9" * 21 + "x")) == 1
    assert len(client.image_sync_scan(tasks(100), ["porn", "terrorism"])) == 100

    assert [path for path, _ in session.posts] == ["/green/image/results", "/green/image/asyncscan",
                                                   "/green/image/scan"]
    results, asyncscan, syncscan = (payload for _, payload in session.posts)
    assert results == ids
    assert (asyncscan["tasks"][0]["url"], asyncscan["tasks"][0]["dataId"]) == (long_url, "d" * 128)
    assert len(asyncscan["seed"]) == 64
    assert len(syncscan["tasks"]) == 100 and syncscan["scenes"] == ["porn", "terrorism"]


# -- retry policy math ---------------------------------------------------------------------------

def test_retry_delay_doubles_and_caps_with_a_pinned_draw() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=5.0)

    assert [policy.delay(n, 1.0) for n in range(7)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    assert [policy.delay(n, 0.5) for n in range(4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert policy.delay(30, 0.5) == pytest.approx(2.5)  # the cap applies before the jitter
    assert policy.delay(3, 0.0) == 0.0


@given(attempt=st.integers(min_value=0, max_value=60), draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_retry_delay_stays_within_full_jitter_bounds(attempt: int, draw: float) -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=5.0)
    ceiling = min(policy.max_delay, policy.base_delay * 2**attempt)

    delay = policy.delay(attempt, draw)

    assert 0.0 <= delay < ceiling or (delay == 0.0 == ceiling)
    assert delay <= policy.max_delay
