"""Client-side pacing: the token bucket that keeps an instance under its share of Green's quota."""

from __future__ import annotations

from greenlight.green.pacing import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_passes_then_requests_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock, sleep=clock.sleep)

    for _ in range(5):
        bucket.acquire()
    assert clock.now == 0.0  # the burst went through at once

    for _ in range(10):
        bucket.acquire()
    assert abs(clock.now - 1.0) < 1e-9  # ten more at 10/s took one second
    assert abs(bucket.waited - 1.0) < 1e-9


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()

    clock.now += 60  # a long pause earns no more than the burst
    for _ in range(3):
        bucket.acquire()

    assert abs(clock.now - 60.5) < 1e-9
