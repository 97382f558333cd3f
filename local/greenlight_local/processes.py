"""Small helpers for the local tools: free ports, bounded waits, child processes."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def terminate(*processes: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM every process at once, then wait for all of them: a host finishes the invocation in
    progress and its long poll (seconds), so stopping hosts one after another adds those seconds up.
    Whatever is still running after `grace` seconds is killed."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def pythonpath() -> str:
    parts = [str(ROOT / "layers" / "greenlight"), str(ROOT / "local")]
    return os.pathsep.join(parts)
