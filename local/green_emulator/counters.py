"""Thread-safe counters, read back as one nested JSON-ready dict (GET /_emulator/stats)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from green_emulator.protocol import OPERATIONS

CALLBACK_COUNTERS = ("sent", "delivered", "failed", "retries", "dropped", "duplicated", "blocked")


class Counters:
    """Counts keyed by a path such as ("responses", "scan", "code", "588").

    The snapshot nests the path, and always holds the well-known keys (at zero) so a test can read
    stats["calls"]["scan"] without guarding against KeyError.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, ...]] = Counter()

    def inc(self, *path: str | int, by: int = 1) -> None:
        key = tuple(str(part) for part in path)
        with self._lock:
            self._counts[key] += by

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        tree: dict[str, Any] = {
            "calls": dict.fromkeys(OPERATIONS, 0),
            "responses": {op: {"http": {}, "code": {}} for op in OPERATIONS},
            "gateway_rejections": {},
            "tasks_submitted": 0,
            "tasks_finished": {},
            "downloads": 0,
            "callbacks": dict.fromkeys(CALLBACK_COUNTERS, 0),
            "faults": {},
            "feedback_received": 0,
        }
        for path, value in sorted(counts.items()):
            node = tree
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
        return tree
