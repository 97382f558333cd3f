"""Wall time of the calls a handler makes, and small statistics over repeated measurements."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any


class CallTimer:
    """Wraps methods and functions to collect the wall time of every call (across threads).

    `wrap` replaces the attribute on its owner (a class or a module) until `restore`; a wrapped
    method is timed whichever instance it is called on."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.totals.setdefault(label, []).append(time.perf_counter() - started)

        setattr(owner, name, timed)
        self._restore.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def mean_ms(durations: Sequence[float]) -> float:
    return 1000 * sum(durations) / max(1, len(durations))


def timing_lines(totals: Mapping[str, Sequence[float]]) -> list[str]:
    return [f"  {label}: {len(d)} calls, {sum(d):.2f} s summed over threads, {mean_ms(d):.1f} ms each"
            for label, d in totals.items()]
