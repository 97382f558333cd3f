"""Fault decisions from one seeded random.Random, plus per-operation token buckets for QPS."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from green_emulator.config import Faults


class FaultInjector:
    """Holds the current Faults and answers "inject now?" reproducibly from the seed.

    A draw is taken only when a rate is strictly between 0 and 1, so a rate of 0 or 1 never shifts
    the sequence seen by the other faults.
    """

    def __init__(self, faults: Faults, seed: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._faults = faults
        self._random = random.Random(seed)
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def reset(self, faults: Faults, seed: int) -> None:
        with self._lock:
            self._faults = faults
            self._random = random.Random(seed)
            self._buckets.clear()

    def update(self, changes: Mapping[str, Any]) -> Faults:
        """Apply changes (validated as a whole before anything changes); "fault_seed" reseeds."""
        changes = dict(changes)
        seed = changes.pop("fault_seed", None)
        with self._lock:
            updated = self._faults.with_changes(changes)
            if seed is not None:
                self._random = random.Random(int(seed))
            if updated.qps != self._faults.qps:
                self._buckets.clear()
            self._faults = updated
            return updated

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._random.random() < rate

    def uniform(self, upper: float) -> float:
        if upper <= 0:
            return 0.0
        with self._lock:
            return self._random.uniform(0, upper)

    def pick(self, options: tuple[int, ...]) -> int:
        with self._lock:
            return self._random.choice(options)

    def take_token(self, operation: str) -> bool:
        """False when `operation` is over its QPS limit (token bucket, burst of one second)."""
        with self._lock:
            limit = self._faults.qps.get(operation)
            if limit is None:
                return True
            now = self._clock()
            tokens, last = self._buckets.get(operation, (limit, now))
            tokens = min(limit, tokens + (now - last) * limit)
            if tokens < 1:
                self._buckets[operation] = (tokens, now)
                return False
            self._buckets[operation] = (tokens - 1, now)
            return True
