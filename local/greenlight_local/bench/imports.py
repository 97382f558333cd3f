"""Imports: cold import of each handler vs `import boto3` (median of fresh processes, bytecode compiled,
Lambda-like sys.path and environment), and the submit handler with X-Ray on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from greenlight_local.bench.environments import (
    base_env,
    bench_environment,
    bytecode_env,
    lambda_runtime_variables,
    warm_bytecode,
)
from greenlight_local.bench.harness import Figure
from greenlight_local.bench.importtime import import_costs
from greenlight_local.bench.report import Row, Section, Spread, ms, verdict
from greenlight_local.bench.stats import median
from greenlight_local.processes import ROOT

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench
    from greenlight_local.stack import LocalStack

LAYER = ROOT / "layers" / "greenlight"
FUNCTIONS = ("submit", "callback", "poll", "enforce")
MAX_IMPORT_RATIO = 1.2  # target: a handler's cold import, as a multiple of `import boto3`
UNUSED_GREEN_ENDPOINT = "http://127.0.0.1:8600"  # nothing is called at import time
TRACED = "submit_handler, POWERTOOLS_TRACE_ENABLED=true"
SNIPPET = ("import sys, time\nstarted = time.perf_counter()\n__import__(sys.argv[1])\n"
           "print(time.perf_counter() - started)")


@dataclass(frozen=True)
class ImportTarget:
    label: str
    module: str  # "" = `python -c pass`, measured as process wall time
    env: dict[str, str]


def import_targets(bench: Bench, stack: LocalStack) -> list[ImportTarget]:
    """The interpreter alone, boto3, each handler with its function's environment, and submit traced."""
    workdir = bench.config.workdir
    runtime = lambda_runtime_variables(stack.functions["submit"])
    targets = [ImportTarget("python -c pass (process wall time)", "", {**base_env(), **bytecode_env(workdir)}),
               ImportTarget("import boto3", "boto3", {**base_env(), **runtime, **bytecode_env(workdir),
                                                      "PYTHONPATH": str(LAYER)})]
    for function in FUNCTIONS:
        spec = stack.functions[function]
        env = {**base_env(), **lambda_runtime_variables(spec),
               **bench_environment(stack, function, green_endpoint=UNUSED_GREEN_ENDPOINT), **bytecode_env(workdir),
               "PYTHONPATH": os.pathsep.join([str(LAYER), str(spec.code_dir)])}
        targets.append(ImportTarget(f"{function}_handler", spec.handler.rsplit(".", 1)[0], env))
    submit = next(t for t in targets if t.label == "submit_handler")
    targets.append(ImportTarget(TRACED, submit.module, {**submit.env, "POWERTOOLS_TRACE_ENABLED": "true"}))
    return targets


def time_import(target: ImportTarget) -> float:
    if not target.module:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=target.env, check=True, timeout=60)
        return time.perf_counter() - started
    done = subprocess.run([sys.executable, "-c", SNIPPET, target.module], env=target.env, check=True,
                          timeout=60, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def measure(bench: Bench) -> Section:
    from greenlight_local.stack import create_stack

    config = bench.config
    targets = import_targets(bench, create_stack(bench.services.moto()))
    warm_bytecode(config.workdir, [(t.module or "sys", t.env) for t in targets])
    samples: dict[str, list[float]] = {t.label: [] for t in targets}
    for _ in range(config.processes):  # round-robin, so drift in machine load hits every target alike
        for target in targets:
            samples[target.label].append(time_import(target))
    medians = {label: median(values) for label, values in samples.items()}
    boto3 = medians["import boto3"]

    def spread(label: str) -> Spread:
        return Spread(tuple(1000 * v for v in samples[label]), "{:.0f}")

    section = Section(rows=[Row("Interpreter start, python -c pass (process wall, ms)", spread(targets[0].label),
                                "-")])
    for function in FUNCTIONS:
        label = f"{function}_handler"
        target = next(t for t in targets if t.label == label)
        ratio = medians[label] / boto3
        section.rows.append(Row(f"Cold import {label} (ms)", spread(label), f"{spread('import boto3')} (import boto3)",
                                f"{ratio:.2f}x", f"<= {MAX_IMPORT_RATIO}x boto3", verdict(ratio <= MAX_IMPORT_RATIO)))
        costs = import_costs(target.module, target.env)
        section.evidence.append(f"{label} -X importtime (median of 3; -X importtime adds its own overhead): "
                                f"{costs.summary()}")
        if ratio > MAX_IMPORT_RATIO:
            section.misses.append(f"{label} imports in {ms(medians[label])}, {ratio:.2f}x `import boto3`: "
                                  f"{costs.sentence()}.")
    traced, untraced = medians[TRACED], medians["submit_handler"]
    section.rows.append(Row("Cold import submit_handler with X-Ray tracing on (Tracer() built at import, ms)",
                            spread(TRACED), f"{ms(untraced)} (tracing off)", f"+{ms(traced - untraced)}"))
    section.settings.append(
        f"Imports: median of {config.processes} fresh processes each, interleaved, of {sys.executable}; "
        "time.perf_counter() around the import inside the process; PYTHONPATH = layers/greenlight plus the "
        "function's folder; the function's environment (greenlight_local.functions.function_environment: the "
        "template's, pointed at moto) plus what the Lambda runtime sets (LAMBDA_TASK_ROOT etc., so Powertools' "
        "Tracer really traces when enabled); bytecode compiled for every module (a PYTHONPYCACHEPREFIX warmed by "
        "one import first, since PYTHONDONTWRITEBYTECODE=1 is set machine-wide). Tracing: "
        "POWERTOOLS_TRACE_ENABLED=true makes the layer's instrument decorator build Tracer() at import, so its "
        "cost is inside the figure.")
    return section


FIGURE = Figure("imports", "cold import of each handler vs `import boto3`, and submit with X-Ray on", measure)
