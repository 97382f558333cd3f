"""The poll model the bench uses to derive poll-only latency at the template's schedule."""

from __future__ import annotations

import pytest

from greenlight_local.bench.poll_model import Schedule, latencies_over_phases, periodic, verdict_times


def test_a_record_is_asked_at_the_first_run_after_grace_and_batch_window() -> None:
    schedule = Schedule(interval=60, grace=60, batch_window=30, run_seconds=2)
    # Submitted at 0: due at 60, a partial group waits until 90; runs at 0, 60, 120: asked at 120.
    assert verdict_times([0.0], schedule, periodic(0, 60, 300)) == [122.0]
    # A run at 95 would take it (due 60, waited 35 >= 30).
    assert verdict_times([0.0], schedule, [95.0]) == [97.0]


def test_a_full_group_of_100_goes_at_once_without_waiting_for_the_window() -> None:
    schedule = Schedule(interval=60, grace=60, batch_window=30, run_seconds=1)
    times = verdict_times([float(i) / 100 for i in range(150)], schedule, [61.0, 121.0])
    assert times[:100] == [62.0] * 100  # one full request at 61
    assert times[100:] == [122.0] * 50  # the partial rest waits for the window


def test_records_no_run_reaches_stay_undecided_and_results_keep_input_order() -> None:
    schedule = Schedule(interval=10, grace=5, batch_window=0, run_seconds=0)
    assert verdict_times([30.0, 0.0], schedule, [10.0]) == [None, 10.0]


def test_latencies_pool_every_phase_of_the_schedule() -> None:
    schedule = Schedule(interval=60, grace=60, batch_window=30, run_seconds=0)
    pooled = latencies_over_phases([0.0], [1.0], schedule, phases=4)
    # Due at 61, partial group waits to 91; runs at 1+15k+60n: first run >= 91 per phase.
    assert sorted(pooled) == [91.0, 106.0, 121.0, 136.0]
    assert min(pooled) >= 60 + 30
    assert max(pooled) < 60 + 30 + 60 + 1


def test_periodic_schedule_and_its_bound() -> None:
    assert periodic(5.0, 10.0, 30.0) == [5.0, 15.0, 25.0]
    with pytest.raises(ValueError):
        periodic(0.0, 0.0, 1.0)


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="one upload time per submission"):
        latencies_over_phases([0.0, 1.0], [1.0], Schedule(60, 60, 30, 0))


def test_results_requests_count_one_per_group_asked() -> None:
    from greenlight_local.bench.poll_model import requests_over_phases, results_requests

    schedule = Schedule(interval=60, grace=60, batch_window=30, run_seconds=1)
    # 150 submissions within a second: one full request and one partial at a later run.
    assert results_requests([i / 150 for i in range(150)], schedule, [61.0, 121.0]) == 2
    # Spread over 100 s at 1.5/s: every phase asks in a few requests, never one per record.
    counts = requests_over_phases([i / 1.5 for i in range(150)], schedule, phases=10)
    assert all(2 <= n <= 4 for n in counts), counts
