"""The HTTP server: routes, admin routes, the network model's answer delay, and the Python API.

    with start_emulator(EmulatorConfig(port=0)) as emulator:
        emulator.url         # http://127.0.0.1:PORT
        emulator.stats()     # counters
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from green_emulator.config import ConfigError, EmulatorConfig, Faults
from green_emulator.emulator import Emulator
from green_emulator.gateway import ReceivedRequest
from green_emulator.protocol import API_NOT_FOUND
from green_emulator.replies import Rejection

API_PATHS = {
    "/green/image/scan": "scan",
    "/green/image/asyncscan": "asyncscan",
    "/green/image/results": "results",
    "/green/image/feedback": "feedback",
}
ADMIN_PREFIX = "/_emulator/"
MAX_BODY_BYTES = 8 * 1024 * 1024


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 drops SYNs under bursts (a 1 s client stall each)

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        super().__init__(address, EmulatorHandler)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


class EmulatorHandler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "GreenEmulator/1.0"
    timeout = 30  # close idle keep-alive connections, so their threads end

    # -- plumbing -------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self._fresh_connection = True  # one handler serves one connection, keep-alive requests included

    def _take_fresh(self) -> bool:
        """Whether this request is the first on its connection (it pays the handshakes)."""
        fresh, self._fresh_connection = self._fresh_connection, False
        return fresh

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.config.log_requests:
            sys.stderr.write(f"green-emulator {self.address_string()} {format % args}\n")

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return None
        return self.rfile.read(int(length))

    def _send_json(self, status: int, body: Any, request_id: str | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if request_id:
            self.send_header("x-acs-request-id", request_id)
        self.end_headers()
        self.wfile.write(payload)

    def _host_id(self) -> str:
        host, port = self.server.server_address[:2]
        return self.headers.get("Host") or f"{host!s}:{port}"

    def _gateway_error(self, status: int, code: str, message: str) -> None:
        request_id = self.server.emulator.ids.request_id()
        self._send_json(status, Rejection(status, code, message).body(request_id, self._host_id()), request_id)

    # -- routes ---------------------------------------------------------------------------------

    def do_POST(self) -> None:
        fresh = self._take_fresh()
        target = urlsplit(self.path)
        if target.path.startswith(ADMIN_PREFIX):
            self._admin("POST", target.path)
            return
        operation = API_PATHS.get(target.path)
        if operation is None:
            self._gateway_error(404, "InvalidAction.NotFound", API_NOT_FOUND)
            return
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._gateway_error(413, "RequestEntityTooLarge", f"The body is larger than {MAX_BODY_BYTES} bytes.")
            return
        request = ReceivedRequest(method=self.command, path=target.path, query=target.query,
                                  headers=dict(self.headers.items()), body=body)
        emulator = self.server.emulator
        reply = emulator.handle_api(operation, request, self._host_id())
        emulator.wait(emulator.network.answer_delay(fresh) + reply.extra_delay)
        if reply.lost:  # Green did the work; the answer never reaches the client
            self.close_connection = True
            return
        request_id = reply.body.get("requestId") or reply.body.get("RequestId")
        self._send_json(reply.status, reply.body, request_id)

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        if target.path.startswith(ADMIN_PREFIX):
            self._admin("GET", target.path)
            return
        self._not_post(target.path)

    def do_PUT(self) -> None:
        self._not_post(urlsplit(self.path).path)

    def do_DELETE(self) -> None:
        self._not_post(urlsplit(self.path).path)

    def do_PATCH(self) -> None:
        self._not_post(urlsplit(self.path).path)

    def _not_post(self, path: str) -> None:
        self._take_fresh()
        self._read_body()
        if path in API_PATHS:
            self._gateway_error(405, "UnsupportedHTTPMethod", f"{self.command} is not supported; use POST.")
        else:
            self._gateway_error(404, "InvalidAction.NotFound", API_NOT_FOUND)

    def _admin(self, method: str, path: str) -> None:
        emulator = self.server.emulator
        self._take_fresh()
        body = self._read_body() or b""
        if not _is_loopback(self.client_address[0]):
            self._send_json(403, {"error": "admin routes answer loopback clients only"})
            return
        route = (method, path.removeprefix(ADMIN_PREFIX).rstrip("/"))
        if route == ("GET", "stats"):
            self._send_json(200, emulator.stats())
        elif route == ("GET", "data-ids"):
            self._send_json(200, emulator.data_ids())
        elif route == ("GET", "feedback"):
            self._send_json(200, emulator.engine.feedback())
        elif route == ("GET", "faults"):
            self._send_json(200, emulator.faults.current.to_json())
        elif route == ("POST", "reset"):
            emulator.reset()
            self._send_json(200, {"reset": True})
        elif route == ("POST", "faults"):
            try:
                changes = json.loads(body.decode("utf-8") or "{}")
                if not isinstance(changes, dict):
                    raise ConfigError("expected a JSON object of fault settings")
                faults = emulator.set_faults(changes)
            except (ValueError, TypeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, faults.to_json())
        elif route[1] in ("stats", "data-ids", "feedback", "faults", "reset"):
            self._send_json(405, {"error": f"{method} is not supported on {path}"})
        else:
            self._send_json(404, {"error": f"no admin route {path}"})


class RunningEmulator:
    """A started emulator serving from a background thread. Use as a context manager or call stop()."""

    def __init__(self, emulator: Emulator, server: EmulatorHTTPServer, thread: threading.Thread) -> None:
        self._emulator = emulator
        self._server = server
        self._thread = thread
        self.port: int = server.server_address[1]
        host = emulator.config.host
        if host in ("0.0.0.0", "::"):  # a wildcard bind is reached via loopback
            host = "127.0.0.1"
        self.url = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def config(self) -> EmulatorConfig:
        return self._emulator.config

    @property
    def faults(self) -> Faults:
        return self._emulator.faults.current

    @property
    def emulator(self) -> Emulator:
        return self._emulator

    def stats(self) -> dict[str, Any]:
        return self._emulator.stats()

    def data_ids(self) -> dict[str, dict[str, Any]]:
        """Per-dataId facts: tasks accepted, faults injected, finish codes, answers handed (green_emulator.ledger)."""
        return self._emulator.data_ids()

    def reset(self) -> None:
        self._emulator.reset()

    def set_faults(self, **changes: Any) -> Faults:
        return self._emulator.set_faults(changes)

    def feedback(self) -> list[dict[str, Any]]:
        return self._emulator.engine.feedback()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._emulator.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig | None = None) -> RunningEmulator:
    """Bind, then serve from a daemon thread; returns once the port is accepting connections."""
    config = config or EmulatorConfig()
    emulator = Emulator(config)
    try:
        server = EmulatorHTTPServer((config.host, config.port), emulator)
    except OSError:
        emulator.close()
        raise
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="green-emulator-http", daemon=True)
    thread.start()
    return RunningEmulator(emulator, server, thread)
