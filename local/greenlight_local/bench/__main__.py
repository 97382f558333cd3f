"""The runner: `python -m greenlight_local.bench [--quick] [--only NAME[,NAME...]] [--write FILE]`.

Runs the figures in FIGURES' order (the table's; runs shared between figures happen once), prints
the report and, with --write, writes it to FILE. A new figure is a module with a `FIGURE`, added here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from greenlight_local.bench import (
    aws_cost,
    end_to_end,
    imports,
    memory,
    request_counts,
    signing,
    throughput,
    verdict_time,
)
from greenlight_local.bench.harness import QUICK, Bench, BenchConfig, Figure
from greenlight_local.bench.report import Report, markdown, results
from greenlight_local.bench.resources import LoadSampler

FIGURES: tuple[Figure, ...] = (throughput.FIGURE, verdict_time.FIGURE, request_counts.FIGURE, aws_cost.FIGURE,
                               end_to_end.FIGURE, imports.FIGURE, memory.FIGURE, signing.FIGURE)
NAMES = tuple(figure.name for figure in FIGURES)
RESULTS = "results.json"  # this run's figures, in the workdir; the previous run's become previous.json


def run(config: BenchConfig, only: Sequence[str]) -> Report:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)  # loopback traffic only; the SDK and requests would honour these
    (config.workdir / "logs").mkdir(parents=True, exist_ok=True)
    bench = Bench(config)
    report = Report()
    sampler = LoadSampler().start()
    try:
        for figure in FIGURES:
            if figure.name in only:
                print(f"bench: {figure.name} ...", flush=True)
                sampler.figure = figure.name
                started = time.monotonic()
                report.add(figure.name, figure.measure(bench))
                print(f"bench: {figure.name} done in {time.monotonic() - started:.0f}s", flush=True)
    finally:
        sampler.stop()
        report.load = list(sampler.samples)
        bench.close()
    return report


def previous_results(workdir: Path) -> dict[str, Any] | None:
    """The last full run's figures (to compare medians with), moved aside as previous.json."""
    current, previous = workdir / RESULTS, workdir / "previous.json"
    if current.exists():
        current.replace(previous)
    if not previous.exists():
        return None
    try:
        found: dict[str, Any] = json.loads(previous.read_text(encoding="utf-8"))
        return found
    except ValueError:
        return None


def parse_only(values: Sequence[str] | None) -> list[str]:
    if not values:
        return list(NAMES)
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise SystemExit(f"bench: unknown figure(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import signal
    from datetime import UTC, datetime

    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m greenlight_local.bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmark greenlight against naive baselines, locally (moto, the Green emulator).",
        epilog="figures:\n" + "\n".join(f"  {f.name:<11} {f.summary}" for f in FIGURES))
    parser.add_argument("--quick", action="store_true",
                        help=f"smaller runs ({QUICK.uploads} uploads, {QUICK.processes} processes)")
    parser.add_argument("--only", action="append", metavar="NAME", help=f"one or more of {', '.join(NAMES)}")
    parser.add_argument("--write", type=Path, metavar="FILE", help="also write the report (markdown) to FILE")
    parser.add_argument("--changes", metavar="TEXT", default="",
                        help="what changed in the code since the previous run (printed with the comparison)")
    options = parser.parse_args(args)
    only = parse_only(options.only)
    # SIGTERM unwinds like Ctrl-C, so every context manager stops the processes it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = QUICK if options.quick else BenchConfig()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    config.workdir.mkdir(parents=True, exist_ok=True)
    full = not config.quick and list(only) == list(NAMES)
    previous = previous_results(config.workdir) if full else None
    report = run(config, only)
    elapsed = time.monotonic() - started
    command = " ".join(["PYTHONPATH=layers/greenlight:local .venv/bin/python -m greenlight_local.bench", *args])
    if full:
        (config.workdir / RESULTS).write_text(json.dumps({"when": when, "elapsed": elapsed,
                                                          "results": results(report)}, indent=1), encoding="utf-8")
    text = markdown(report, quick=config.quick, figures=NAMES, when=when, elapsed=elapsed, command=command,
                    previous=previous, changes=options.changes)
    print()
    print(text)
    if options.write:
        path = options.write if options.write.is_absolute() else Path.cwd() / options.write
        path.write_text(text, encoding="utf-8")
        print(f"bench: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
