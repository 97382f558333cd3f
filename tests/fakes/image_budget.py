"""An in-memory ImageBudget (greenlight.ports) with the DynamoDB adapter's rules: a day's count never goes
above the limit a caller passes, and a batch that does not fit gets what is left.

tests/integration/test_budget_contract.py runs one suite against this and the real counters on moto.
"""

from __future__ import annotations

import threading


class InMemoryImageBudget:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.writes = 0  # conditional writes made, as the table would count them
        self.fail_next: Exception | None = None  # raised by the next call (the table unreachable)

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure

    def take(self, day: str, images: int, *, limit: int) -> int:
        self._maybe_fail()
        wanted = min(images, limit)
        if wanted <= 0:
            return 0
        with self._lock:
            used = self.counts.get(day, 0)
            self.writes += 1
            granted = wanted if used + wanted <= limit else max(0, limit - used)
            if granted < wanted and granted:
                self.writes += 1  # the adapter's second, exact write for what is left
            self.counts[day] = used + granted
            return granted

    def give_back(self, day: str, images: int) -> None:
        self._maybe_fail()
        with self._lock:
            if images > 0 and self.counts.get(day, 0) >= images:
                self.counts[day] -= images
                self.writes += 1

    def used(self, day: str) -> int:
        self._maybe_fail()
        with self._lock:
            return self.counts.get(day, 0)
