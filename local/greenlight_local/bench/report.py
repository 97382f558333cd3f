"""The report: rows beside their baselines, verdicts against targets, and the Markdown for BENCHMARKS.md.

A figure hands the runner a `Section` (its rows, how it was measured, why a target was missed, and
the evidence that sentence rests on); the report keeps the sections in the order the figures ran,
which is the table's order.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenlight_local.bench.stats import relative_change

COMMAND = "make bench"
RAW_COMMAND = "PYTHONPATH=layers/greenlight:local .venv/bin/python -m greenlight_local.bench --write BENCHMARKS.md"


@dataclass(frozen=True)
class Spread:
    """One figure measured several times: shown as the median, with the range when there is more than one."""

    values: tuple[float, ...]
    fmt: str = "{:.1f}"

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a spread needs at least one measurement")

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def max(self) -> float:
        return max(self.values)

    def __str__(self) -> str:
        text = self.fmt.format(self.median)
        if len(self.values) > 1:
            text += f" ({self.fmt.format(self.min)}-{self.fmt.format(self.max)}, {len(self.values)} runs)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.min, "max": self.max, "values": list(self.values)}


@dataclass(frozen=True)
class Multi:
    """Several repeated figures in one cell (p50 / p95 / max): their medians, separated by slashes."""

    parts: tuple[tuple[str, Spread], ...]

    def __str__(self) -> str:
        return " / ".join(part.fmt.format(part.median) for _, part in self.parts)

    def ranges(self) -> str:
        return ", ".join(f"{label} {part}" for label, part in self.parts)


Cell = str | Spread | Multi


@dataclass(frozen=True)
class Row:
    figure: str
    ours: Cell
    baseline: Cell
    ratio: str = "-"
    target: str = "-"
    result: str = "-"

    def cells(self) -> list[str]:
        return [self.figure, str(self.ours), str(self.baseline), self.ratio, self.target, self.result]


@dataclass
class Section:
    """What one figure adds to the report."""

    rows: list[Row] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)  # how the figure was measured
    misses: list[str] = field(default_factory=list)  # one sentence per missed target
    evidence: list[str] = field(default_factory=list)  # what the sentences rest on (import costs, profile)
    details: list[str] = field(default_factory=list)  # Markdown shown under the table (breakdowns, costs)


@dataclass
class Report:
    sections: dict[str, Section] = field(default_factory=dict)  # by figure name, in the order they ran
    load: list[tuple[str, float, float]] = field(default_factory=list)  # (figure, 1-min load, CPUs busy)

    def add(self, name: str, section: Section) -> None:
        self.sections[name] = section

    @property
    def rows(self) -> list[Row]:
        return [row for section in self.sections.values() for row in section.rows]

    @property
    def settings(self) -> list[str]:
        return [line for section in self.sections.values() for line in section.settings]

    @property
    def misses(self) -> list[str]:
        return [line for section in self.sections.values() for line in section.misses]

    @property
    def evidence(self) -> list[str]:
        return [line for section in self.sections.values() for line in section.evidence]

    @property
    def details(self) -> list[str]:
        return [line for section in self.sections.values() for line in section.details]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def per_thousand(count: float, images: int) -> float:
    return count * 1000 / images


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def machine() -> str:
    """CPU, CPU count, memory, Python and OS of this machine, in one line."""
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text(encoding="utf-8").split()[1])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs{memory}; Python {platform.python_version()} ({sys.executable}); "
            f"{system}")


def table(report: Report) -> str:
    header = Row("Figure", "greenlight", "Baseline (same run)", "Ratio", "Target", "Result")
    cells = [row.cells() for row in [header, *report.rows]]
    widths = [max(len(line[i]) for line in cells) for i in range(6)]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"
             for line in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def load_summary(samples: Sequence[tuple[str, float, float]]) -> list[str]:
    """The machine's load while the bench ran, overall and per figure."""
    if not samples:
        return ["Load: not sampled (the run was shorter than one sampling interval)."]
    loads = [s[1] for s in samples]
    busy = [s[2] for s in samples]
    lines = [f"Load on this machine while the bench ran ({len(samples)} samples, every 5 s): 1-minute load "
             f"average median {statistics.median(loads):.2f} (min {min(loads):.2f}, max {max(loads):.2f}); CPUs "
             f"busy (every process, the bench's own included, /proc/stat) median {statistics.median(busy):.2f} of "
             f"{os.cpu_count()} (max {max(busy):.2f}). By figure (median load average / CPUs busy): " + ", ".join(
                 f"{name} {statistics.median([s[1] for s in samples if s[0] == name]):.2f} / "
                 f"{statistics.median([s[2] for s in samples if s[0] == name]):.2f}"
                 for name in dict.fromkeys(s[0] for s in samples)) + "."]
    return lines


def results(report: Report) -> dict[str, dict[str, Any]]:
    """Every repeated figure's values, by row and column, for comparing two runs."""
    found: dict[str, dict[str, Any]] = {}
    for row in report.rows:
        for column, cell in (("greenlight", row.ours), ("baseline", row.baseline)):
            if isinstance(cell, Spread):
                found.setdefault(row.figure, {})[column] = cell.to_json()
            elif isinstance(cell, Multi):
                for label, part in cell.parts:
                    found.setdefault(row.figure, {})[f"{column} {label}"] = part.to_json()
    return found


@dataclass(frozen=True)
class Comparison:
    figure: str
    column: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return relative_change(self.before, self.after)


def compare(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> list[Comparison]:
    """Medians of the figures both runs measured, row by row."""
    return [Comparison(figure, column, float(before[figure][column]["median"]), float(values["median"]))
            for figure, columns in after.items() if figure in before
            for column, values in columns.items() if column in before[figure]]


# Why a median may move between runs on one machine: by the column's statistic (a wave's maximum or
# p95), then by the machine's own speed (below), then by what the figure is (first match wins).
UNSTEADY_STATISTIC = (
    (" max", "a maximum is one image's time out of a wave of 50, the least stable statistic there is"),
    (" p95", "the p95 of a wave of 50 lies between its third- and fourth-slowest images: nearly as "
     "unstable as the maximum"),
)
UNSTEADY = (
    ("requests per 1,000 uploads, steady", "counted over waves of 50 uploads: one request more or less "
     "in a wave is 20 per 1,000, and whether the poller's window catches a straggler is timing"),
    ("First invocation", "one cold invocation per round: imports and first connections, which other "
     "processes on the machine slow by a few hundred milliseconds"),
)


# The machine's own speed: a bare interpreter start does none of our work, so when it moves between
# runs, every timed figure may have moved with it.
MACHINE_SPEED = "Interpreter start"
TIMED = ("(ms", " ms)", "(s)", "(s,", "images/s")


def why_unsteady(comparison: Comparison, machine: Comparison | None = None) -> str:
    for ending, why in UNSTEADY_STATISTIC:
        if comparison.column.endswith(ending):
            return why
    if comparison is machine:
        return "the machine's own speed: nothing of ours runs in a bare interpreter start"
    if machine is not None and any(unit in comparison.figure for unit in TIMED):
        return f"the machine itself ran at another speed (a bare interpreter start moved {machine.change:.0%})"
    for clue, why in UNSTEADY:
        if clue in comparison.figure:
            return why
    return "no known cause: worth a look"


def comparison_lines(comparisons: Sequence[Comparison], previous_when: str, tolerance: float = 0.20,
                     changes: str = "") -> list[str]:
    """Medians against the previous run's; `changes` says what changed in the code between the two (a
    median that moved for that reason is not the machine's noise). A measurement several rows show (the
    sync run is every time-to-enforcement row's baseline) is listed once, naming the other rows."""
    if not comparisons:
        return []
    off = [c for c in comparisons if c.change > tolerance]
    machine = next((c for c in off if c.figure.startswith(MACHINE_SPEED)), None)
    lines = [f"## Against the previous run ({previous_when})", "",
             *([f"Changed in the code since: {changes}", ""] if changes else []),
             *([f"The machine's own speed moved: a bare interpreter start took {machine.before:.4g} then "
                f"{machine.after:.4g} ms ({machine.change:.0%} apart), so timed figures may have moved with it.",
                ""] if machine else []),
             f"{len(comparisons) - len(off)} of {len(comparisons)} medians agree within {tolerance:.0%} "
             "(change relative to the larger of the two)." + (" Those that do not, and why:" if off else ""), ""]
    series: dict[object, list[Comparison]] = {}
    for c in off:
        series.setdefault(_measurement(c), []).append(c)
    for first, *same in series.values():
        also = f" (the same measurement as {'; '.join(f'{c.figure} ({c.column})' for c in same)})" if same else ""
        lines.append(f"- {first.figure} ({first.column}): {first.before:.4g} then {first.after:.4g}, "
                     f"{first.change:.0%} apart{also}: {why_unsteady(first, machine)}")
    return [*lines, ""]


def _measurement(comparison: Comparison) -> object:
    """What identifies one measurement shown in several rows: the same two medians of the same statistic
    (times have many digits; two whole numbers, counts, may agree by chance and stay apart)."""
    if comparison.before.is_integer() and comparison.after.is_integer():
        return comparison
    return comparison.before, comparison.after, comparison.column.split()[-1]


def markdown(report: Report, *, quick: bool, figures: Sequence[str], when: str, elapsed: float,
             command: str, previous: Mapping[str, Any] | None = None, notes: Sequence[str] = (),
             changes: str = "") -> str:
    """BENCHMARKS.md: when and how it was measured, the table, the misses explained, then the details."""
    note = " Quick mode: smaller runs, figures scaled to 1,000 where they say so; not the run of record." \
        if quick else ""
    parts = [
        "# Benchmarks",
        "",
        f"Measured on {when} with `{command}` in {elapsed / 60:.1f} min. Everything ran on this machine against "
        "the local stack (moto server, the Green emulator, the functions in Lambda-like processes); each "
        f"baseline was measured in the same run.{note}",
        "",
        f"Machine: {machine()}.",
        "",
        *load_summary(report.load),
        "",
        "Every timed figure was measured several times in this run: the median, then (min-max, runs). Targets "
        "are judged on the median.",
        "",
        table(report),
        "",
        *notes,
    ]
    if report.misses:
        parts += ["## What holds back each missed target", ""] + [f"- {line}" for line in report.misses] + [""]
    parts += report.details
    parts += ["## How each figure was measured", ""] + [f"- {line}" for line in report.settings] + [""]
    if previous:
        parts += comparison_lines(compare(previous.get("results", {}), results(report)), str(previous.get("when")),
                                  changes=changes)
    if report.evidence:
        parts += ["## Evidence", "", "```", *report.evidence, "```", ""]
    parts += [f"Reproduce: `{COMMAND}`, which runs `{RAW_COMMAND}` (its time on this machine, and the load it ran "
              "under, are at the top). Add `--quick` "
              f"for a fast smaller run, `--only NAME` for one figure ({', '.join(figures)}).", ""]
    return "\n".join(parts)
