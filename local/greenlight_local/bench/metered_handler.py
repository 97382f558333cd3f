"""The bench's handler for a function host of the local pipeline: the real handler, metered.

The bench's pipeline (pipeline_runs.BenchPipeline) writes `greenlight_local.bench.metered_handler.
lambda_handler` as every function's handler in the run's state file, and the real one in
GREENLIGHT_BENCH_HANDLER; the host (lambda_host, unchanged) loads this module the way it loads any
handler, after the function's environment is in place and with the function's folder on sys.path.
Nothing here runs outside the bench: production code and the other local runs never see it.

It records, one JSON line each, in GREENLIGHT_BENCH_METER/<function>-<pid>.jsonl:
- every invocation ("invoke": start epoch, wall milliseconds, records in the event), as Lambda's
  REPORT line does;
- every AWS request any client of this process made ("call": service, operation, HTTP attempts,
  error code; for DynamoDB the table, index, consistency, the record id of a write and the bytes of
  the items a read returned; for SQS ReceiveMessage the messages returned). The host's own event
  source clients (SQS long polling, the stream reader) are in this process too: the bench tells
  them apart by operation.

Botocore's client factory is wrapped when this module loads, before the handler or the host's
event sources build a client, as greenlight_local.fault_hooks does for the chaos run.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLER_ENV = "GREENLIGHT_BENCH_HANDLER"
METER_ENV = "GREENLIGHT_BENCH_METER"
FUNCTION_ENV = "GREENLIGHT_BENCH_FUNCTION"
ENTRY = "greenlight_local.bench.metered_handler.lambda_handler"

_path: Path | None = None


def _write(record: dict[str, Any]) -> None:
    if _path is None:
        return
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write: lines from threads never interleave
    finally:
        os.close(fd)


def _wire_size(value: Any) -> int:
    """Bytes of a wire-format item, as greenlight_local.bench.sizing counts them (imported lazily:
    this module must stay light for the handler's cold start)."""
    from greenlight_local.bench.sizing import item_size

    return item_size(value)


def _before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    with contextlib.suppress(Exception):  # metering must never break the call it watches
        _remember(params, context)


def _remember(params: dict[str, Any], context: dict[str, Any]) -> None:
    found: dict[str, Any] = {}
    for name in ("TableName", "IndexName", "ConsistentRead", "QueueUrl"):
        if name in params:
            found[name] = params[name]
    key = params.get("Key") or params.get("Item") or {}
    if isinstance(key, dict) and isinstance(key.get("id"), dict):
        found["id"] = key["id"].get("S")
    if "Entries" in params and isinstance(params["Entries"], list):
        found["entries"] = len(params["Entries"])
    requested = params.get("RequestItems")
    if isinstance(requested, dict):  # BatchGetItem
        found["keys"] = sum(len(v.get("Keys") or []) for v in requested.values() if isinstance(v, dict))
        found["ConsistentRead"] = any(isinstance(v, dict) and v.get("ConsistentRead") for v in requested.values())
    context["greenlight_bench"] = found


def _after(http_response: Any, parsed: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
    with contextlib.suppress(Exception):  # metering must never break the call it watches
        _record_call(http_response, parsed, model, context)


def _record_call(http_response: Any, parsed: Any, model: Any, context: dict[str, Any]) -> None:
    meta = (parsed or {}).get("ResponseMetadata") or {}
    service = model.service_model.service_name
    record: dict[str, Any] = {"k": "call", "t": round(time.time(), 3), "svc": service, "op": model.name,
                              "attempts": 1 + int(meta.get("RetryAttempts") or 0),
                              "status": int(getattr(http_response, "status_code", 0) or meta.get("HTTPStatusCode", 0))}
    error = (parsed or {}).get("Error") or {}
    if error.get("Code"):
        record["error"] = error["Code"]
    params = context.get("greenlight_bench") or {}
    record.update({k: v for k, v in params.items() if k in ("id", "entries", "keys")})
    if service == "dynamodb":
        record.update(table=params.get("TableName"), index=params.get("IndexName"),
                      consistent=bool(params.get("ConsistentRead")))
        if "Item" in parsed:
            record["read_bytes"] = _wire_size(parsed["Item"])
        elif "Items" in parsed:
            record["read_bytes"] = sum(_wire_size(item) for item in parsed["Items"])
            record["items"] = len(parsed["Items"])
        elif "Responses" in parsed:  # BatchGetItem: each item is charged on its own
            record["item_bytes"] = [_wire_size(item) for items in parsed["Responses"].values() for item in items]
    elif service == "sqs":
        record["queue"] = str(params.get("QueueUrl", "")).rsplit("/", 1)[-1]
        if model.name == "ReceiveMessage":
            record["messages"] = len(parsed.get("Messages") or [])
    _write(record)


def _after_error(exception: Any = None, event_name: str = "", **_: Any) -> None:
    """A request that raised before any answer was parsed (a connection error): botocore's
    after-call-error event names the service and operation only in the event name."""
    parts = [*event_name.split("."), "?", "?"]
    with contextlib.suppress(Exception):
        _write({"k": "call", "t": round(time.time(), 3), "svc": parts[1], "op": parts[2], "attempts": 1, "status": 0,
                "error": type(exception).__name__})


def _install() -> None:
    import botocore.client

    original: Callable[..., Any] = botocore.client.ClientCreator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", _before)
        client.meta.events.register("after-call", _after)
        client.meta.events.register("after-call-error", _after_error)
        return client

    botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]


def _load() -> Callable[[dict[str, Any], Any], Any]:
    global _path
    function = os.environ.get(FUNCTION_ENV, "function")
    meter = os.environ.get(METER_ENV)
    if meter:
        Path(meter).mkdir(parents=True, exist_ok=True)
        _path = Path(meter) / f"{function}-{os.getpid()}.jsonl"
        _install()
    module_name, name = os.environ[HANDLER_ENV].rsplit(".", 1)
    handler: Callable[[dict[str, Any], Any], Any] = getattr(importlib.import_module(module_name), name)
    return handler


# Loaded as Lambda loads a handler, at import, in a host (the bench itself imports this module for its
# constants only, without the variable).
_real = _load() if HANDLER_ENV in os.environ else None


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    if _real is None:
        raise RuntimeError(f"{HANDLER_ENV} names no handler")
    started, clock = time.time(), time.perf_counter()
    try:
        return _real(event, context)
    finally:
        records = event.get("Records") if isinstance(event, dict) else None
        _write({"k": "invoke", "start": round(started, 3), "ms": round(1000 * (time.perf_counter() - clock), 2),
                "records": len(records) if isinstance(records, list) else 0})
