"""One way to run a stack's function on this machine: its environment and its handler.

The local pipeline's hosts, the benchmarks and the integration tests all take a function's
environment from here (the template's own, resolved by stack.py, pointed at moto and a Green
emulator) and load its handler the way Lambda does (the layer and the function's folder on
sys.path), so none of them can drift from the others or from the template.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from greenlight_local.processes import ROOT

if TYPE_CHECKING:  # the memory probe loads a handler through here: nothing heavy may load with it
    from greenlight_local.stack import FunctionSpec, LocalStack

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def function_environment(stack: LocalStack, function: str, *, green_endpoint: str, callback_url: str = "",
                         settings: Mapping[str, str] | None = None,
                         process: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment `function` runs with locally.

    `settings` change the function's own variables (those the template gives it, e.g. LEASE_SECONDS
    or SCAN_MODE; others are ignored, so one set of settings can serve every function); `process`
    adds or replaces anything (PYTHONPATH, a session token).
    """
    environment = dict(stack.functions[function].environment)
    for name, value in (settings or {}).items():
        if name in environment:
            environment[name] = value
    environment.update({
        **DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": stack.endpoint, "AWS_DEFAULT_REGION": stack.region,
        "AWS_REGION": stack.region, "GREEN_ENDPOINT": green_endpoint, "SECRET_MAX_AGE": "0",
    })
    if "CALLBACK_URL" in environment:
        environment["CALLBACK_URL"] = callback_url
    environment.update(process or {})
    return environment


def handler_module(spec: FunctionSpec) -> ModuleType:
    """The function's handler module, imported the way Lambda imports it."""
    for folder in (str(ROOT / "layers" / "greenlight"), str(spec.code_dir)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return importlib.import_module(spec.handler.rsplit(".", 1)[0])


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    handler: Callable[[dict[str, Any], Any], Any] = getattr(handler_module(spec), spec.handler.rsplit(".", 1)[1])
    return handler
