"""Fault decisions from one seeded random.Random, per-operation token buckets for QPS, the outage
window, and the network model's draws (from a generator of their own)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from green_emulator.config import Faults

T = TypeVar("T")


class FaultInjector:
    """Holds the current Faults and answers "inject now?" reproducibly from the seed.

    A draw is taken only when a rate is strictly between 0 and 1, so a rate of 0 or 1 never shifts
    the sequence seen by the other faults. The network model draws from a second generator, so
    switching it on does not change which requests the faults hit.
    """

    def __init__(self, faults: Faults, seed: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._faults = faults
        self._random = random.Random(seed)
        self._network = random.Random(f"network:{seed}")
        self._buckets: dict[str, tuple[float, float]] = {}
        self._outage_ends = clock() + faults.outage_seconds

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def reset(self, faults: Faults, seed: int) -> None:
        with self._lock:
            self._faults = faults
            self._random = random.Random(seed)
            self._network = random.Random(f"network:{seed}")
            self._buckets.clear()
            self._outage_ends = self._clock() + faults.outage_seconds

    def update(self, changes: Mapping[str, Any]) -> Faults:
        """Apply changes (validated as a whole before anything changes); "fault_seed" reseeds.
        Setting outage_mode or outage_seconds (re)starts the outage window now."""
        changes = dict(changes)
        seed = changes.pop("fault_seed", None)
        with self._lock:
            updated = self._faults.with_changes(changes)
            if seed is not None:
                self._random = random.Random(int(seed))
                self._network = random.Random(f"network:{int(seed)}")
            if updated.qps != self._faults.qps:
                self._buckets.clear()
            if "outage_mode" in changes or "outage_seconds" in changes:
                self._outage_ends = self._clock() + updated.outage_seconds
            self._faults = updated
            return updated

    # -- seeded decisions ---------------------------------------------------------------------------

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

    def pick(self, options: Sequence[T]) -> T:
        if len(options) == 1:  # no draw, as for rates of 0 and 1
            return options[0]
        with self._lock:
            return self._random.choice(options)

    def network_delay(self, base: float, jitter: float) -> float:
        """base plus up to `jitter` seconds, from the network generator."""
        if jitter <= 0:
            return base
        with self._lock:
            return base + self._network.uniform(0, jitter)

    # -- outage and QPS -----------------------------------------------------------------------------

    def outage(self) -> str:
        """The outage mode in force now, or "" when there is none."""
        with self._lock:
            if self._faults.outage_mode and self._clock() < self._outage_ends:
                return self._faults.outage_mode
            return ""

    def outage_remaining(self) -> float:
        with self._lock:
            if not self._faults.outage_mode:
                return 0.0
            return max(0.0, self._outage_ends - self._clock())

    def take_token(self, operation: str, cost: int = 1) -> bool:
        """False when `operation` is over its QPS limit: a token bucket holding one second of tokens.

        A request costing more than a full bucket (100 images at 50 QPS, or any request below 1 QPS)
        passes when the bucket is full and leaves it in debt, so it is slowed like the rest instead of
        refused for ever. A refused request takes nothing.
        """
        with self._lock:
            limit = self._faults.qps.get(operation)
            if limit is None:
                return True
            now = self._clock()
            tokens, last = self._buckets.get(operation, (limit, now))
            tokens = min(limit, tokens + (now - last) * limit)
            if tokens < min(cost, limit):
                self._buckets[operation] = (tokens, now)
                return False
            self._buckets[operation] = (tokens - cost, now)
            return True
