"""The processes the in-process figures talk to: moto server and the Green emulator, started on first
use, each in a process of its own (so the emulator's downloads do not share our GIL)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.environments import base_env, child_pythonpath
from greenlight_local.moto_server import MotoServer
from greenlight_local.processes import terminate, wait_until

if TYPE_CHECKING:
    import subprocess

PROCESSING_DELAY = 0.5  # seconds from submission until the emulator has a result


@dataclass
class EmulatorProcess:
    """The Green emulator in its own process, with the keys and uid it accepts."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    key_id: str
    key_secret: str
    uid: str

    def _admin(self, method: str, route: str, body: Mapping[str, Any] | None = None) -> Any:
        import requests

        with requests.Session() as session:
            session.trust_env = False  # loopback only, never through a proxy
            response = session.request(method, f"{self.url}/_emulator/{route}", json=body, timeout=10)
            response.raise_for_status()
            return response.json()

    def stats(self) -> dict[str, Any]:
        """The emulator's counters (calls by operation, tasks finished, callbacks...)."""
        stats: dict[str, Any] = self._admin("GET", "stats")
        return stats

    def calls(self, operation: str) -> int:
        return int(self.stats()["calls"][operation])

    def finished_tasks(self) -> int:
        return sum(int(n) for n in self.stats()["tasks_finished"].values())

    def set_faults(self, **changes: Any) -> None:
        self._admin("POST", "faults", changes)


class Services:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._moto: MotoServer | None = None
        self._emulator: EmulatorProcess | None = None

    def moto(self) -> str:
        """moto server's URL."""
        if self._moto is None:
            self._moto = MotoServer(self.workdir / "logs" / "moto.log")
        return self._moto.url

    def emulator(self) -> EmulatorProcess:
        if self._emulator is None:
            self._emulator = start_emulator_process(self.workdir)
        return self._emulator

    def stop(self) -> None:
        if self._emulator is not None:
            terminate(self._emulator.process)
            self._emulator = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None


def start_emulator_process(workdir: Path) -> EmulatorProcess:
    import re
    import secrets
    import subprocess

    key_id, key_secret = "LTAI" + secrets.token_hex(8), secrets.token_urlsafe(24)
    uid = str(secrets.randbelow(9 * 10**15) + 10**15)
    log_path = workdir / "logs" / "emulator.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "green_emulator", "--port", "0", "--access-key-id", key_id,
         "--access-key-secret", key_secret, "--uid", uid, "--processing-delay", str(PROCESSING_DELAY)],
        stdout=log, stderr=subprocess.STDOUT, env={**base_env(), "PYTHONPATH": child_pythonpath()})

    def listening() -> re.Match[str] | None:
        return re.search(r"listening on (http://127\.0\.0\.1:(\d+))", log_path.read_text(errors="replace"))

    try:
        found = wait_until(listening, timeout=30, what="the Green emulator")
    except TimeoutError:
        terminate(process)
        raise
    return EmulatorProcess(process, found.group(1), int(found.group(2)), key_id, key_secret, uid)


@contextmanager
def isolated_green(emulator: EmulatorProcess) -> Iterator[None]:
    """Green's downloads are Alibaba's work, not ours: while timing, tasks fail 480 without a fetch,
    so the emulator does not compete with the handler and moto for this machine's CPUs."""
    emulator.set_faults(download_failure_rate=1.0)
    try:
        yield
    finally:
        emulator.set_faults(download_failure_rate=0.0)
