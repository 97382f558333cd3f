"""When the poller records a verdict, for a schedule too slow to measure in a benchmark.

With callbacks lost, a verdict waits for the poller (functions/poll/poll_logic.py): a record is due
`grace` seconds after it was submitted; the schedule runs the poller every `interval` seconds; a run
asks Green about the due records oldest first, 100 task ids a request, and sends a last, partial
request only once its oldest record has been due `batch_window` seconds (else those records wait
for a later run). The verdict is written `run_seconds` after the run starts.

`verdict_times` replays that rule on measured submission times for a given schedule phase. It is a
model: it assumes every result is ready when first asked (true when grace is well above Green's
processing time) and a constant run duration. The bench checks it against the measured run at the
local time scale before using it at the template's.

Stdlib only, pure: unit-tested in tests/unit/test_bench_poll_model.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_TASKS = 100  # task ids per results request
MAX_RUNS = 100_000  # bound on simulated runs


@dataclass(frozen=True)
class Schedule:
    interval: float  # seconds between poll runs (PollRate)
    grace: float  # POLL_GRACE_SECONDS
    batch_window: float  # POLL_BATCH_WINDOW_SECONDS
    run_seconds: float  # from a run's start until its verdicts are written


def periodic(first: float, interval: float, until: float) -> list[float]:
    """Run start times: `first`, then every `interval` seconds, up to and including `until`."""
    if interval <= 0:
        raise ValueError("the poll interval must be positive")
    count = min(MAX_RUNS, int((until - first) // interval) + 1)
    return [first + n * interval for n in range(max(0, count))]


def verdict_times(submitted: Sequence[float], schedule: Schedule, runs: Sequence[float]) -> list[float | None]:
    """For each submission time (any order), when its verdict is written by the poll runs starting at
    `runs` (sorted); None when no run reached it. The result is in the order of `submitted`."""
    return simulate(submitted, schedule, runs)[0]


def results_requests(submitted: Sequence[float], schedule: Schedule, runs: Sequence[float]) -> int:
    """How many results requests the poll runs starting at `runs` send for these submissions."""
    return simulate(submitted, schedule, runs)[1]


def simulate(submitted: Sequence[float], schedule: Schedule,
             runs: Sequence[float]) -> tuple[list[float | None], int]:
    """(verdict times in the order of `submitted`, results requests sent)."""
    requests = 0
    order = sorted(range(len(submitted)), key=lambda i: submitted[i])
    due = [submitted[i] + schedule.grace for i in order]
    done: list[float | None] = [None] * len(order)
    position = 0  # records before this one are done (asked in order, oldest first)
    for run in runs:
        if position >= len(order):
            break
        waiting = [k for k in range(position, len(order)) if due[k] <= run]
        while waiting:
            group = waiting[:MAX_TASKS]
            if len(group) < MAX_TASKS and run - due[group[0]] < schedule.batch_window:
                break  # the partial request waits for a later run
            for k in group:
                done[k] = run + schedule.run_seconds
            requests += 1
            position = group[-1] + 1
            waiting = waiting[MAX_TASKS:]
    result: list[float | None] = [None] * len(order)
    for k, index in enumerate(order):
        result[index] = done[k]
    return result, requests


def requests_over_phases(submitted: Sequence[float], schedule: Schedule, *, phases: int = 60) -> list[int]:
    """Results requests for these submissions under `phases` evenly spaced schedule phases."""
    start = min(submitted)
    horizon = max(submitted) + schedule.grace + schedule.batch_window + 3 * schedule.interval
    return [results_requests(submitted, schedule, periodic(start + schedule.interval * phase / phases,
                                                           schedule.interval, horizon)) for phase in range(phases)]


def latencies_over_phases(uploaded: Sequence[float], submitted: Sequence[float], schedule: Schedule, *,
                          phases: int = 60) -> list[float]:
    """Upload-to-verdict seconds of every image for `phases` evenly spaced schedule phases, pooled:
    the schedule's phase relative to the uploads is chance, so each phase is equally likely."""
    if len(uploaded) != len(submitted):
        raise ValueError("one upload time per submission time")
    start = min(submitted)
    horizon = max(submitted) + schedule.grace + schedule.batch_window + 3 * schedule.interval
    pooled: list[float] = []
    for phase in range(phases):
        times = verdict_times(submitted, schedule, periodic(start + schedule.interval * phase / phases,
                                                            schedule.interval, horizon))
        for finished, upload_time in zip(times, uploaded, strict=True):
            if finished is None:
                raise RuntimeError("the poll model left a record without a verdict; its horizon is too short")
            pooled.append(finished - upload_time)
    return pooled
