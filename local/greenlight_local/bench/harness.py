"""What every figure gets: the run's configuration, the shared services, a log for the handlers' output,
and the runs several figures read (made once, on first use).

A figure is one module exposing `FIGURE = Figure(name, summary, measure)`; `measure(bench)` returns
the figure's `Section` of the report. The runner (`__main__`) lists the figures in the table's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Generic, TypeVar, cast

from greenlight_local.bench.services import Services
from greenlight_local.processes import ROOT

if TYPE_CHECKING:
    from greenlight_local.bench.report import Section

T = TypeVar("T")


@dataclass(frozen=True)
class BenchConfig:
    repeats: int = 3  # every timed figure is measured this many times (min, median, max)
    uploads: int = 300  # images per submit-throughput run (ours, and the SDK loop at zero latency)
    naive_realistic: int = 15  # images per SDK-loop run at realistic latency (it takes ~0.8 s each)
    processes: int = 15  # fresh processes per import measurement
    sign_iterations: int = 20_000
    upload_threads: int = 4
    wave_images: int = 50  # uploads per trickle wave of a pipeline run
    trickle_rate: float = 4.0  # uploads a second in a trickle wave
    burst_images: int = 500  # uploads in the poll-only run's backlog (requests per 1,000)
    wave_timeout: float = 180.0  # longest wait for a wave's last enforcement
    wave_pause: float = 2.0  # seconds between waves
    quick: bool = False
    workdir: Path = ROOT / ".local" / "bench"


QUICK = BenchConfig(uploads=200, naive_realistic=10, processes=5, sign_iterations=3_000, wave_images=30,
                    burst_images=300, wave_timeout=120.0, quick=True)


@dataclass(frozen=True)
class Figure:
    name: str  # for --only, and the report's key
    summary: str  # one line for --help
    measure: Callable[[Bench], Section]


class Shared(Generic[T]):
    """A run that several figures read (e.g. the per-image SDK baseline): made by the first that asks."""

    def __init__(self, name: str, make: Callable[[Bench], T]) -> None:
        self.name = name
        self._make = make

    def get(self, bench: Bench) -> T:
        if self.name not in bench.shared:
            bench.shared[self.name] = self._make(bench)
        return cast(T, bench.shared[self.name])

    def peek(self, bench: Bench) -> T | None:
        """The run if an earlier figure made it, without making it."""
        return cast("T | None", bench.shared.get(self.name))


class Bench:
    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.services = Services(config.workdir)
        self.shared: dict[str, object] = {}
        self._session_token = ""
        self._log: IO[str] | None = None

    @property
    def log(self) -> IO[str]:
        """Where in-process handlers write (their JSON log lines and EMF blobs stay out of the table)."""
        if self._log is None:
            self._log = open(self.config.workdir / "logs" / "in-process.log", "a", encoding="utf-8")  # noqa: SIM115
        return self._log

    def session_token(self) -> str:
        """One role-like session token for the run, so presigned URLs are as long as in Lambda."""
        from greenlight_local.pipeline import fake_session_token

        if not self._session_token:
            self._session_token = fake_session_token()
        return self._session_token

    def close(self) -> None:
        self.services.stop()
        if self._log is not None:
            self._log.close()
