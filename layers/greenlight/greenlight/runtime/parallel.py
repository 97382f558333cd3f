"""Run independent, I/O-bound calls (one per object) on a small thread pool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 8  # boto3 clients are thread-safe; their default pool holds 10 connections (ours: 16)


def io_map(function: Callable[[T], R], items: Sequence[T], workers: int = WORKERS) -> list[R]:
    """`[function(item) for item in items]`, in order, with up to `workers` calls at once."""
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(function, items))
