"""GreenClient refuses bad input before sending anything, naming the field; retry delay math."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from green_emulator import RunningEmulator
from greenlight.green.client import GreenClient, RetryPolicy
from greenlight.green.errors import GreenInvalidRequest
from greenlight.green.wire import Feedback, ScanTask

GOOD_URL = "https://example.com/a.png"


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
    ("results with no ids", lambda c: c.image_async_results([]), "taskIds"),
    ("results with 101 ids", lambda c: c.image_async_results([f"img{i}" for i in range(101)]), "taskIds"),
    ("results with an empty id", lambda c: c.image_async_results(["img1", ""]), "taskIds"),
    ("feedback suggestion review", lambda c: c.image_scan_feedback(Feedback(suggestion="review", scenes=("porn",))),
     "suggestion"),
    ("feedback suggestion without scenes", lambda c: c.image_scan_feedback(Feedback(suggestion="block")), "scenes"),
]


@pytest.mark.parametrize(("case", "call", "field"), CASES, ids=[case[0] for case in CASES])
def test_client_rejects_before_sending(emulator: RunningEmulator, green_client: Callable[..., GreenClient],
                                       case: str, call: Callable[[GreenClient], Any], field: str) -> None:
    # Given a client pointed at the emulator
    client = green_client()

    # When the input is invalid, Then it raises naming the field
    with pytest.raises(GreenInvalidRequest) as raised:
        call(client)
    assert raised.value.field == field

    # And nothing reached the server
    assert client.stats.requests == 0
    assert sum(emulator.stats()["calls"].values()) == 0


def test_boundaries_are_accepted(emulator: RunningEmulator, green_client: Callable[..., GreenClient]) -> None:
    # 100 ids and a URL of exactly 2048 characters are within Green's limits and are sent.
    client = green_client()
    long_url = "http://127.0.0.1:9/" + "a" * (2048 - len("http://127.0.0.1:9/"))
    assert len(long_url) == 2048

    assert len(client.image_async_results([f"img{i}" for i in range(100)])) == 100
    assert len(client.image_async_scan([ScanTask("d", long_url)], ["porn"])) == 1
    assert emulator.stats()["calls"] == {"scan": 0, "asyncscan": 1, "results": 1, "feedback": 0}


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
