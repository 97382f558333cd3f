"""The bench's statistics: percentiles, per-run latency summaries, and how two runs' medians compare."""

from __future__ import annotations

import pytest

from greenlight_local.bench.report import Multi, Row, Spread, compare, results
from greenlight_local.bench.stats import Latencies, percentile, relative_change


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 10.0
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)  # numpy's default gives the same


def test_percentile_ignores_input_order_and_handles_one_value() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.5], 95) == 7.5


@pytest.mark.parametrize("bad", [[], None])
def test_percentile_refuses_nothing(bad: list[float] | None) -> None:
    with pytest.raises(ValueError, match="at least one value"):
        percentile(bad or [], 50)


def test_percentile_refuses_out_of_range_q() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_latencies_summarise_one_run() -> None:
    summary = Latencies.of([4.0, 1.0, 2.0, 3.0])
    assert (summary.count, summary.p50, summary.max) == (4, 2.5, 4.0)
    assert summary.p95 == pytest.approx(3.85)


def test_relative_change_is_symmetric_and_zero_safe() -> None:
    assert relative_change(100.0, 80.0) == pytest.approx(0.2)
    assert relative_change(80.0, 100.0) == pytest.approx(0.2)
    assert relative_change(0.0, 0.0) == 0.0


def test_spread_shows_the_median_and_the_range_of_repeats() -> None:
    spread = Spread((3.0, 1.0, 2.0), "{:.1f}")
    assert str(spread) == "2.0 (1.0-3.0, 3 runs)"
    assert (spread.min, spread.median, spread.max) == (1.0, 2.0, 3.0)
    assert str(Spread((5.0,))) == "5.0"


def test_multi_cell_shows_medians_and_keeps_each_part_for_comparison() -> None:
    cell = Multi((("p50", Spread((1.0, 2.0, 3.0))), ("p95", Spread((4.0, 5.0, 6.0)))))
    assert str(cell) == "2.0 / 5.0"
    row = Row("Time to verdict", cell, Spread((10.0, 12.0, 11.0)))
    found = results(_report(row))
    assert found["Time to verdict"]["greenlight p95"]["median"] == 5.0
    assert found["Time to verdict"]["baseline"]["values"] == [10.0, 12.0, 11.0]


def test_compare_pairs_the_medians_both_runs_have() -> None:
    before = {"A": {"greenlight": {"median": 10.0}}, "B": {"greenlight": {"median": 1.0}}}
    after = {"A": {"greenlight": {"median": 13.0}, "baseline": {"median": 2.0}}, "C": {"greenlight": {"median": 1.0}}}
    [only] = compare(before, after)
    assert (only.figure, only.column, only.before, only.after) == ("A", "greenlight", 10.0, 13.0)
    assert only.change == pytest.approx(3 / 13)


def _report(row: Row):  # type: ignore[no-untyped-def]
    from greenlight_local.bench.report import Report, Section

    report = Report()
    report.add("figure", Section(rows=[row]))
    return report


def test_comparison_lists_only_medians_more_than_20_percent_apart() -> None:
    from greenlight_local.bench.report import Comparison, comparison_lines

    lines = comparison_lines([Comparison("A", "greenlight", 10.0, 11.0), Comparison("B", "baseline", 10.0, 14.0)],
                             "2026-12-03 10:00 UTC")
    text = "\n".join(lines)
    assert "1 of 2 medians agree within 20%" in text
    assert "- B (baseline): 10 then 14, 29% apart" in text
    assert "- A" not in text
    assert comparison_lines([], "then") == []


def test_load_summary_reports_overall_and_per_figure_load() -> None:
    from greenlight_local.bench.report import load_summary

    [line] = load_summary([("throughput", 2.0, 1.5), ("throughput", 4.0, 1.9), ("verdict", 1.0, 1.0)])
    assert "1-minute load average median 2.00 (min 1.00, max 4.00)" in line
    assert "throughput 3.00 / 1.70" in line and "verdict 1.00 / 1.00" in line
    assert "not sampled" in load_summary([])[0]
