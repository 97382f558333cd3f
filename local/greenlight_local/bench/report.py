"""The report: rows beside their baselines, verdicts against targets, and the Markdown for BENCHMARKS.md.

A figure hands the runner a `Section` (its rows, how it was measured, why a target was missed, and
the evidence that sentence rests on); the report keeps the sections in the order the figures ran,
which is the table's order.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


Cell = str | Spread


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


@dataclass
class Report:
    sections: dict[str, Section] = field(default_factory=dict)  # by figure name, in the order they ran

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


def markdown(report: Report, *, quick: bool, figures: Sequence[str], when: str, elapsed: float,
             command: str) -> str:
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
        table(report),
        "",
    ]
    if report.misses:
        parts += ["## What holds back each missed target", ""] + [f"- {line}" for line in report.misses] + [""]
    parts += ["## How each figure was measured", ""] + [f"- {line}" for line in report.settings] + [""]
    if report.evidence:
        parts += ["## Evidence", "", "```", *report.evidence, "```", ""]
    parts += [f"Reproduce: `{COMMAND}`, which runs `{RAW_COMMAND}` (about 10 minutes on 2 CPUs). Add `--quick` "
              f"for a fast smaller run, `--only NAME` for one figure ({', '.join(figures)}).", ""]
    return "\n".join(parts)
