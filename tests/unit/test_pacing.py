"""Client-side pacing: the token bucket that keeps an instance under its share of Green's quota.

Green counts scans per image, so `acquire(cost)` takes `cost` tokens (tests/unit/test_client_errors.py
checks that GreenClient charges a scan one token per image)."""

from __future__ import annotations

import threading

import pytest

from greenlight.green.pacing import TokenBucket


class FakeClock:
    """A monotonic clock that moves only when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_burst_passes_then_requests_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        bucket.acquire()
    assert clock.now == 0.0 and clock.sleeps == []  # the burst went through at once

    for _ in range(10):
        bucket.acquire()
    assert clock.now == pytest.approx(1.0)  # ten more at 10/s took one second
    assert clock.sleeps == pytest.approx([0.1] * 10)


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()

    clock.now += 60  # a long pause earns no more than the burst
    for _ in range(3):
        bucket.acquire()

    assert clock.now == pytest.approx(60.5)


def test_a_scan_of_n_images_waits_for_n_tokens() -> None:
    # Given a bucket of 10 a second, full with its burst of 10
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=10, clock=clock, sleep=clock.sleep)

    # When a scan of 25 images takes its tokens
    bucket.acquire(25)

    # Then it waited for the 15 beyond the burst, and the next request waits for its own token
    assert clock.sleeps == pytest.approx([1.5])
    bucket.acquire(1)
    assert clock.sleeps == pytest.approx([1.5, 0.1])


def test_a_cost_within_the_burst_passes_at_once_and_empties_the_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=8, clock=clock, sleep=clock.sleep)

    bucket.acquire(8)
    assert clock.sleeps == []
    bucket.acquire(2)
    assert clock.sleeps == pytest.approx([0.5])


def test_callers_at_the_same_instant_queue_behind_each_others_debt() -> None:
    # A sleep that does not move the clock: every caller asks at t=0 (as concurrent threads would).
    waits: list[float] = []
    bucket = TokenBucket(rate=10, burst=10, clock=lambda: 0.0, sleep=waits.append)

    bucket.acquire(10)  # the burst
    bucket.acquire(5)
    bucket.acquire(5)
    bucket.acquire(1)

    assert waits == pytest.approx([0.5, 1.0, 1.1])


def test_concurrent_callers_never_take_more_than_the_rate() -> None:
    # Given eight threads that each take 5 tokens at the same instant from a bucket of 10 a second
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    bucket = TokenBucket(rate=10, burst=10, clock=lambda: 0.0, sleep=record)
    threads = [threading.Thread(target=bucket.acquire, args=(5,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    # Then two fit the burst and the other six wait 0.5 s more each, whatever order they came in
    assert sorted(waits) == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])


def test_burst_defaults_to_the_rate_and_at_least_one() -> None:
    assert TokenBucket(rate=40).burst == 40
    assert TokenBucket(rate=0.5).burst == 1.0


@pytest.mark.parametrize("rate", [0, -1])
def test_a_rate_that_is_not_positive_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=rate)
