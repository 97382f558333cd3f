"""Environments for the handlers the bench runs, in this process or in fresh ones.

A function's own environment always comes from `greenlight_local.functions.function_environment`
(the template's, pointed at moto and the emulator); what is added here is only what a measurement
needs around it: what the Lambda runtime itself sets (for cold imports), a bytecode cache, a clean
process environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from greenlight_local.processes import pythonpath

if TYPE_CHECKING:
    from greenlight_local.stack import FunctionSpec, LocalStack


def bench_environment(stack: LocalStack, function: str, *, green_endpoint: str, session_token: str = "",
                      settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The function's local environment with no callback URL (the emulator would call a host that does
    not exist) and, given one, a role-like session token (URLs as long as in Lambda). The template's
    secret cache is kept, as in Lambda: the local default re-reads the secret on every use, which
    the local pipeline wants (rotations show at once) but a measurement of the function does not."""
    from greenlight_local.functions import function_environment

    process = {"SECRET_MAX_AGE": stack.functions[function].environment.get("SECRET_MAX_AGE", "300")}
    if session_token:
        process["AWS_SESSION_TOKEN"] = session_token
    return function_environment(stack, function, green_endpoint=green_endpoint, callback_url="",
                                settings=settings, process=process)


def quota_share(environment: Mapping[str, str]) -> float:
    """Images a second one instance of the function sends at most: its share of Green's quota
    (GREEN_MAX_RPS / GREEN_CONCURRENCY), read the way the layer reads it."""
    from greenlight.runtime.config import ScanSettings

    return ScanSettings.from_env(environment).green.rps_per_instance


def lambda_runtime_variables(spec: FunctionSpec) -> dict[str, str]:
    """What the Lambda runtime itself sets (used for cold-import measurements and the memory probes);
    LAMBDA_TASK_ROOT makes Powertools' Tracer really trace when tracing is on."""
    return {
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": f"greenlight-{spec.code_dir.name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def base_env() -> dict[str, str]:
    """A clean environment for child processes: no proxies, nothing inherited by accident."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def child_pythonpath(*extra: Path) -> str:
    """The layer and `local`, then `extra` (a function's folder)."""
    return os.pathsep.join([pythonpath(), *(str(p) for p in extra)])


def bytecode_env(workdir: Path) -> dict[str, str]:
    """Bytecode for every module, ours included, kept under .local (PYTHONDONTWRITEBYTECODE is set
    machine-wide, so without a cache our own modules would compile from source in every process)."""
    return {"PYTHONPYCACHEPREFIX": str(workdir / "pycache")}


def warm_bytecode(workdir: Path, modules: Sequence[tuple[str, Mapping[str, str]]]) -> None:
    """Import each module once with bytecode writing on, so measured processes only read it."""
    import subprocess

    for module, env in modules:
        warm = {k: v for k, v in {**env, **bytecode_env(workdir)}.items() if k != "PYTHONDONTWRITEBYTECODE"}
        done = subprocess.run([sys.executable, "-c", f"import {module}"], env=warm, timeout=120,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration, then put back exactly what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def stdout_to(log: IO[str]) -> Iterator[None]:
    """Handlers log JSON lines and EMF blobs to stdout; keep them out of the table. `log` stays open:
    Powertools' logger keeps the stream it found at import time."""
    saved = sys.stdout
    sys.stdout = log
    try:
        yield
    finally:
        sys.stdout = saved
