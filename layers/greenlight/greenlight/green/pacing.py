"""Client-side pacing: a token bucket that keeps one instance under its share of Green's quota.

Green counts scans per image, so a scan of 100 images takes 100 tokens; other requests take one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` requests a second with bursts of up to `burst`; `acquire` waits for a token."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self, cost: float = 1) -> None:
        """Take `cost` tokens, waiting as long as the bucket is in debt. No loop: a caller reserves its
        tokens at once (possibly going below zero) and sleeps for exactly the time that repays them."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate) - cost
            self._updated = now
            wait = max(0.0, -self._tokens / self.rate)
        if wait > 0:
            self._sleep(wait)
