"""The memory figure's child: one handler in a fresh process, so its peak RSS is its own.

    python -m greenlight_local.bench.probe SPEC.json   (started by memory.py, not meant to be run by hand)

Imports only the stdlib and two small modules of ours before the handler: what is loaded before the
handler counts in its idle figure. The handler comes from greenlight_local.functions (as everywhere);
the modules already loaded when it is imported are reported back, so a harness that pulls in more
than it should shows in BENCHMARKS.md instead of silently inflating the figures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from greenlight_local.bench.resources import peak_rss_mb, rusage_peak_mb
from greenlight_local.context import LambdaContext

if TYPE_CHECKING:
    from greenlight_local.stack import FunctionSpec

# Packages a handler may load itself; none should be loaded by the probe before the handler is imported.
WATCHED = ("boto3", "botocore", "requests", "yaml", "aws_lambda_powertools", "greenlight")

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class HandlerSource:
    """What greenlight_local.functions needs to import a handler (a FunctionSpec's handler and code
    folder), without the stack module that builds FunctionSpecs (it loads boto3)."""

    handler: str
    code_dir: Path


def handler_loader(spec: dict[str, Any]) -> Callable[[], Handler]:
    if "naive" in spec:
        from greenlight_local.bench.naive import NaiveSubmitter

        return lambda: NaiveSubmitter(**spec["naive"]).handle
    from greenlight_local.functions import load_handler

    source = HandlerSource(spec["handler"], Path(spec["code_dir"]))
    return lambda: load_handler(cast("FunctionSpec", source))


def run(spec_path: Path) -> None:
    """Import the handler, note the idle peak, run the events, note the peak after each."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    start, start_rusage = peak_rss_mb(), rusage_peak_mb()
    load = handler_loader(spec)
    preloaded = sorted(name for name in WATCHED if name in sys.modules)
    handler = load()
    idle = peak_rss_mb()
    events = json.loads(Path(spec["events"]).read_text(encoding="utf-8"))
    marks: list[float] = []
    seconds: list[float] = []
    outputs: list[Any] = []
    for event in events:
        started = time.perf_counter()
        outputs.append(handler(event, LambdaContext(spec["logical_id"], float(spec["timeout"]))))
        seconds.append(time.perf_counter() - started)
        marks.append(peak_rss_mb())
    result = {"start": start, "start_rusage": start_rusage, "idle": idle, "first": marks[0], "peak": marks[-1],
              "marks": marks, "seconds": seconds, "output": summarize_outputs(outputs), "preloaded": preloaded}
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")


def summarize_outputs(outputs: Sequence[Any]) -> str:
    """A short account of what the probe's invocations did, so a probe that did nothing shows."""
    from collections import Counter

    first = outputs[0] if outputs else {}
    if "statusCode" in first:
        return "HTTP " + ", ".join(f"{status} x{n}" for status, n in Counter(o["statusCode"] for o in outputs).items())
    if "batchItemFailures" in first:
        return f"{sum(len(o['batchItemFailures']) for o in outputs)} batch item failures"
    if "submitted" in first:
        return f"{sum(o['submitted'] for o in outputs)} images submitted one by one"
    if "finished" in first:
        return f"{first['finished']} finished in {first['requests']} Green requests"
    return json.dumps(first)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m greenlight_local.bench.probe SPEC.json", file=sys.stderr)
        return 2
    run(Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
