"""The bench report's comparison with the previous run: which medians moved, and why."""

from __future__ import annotations

from greenlight_local.bench.report import Comparison, compare, comparison_lines


def test_medians_that_moved_more_than_the_tolerance_are_listed_with_a_reason() -> None:
    before = {"Time to verdict (s)": {"greenlight max": {"median": 10.0}, "greenlight p50": {"median": 5.0}},
              "Signing (µs)": {"greenlight": {"median": 20.0}}}
    after = {"Time to verdict (s)": {"greenlight max": {"median": 14.0}, "greenlight p50": {"median": 5.5}},
             "Signing (µs)": {"greenlight": {"median": 30.0}}, "New figure": {"greenlight": {"median": 1.0}}}

    comparisons = compare(before, after)
    lines = comparison_lines(comparisons, "yesterday")

    assert {(c.figure, c.column) for c in comparisons} == {
        ("Time to verdict (s)", "greenlight max"), ("Time to verdict (s)", "greenlight p50"),
        ("Signing (µs)", "greenlight")}
    assert "1 of 3 medians agree within 20%" in lines[2]
    moved = [line for line in lines if line.startswith("- ")]
    assert len(moved) == 2
    assert "10 then 14, 29% apart: a maximum is one image's time" in moved[0]
    assert moved[1].endswith("no known cause: worth a look")


def test_no_previous_figures_means_no_section() -> None:
    assert comparison_lines([], "never") == []
    assert Comparison("f", "c", 10.0, 10.0).change == 0


def test_what_changed_in_the_code_is_said_with_the_comparison() -> None:
    moved = [Comparison("First invocation, submit, 1 message (ms)", "greenlight", 940.0, 600.0)]

    lines = comparison_lines(moved, "yesterday", changes="clients share botocore's parsed data")

    assert "Changed in the code since: clients share botocore's parsed data" in lines
    assert not any("Changed in the code" in line for line in comparison_lines(moved, "yesterday"))


def test_a_p95_is_not_explained_as_a_maximum_and_one_measurement_shown_in_several_rows_is_listed_once() -> None:
    moved = [Comparison("Time to enforcement p50 / p95 / max, async (s)", "baseline p95", 15.89, 12.02),
             Comparison("Time to enforcement p50 / p95 / max, sync (s)", "greenlight p95", 15.89, 12.02),
             Comparison("Time to enforcement p50 / p95 / max, sync (s)", "greenlight p50", 9.0, 5.0)]

    listed = [line for line in comparison_lines(moved, "yesterday") if line.startswith("- ")]

    assert len(listed) == 2
    assert "(the same measurement as Time to enforcement p50 / p95 / max, sync (s) (greenlight p95))" in listed[0]
    assert listed[0].endswith("third- and fourth-slowest images: nearly as unstable as the maximum")
    assert listed[1].endswith("no known cause: worth a look")  # a p50 under a figure named "... max" is no maximum


def test_when_a_bare_interpreter_start_moved_the_timed_figures_are_put_down_to_the_machine() -> None:
    machine = Comparison("Interpreter start, python -c pass (process wall, ms)", "greenlight", 64.9, 32.1)
    cold = Comparison("Cold import submit_handler (ms)", "greenlight", 198.7, 131.9)
    rss = Comparison("Peak RSS, enforce, batch of 100 decisions (MB)", "greenlight", 100.0, 70.9)

    lines = comparison_lines([machine, cold, rss], "yesterday")
    steady_machine = comparison_lines([Comparison(machine.figure, "greenlight", 64.9, 60.0), cold], "yesterday")

    assert any(line.startswith("The machine's own speed moved: a bare interpreter start took 64.9 then 32.1 ms")
               for line in lines)
    listed = {line.split(" (greenlight)")[0][2:]: line for line in lines if line.startswith("- ")}
    assert listed[cold.figure].endswith("the machine itself ran at another speed (a bare interpreter start moved 51%)")
    assert listed[rss.figure].endswith("no known cause: worth a look")  # memory is no timed figure
    assert listed[machine.figure].endswith("nothing of ours runs in a bare interpreter start")
    assert steady_machine[-2].endswith("no known cause: worth a look")


def test_two_counts_that_moved_alike_are_not_taken_for_one_measurement() -> None:
    counts = [Comparison("Green results requests per 1,000 uploads, steady", "greenlight", 40.0, 60.0),
              Comparison("Green scan requests per 1,000 uploads, steady", "greenlight", 40.0, 60.0)]

    listed = [line for line in comparison_lines(counts, "yesterday") if line.startswith("- ")]

    assert len(listed) == 2 and not any("the same measurement" in line for line in listed)
