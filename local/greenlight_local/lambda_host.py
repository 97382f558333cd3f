"""Run one of the stack's functions on this machine, driven the way its Lambda trigger drives it.

    python -m greenlight_local.lambda_host --state .local/run/state.json --function submit

- submit: an SQS event source mapping: long-polls the scan queue, fills a batch (BatchSize within
  the batching window), invokes the handler with an SQS event, deletes what succeeded and leaves
  the reported batch item failures on the queue. If the handler raises, times out (the process
  then ends, like a Lambda sandbox, and the pipeline starts another) or this process is killed,
  nothing is deleted. Either way the messages come back after the visibility timeout, as with
  Lambda. Redrive to the DLQ is moto's. A disabled mapping (Enabled false: ProcessUploads) takes
  nothing and reads the state file again every second until it is enabled there, as `greenlight
  setup` does for the local stack (in AWS, a stack update enables the mapping).
- callback: an HTTP API: serves POST/ANY on the template's route and invokes the handler with
  an API Gateway HTTP API (payload 2.0) event, one invocation at a time like one sandbox; several
  hosts share the port.
- poll: a schedule: invokes the handler every `interval` seconds with a scheduled event.

The process environment is the function's, resolved from template.yaml (see stack.py) plus the
local overrides the pipeline writes into the state file. Logs go to stdout as in Lambda.

With GREENLIGHT_FAULTS naming a fault plan (the chaos run's), greenlight_local.fault_hooks is
installed before the handler loads: crashes and timeouts at chosen points inside the handler,
DynamoDB throttling, and callbacks answered 503 before the handler runs. Production code has no
such hooks; without the variable nothing changes.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from greenlight_local import fault_hooks
from greenlight_local.context import LambdaContext
from greenlight_local.functions import load_handler
from greenlight_local.stack import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
MAX_HTTP_API_BODY = 10 * 1024 * 1024
ENABLED_CHECK_SECONDS = 1.0  # how often a disabled event source looks at the state file again


# -- SQS event source ---------------------------------------------------------------------------

def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


def run_sqs_source(handler: Any, state: dict[str, Any], function: dict[str, Any], source: dict[str, Any],
                   stop: threading.Event) -> None:
    import boto3

    if not _enabled(source):  # the template's Enabled, resolved (ProcessUploads)
        print(json.dumps({"level": "INFO", "message": f"event source {source['Queue']} is disabled"}), flush=True)
        if not _wait_until_enabled(state, function, source, stop):
            return
        print(json.dumps({"level": "INFO", "message": f"event source {source['Queue']} is enabled"}), flush=True)
    local = state["local"]
    sqs = boto3.client("sqs", endpoint_url=state["endpoint"], region_name=state["region"])
    queue_url = state["queue_urls"][source["Queue"]]
    batch_size = int(source.get("BatchSize", 10))
    window = min(float(source.get("MaximumBatchingWindowInSeconds", 0)), local["batch_window"])
    while not stop.is_set():
        # Like the event source mapping: invoke when the batch is full or the window has passed.
        messages: list[dict[str, Any]] = []
        started = time.monotonic()
        while len(messages) < batch_size and not stop.is_set():
            waited = time.monotonic() - started
            if messages and waited >= window:
                break
            response = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=min(10, batch_size - len(messages)),
                # Long-poll while the batch is empty (as the event source mapping does; fewer idle requests),
                # then only for what is left of the window.
                WaitTimeSeconds=3 if not messages else max(0, min(1, int(window - waited))),
                VisibilityTimeout=int(local["visibility_timeout"]),
                MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
            messages.extend(response.get("Messages", []))  # type: ignore[arg-type]
            if not messages:
                started = time.monotonic()  # the window opens with the first message
        if not messages:
            continue
        try:
            result = invoke(handler, sqs_event(messages, source["Queue"], state["region"]), function, local)
        except Exception as exc:  # Lambda: the whole batch returns to the queue after the visibility timeout
            print(json.dumps({"level": "ERROR", "message": f"invocation failed: {exc!r}"}), flush=True)
            continue
        # Reported failures stay invisible until the visibility timeout ends, as with Lambda.
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for index in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[index:index + 10])])


def _enabled(source: dict[str, Any]) -> bool:
    return str(source.get("Enabled", True)).lower() != "false"


def _wait_until_enabled(state: dict[str, Any], function: dict[str, Any], source: dict[str, Any],
                        stop: threading.Event) -> bool:
    """Read the state file again (every ENABLED_CHECK_SECONDS) until this function's event source for the same
    queue is enabled there; False if the host is stopped first."""
    path = state["local"].get("state_file")
    while path and not stop.wait(ENABLED_CHECK_SECONDS):
        try:
            current = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # being replaced: look again
            continue
        for candidate in (current.get("functions") or {}).values():
            if candidate.get("logical_id") != function["logical_id"]:
                continue
            for event in (candidate.get("events") or {}).values():
                properties = event.get("Properties") or {}
                if properties.get("Queue") == source["Queue"] and _enabled(properties):
                    return True
    return False


def invoke(handler: Any, event: dict[str, Any], function: dict[str, Any], local: dict[str, Any]) -> Any:
    """One invocation under the function's timeout: past it, the process ends, as Lambda ends the sandbox
    (the pipeline starts a new one); nothing the invocation had not finished is kept."""
    timeout = float(local["timeout"])
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(timeout + 0.5):
            print(json.dumps({"level": "ERROR", "message": f"Task timed out after {timeout:.2f} seconds"}),
                  flush=True)
            fault_hooks.watchdog_fired()  # the chaos run tells injected timeouts from overruns
            os._exit(124)

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        return handler(event, LambdaContext(function["logical_id"], timeout))
    finally:
        done.set()


# -- HTTP API ----------------------------------------------------------------------------------

def _route_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


def http_api_event(method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes, route: str,
                   path_parameters: dict[str, str], source_ip: str) -> dict[str, Any]:
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": headers.get("User-Agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": route, "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "pathParameters": path_parameters,
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def run_http_api(handler: Any, state: dict[str, Any], function: dict[str, Any], api: dict[str, Any],
                 stop: threading.Event) -> None:
    route = f"{api.get('Method', 'ANY').upper()} {api['Path']}"
    pattern = _route_pattern(api["Path"])
    invoke_lock = threading.Lock()  # one container: one invocation at a time

    class Gateway(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_HTTP_API_BODY:
                self._reply(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
                return
            body = self.rfile.read(length) if length else b""
            match = pattern.match(split.path)
            if not match or (api.get("Method", "ANY").upper() not in ("ANY", self.command)):
                self._reply(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
                return
            if fault_hooks.service_unavailable():  # the chaos run: the API answers 5xx before invoking
                self._reply(503, {"content-type": "application/json"}, b'{"message":"Service Unavailable"}')
                return
            event = http_api_event(self.command, split.path, split.query, dict(self.headers.items()), body, route,
                                   match.groupdict(), self.client_address[0])
            with invoke_lock:
                try:
                    result = invoke(handler, event, function, state["local"])
                except Exception:
                    self._reply(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
                    return
            payload = result.get("body") or ""
            raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
            self._reply(int(result.get("statusCode", 200)), result.get("headers") or {}, raw)

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    server = ReusePortServer(("127.0.0.1", int(state["local"]["callback_port"])), Gateway)
    print(json.dumps({"level": "INFO", "message": f"http api listening on {server.server_address[1]}"}), flush=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()


class ReusePortServer(ThreadingHTTPServer):
    """Several callback hosts share one port (SO_REUSEPORT): the kernel spreads requests over them,
    as API Gateway spreads them over Lambda sandboxes."""

    allow_reuse_port = True
    request_queue_size = 128  # the default 5 drops connections under callback bursts
    daemon_threads = True


# -- schedule ----------------------------------------------------------------------------------

def scheduled_event() -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/local-poll"],
            "detail": {}}


def run_schedule(handler: Any, state: dict[str, Any], function: dict[str, Any], _: dict[str, Any],
                 stop: threading.Event) -> None:
    interval = float(state["local"]["poll_interval"])
    while not stop.wait(interval):
        try:
            invoke(handler, scheduled_event(), function, state["local"])
        except Exception as exc:
            print(json.dumps({"level": "ERROR", "message": f"invocation failed: {exc!r}"}), flush=True)


# -- DynamoDB stream ---------------------------------------------------------------------------------

def run_stream_source(handler: Any, state: dict[str, Any], function: dict[str, Any], source: dict[str, Any],
                      stop: threading.Event) -> None:
    import boto3

    from greenlight_local.stream_source import StreamSource

    def log(message: str) -> None:
        print(json.dumps({"level": "WARNING", "message": message}), flush=True)

    StreamSource(streams=boto3.client("dynamodbstreams", endpoint_url=state["endpoint"], region_name=state["region"]),
                 sqs=boto3.client("sqs", endpoint_url=state["endpoint"], region_name=state["region"]),
                 stream_arn=source["Stream"], properties=source, queue_urls=state["queue_urls"],
                 invoke=lambda event: invoke(handler, event, function, state["local"]), log=log).run(stop)


# A function's triggers, by event type: each runs in its own thread, as Lambda runs each event source.
SOURCES = {"SQS": run_sqs_source, "HttpApi": run_http_api, "Schedule": run_schedule, "DynamoDB": run_stream_source}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", required=True, help="state file written by the local pipeline")
    parser.add_argument("--function", required=True, help="the function's folder name (submit, callback, ...)")
    parser.add_argument("--index", type=int, default=0, help="which of the function's hosts this is")
    args = parser.parse_args(argv)
    state = json.loads(Path(args.state).read_text(encoding="utf-8"))
    function = state["functions"][args.function]
    os.environ.update(function["environment"])
    state["local"] = {**state["local"], **function.get("local", {}), "state_file": args.state}
    plan = os.environ.get(fault_hooks.ENV)
    if plan:
        fault_hooks.install(Path(plan), function=args.function, index=args.index,
                            timeout=float(state["local"]["timeout"]))
    handler = load_handler(FunctionSpec(logical_id=function["logical_id"], handler=function["handler"],
                                        code_dir=Path(function["code_dir"]), timeout=function["timeout"],
                                        environment=function["environment"]))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sources = [threading.Thread(target=SOURCES[event["Type"]], daemon=True,
                                args=(handler, state, function, event["Properties"], stop))
               for event in function["events"].values() if event["Type"] in SOURCES]
    for thread in sources:
        thread.start()
    stop.wait()
    for thread in sources:
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
