"""Small statistics for the report: percentiles of one run, and medians across repeated runs.

Stdlib only, pure: unit-tested in tests/unit/test_bench_stats.py.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default,
    "type 7"): p0 is the minimum, p100 the maximum, p50 the median."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("a percentile needs at least one value")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Latencies:
    """p50, p95 and max of one run's per-image times (seconds)."""

    count: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Latencies:
        return cls(len(values), percentile(values, 50), percentile(values, 95), max(values))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def relative_change(first: float, second: float) -> float:
    """|second - first| relative to the larger of the two (0 when both are 0): symmetric, so the
    order of two runs does not change whether they agree within a tolerance."""
    larger = max(abs(first), abs(second))
    return 0.0 if larger == 0 else abs(second - first) / larger
