"""Shared pytest fixtures. Each block is self-contained; add new blocks below their own header."""

from __future__ import annotations

# --- Green emulator fixtures ---
# A session-wide Green emulator on a free loopback port (reset before every test that asks for
# `emulator`), a loopback HTTP server that serves image bytes and records callbacks, and a bounded
# wait helper. Nothing here talks to anything but 127.0.0.1.
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from green_emulator import EmulatorConfig, Faults, RunningEmulator, start_emulator
from greenlight.green.client import GreenClient, RetryPolicy
from greenlight.green.signer import Credentials

EMULATOR_STS = Credentials("STS.emulator-test-key", "emulator-test-sts-secret", "CAIS-emulator-test-token==")


def _wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The default backlog of 5 drops SYNs when the emulator's 8 download workers connect at once,
    # and a dropped SYN is retried only after 1 s, which looks like a slow origin.
    request_queue_size = 128


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/octet-stream"
    delay: float = 0.0  # pause after the headers and the first byte (a slow origin)
    trickle: float = 0.0  # pause before each byte of the body (slow but never idle for long)
    declared_length: int | None = None  # send this Content-Length and then that many bytes
    stream_bytes: int | None = None  # stream this many bytes with no Content-Length
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers, e.g. Location


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    """A tiny HTTP server on 127.0.0.1: serves registered routes, records every request."""

    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with owner._lock:
                    owner.received.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
                    route = owner.routes.get(path, Route(status=404, body=b"not found"))
                try:
                    owner._serve(self, route)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = _handle
            do_POST = _handle

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def _serve(self, handler: BaseHTTPRequestHandler, route: Route) -> None:
        handler.send_response(route.status)
        handler.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            handler.send_header(name, value)
        if route.stream_bytes is not None:
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.close_connection = True
            chunk = b"\0" * 65536
            sent = 0
            while sent < route.stream_bytes and not self._stop.is_set():
                handler.wfile.write(chunk)
                sent += len(chunk)
            return
        length = route.declared_length if route.declared_length is not None else len(route.body)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        if route.declared_length is not None:
            handler.close_connection = True
            chunk = b"\0" * 65536
            sent = 0
            while sent < length and not self._stop.is_set():
                handler.wfile.write(chunk[: min(len(chunk), length - sent)])
                sent += len(chunk)
            return
        if route.trickle:
            for index in range(len(route.body)):
                if self._stop.wait(route.trickle):
                    return
                handler.wfile.write(route.body[index:index + 1])
                handler.wfile.flush()
        elif route.delay and route.body:
            handler.wfile.write(route.body[:1])
            handler.wfile.flush()
            self._stop.wait(route.delay)  # a slow origin; released at teardown
            handler.wfile.write(route.body[1:])
        else:
            handler.wfile.write(route.body)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes = b"", **options: Any) -> str:
        with self._lock:
            self.routes[path] = Route(body=body, **options)
        return self.url(path)

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.received if r.path.split("?", 1)[0] == path]

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound and released), for connection-refused cases."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def green_emulator() -> Iterator[RunningEmulator]:
    """One emulator for the session, with small delays so tests stay fast."""
    config = EmulatorConfig(
        port=0,
        download_timeout=1.0,
        max_image_bytes=1024 * 1024,
        callback_retry_delay=0.05,
        callback_timeout=2.0,
        sts_access_key_id=EMULATOR_STS.access_key_id,
        sts_access_key_secret=EMULATOR_STS.access_key_secret,
        sts_security_token=EMULATOR_STS.security_token,
        faults=Faults(processing_delay=0.2),
    )
    with start_emulator(config) as running:
        yield running


@pytest.fixture
def emulator(green_emulator: RunningEmulator) -> RunningEmulator:
    """The session emulator, reset: no tasks, zero counters, start-time faults, reseeded ids."""
    green_emulator.reset()
    return green_emulator


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """wait_until(predicate, timeout=5.0): poll until truthy (returned) or fail the test."""
    return _wait_until


@pytest.fixture
def emulator_sts_credentials() -> Credentials:
    return EMULATOR_STS


@pytest.fixture
def emulator_credentials(green_emulator: RunningEmulator) -> Credentials:
    return Credentials(green_emulator.config.access_key_id, green_emulator.config.access_key_secret)


@pytest.fixture
def image_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def callback_receiver() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def green_client(emulator: RunningEmulator, emulator_credentials: Credentials) -> Callable[..., GreenClient]:
    """Factory for a GreenClient on the emulator; keyword arguments override the defaults."""

    def make(**overrides: Any) -> GreenClient:
        options: dict[str, Any] = {
            "endpoint": emulator.url,
            "retry": RetryPolicy(max_attempts=1),
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "sync_read_timeout": 5.0,
        }
        options.update(overrides)
        credentials = options.pop("credentials", emulator_credentials)
        return GreenClient(credentials, **options)

    return make


# --- end Green emulator fixtures ---
