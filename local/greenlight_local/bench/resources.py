"""CPU seconds and peak memory, of this process and of its children (read from /proc).

Stdlib only: the memory probe imports this before the handler it measures."""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from pathlib import Path

HOSTS = ("submit", "callback", "poll", "enforce")  # the local pipeline's function hosts, as `--function NAME`


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MiB.

    VmHWM, not ru_maxrss: Linux folds the parent's peak into ru_maxrss across fork + exec, so a probe
    started by this (large) harness would report at least the harness's size. VmHWM is the same
    high-water mark for the current process image only."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return rusage_peak_mb()


def rusage_peak_mb() -> float:
    """ru_maxrss (KiB on Linux), which includes the parent's peak at exec."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (what it runs, CPU seconds so far) for each live child of this process."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        found[int(stat.parent.name)] = (child_label(command), seconds)
    return found


def child_label(command: str) -> str:
    if "moto_server" in command:
        return "moto"
    if "green_emulator" in command:
        return "Green emulator"
    return next((f"{name} hosts" for name in HOSTS if f"--function {name}" in command), "other")


def cpu_used_since(before: Mapping[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each kind of child used since `before` (children that started since count in full;
    children of other runs, like the services of the in-process figures, only by what they added)."""
    totals: dict[str, float] = {}
    for pid, (label, seconds) in child_cpu().items():
        used = seconds - before.get(pid, (label, 0.0))[1]
        totals[label] = totals.get(label, 0.0) + used
    return totals


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat (0, 0 where unreadable)."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadSampler:
    """The machine's load while the bench runs: the 1-minute load average and the share of all CPUs
    busy (every process on the machine, the bench's own included), sampled every `interval` seconds
    in a daemon thread, each sample tagged with the figure running then."""

    def __init__(self, interval: float = 5.0) -> None:
        import threading

        self.interval = interval
        self.samples: list[tuple[str, float, float]] = []  # (figure, load average, CPUs busy)
        self.figure = "-"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)

    def _run(self) -> None:
        busy, total = cpu_times()
        while not self._stop.wait(self.interval):
            now_busy, now_total = cpu_times()
            share = (now_busy - busy) / (now_total - total) if now_total > total else 0.0
            busy, total = now_busy, now_total
            self.samples.append((self.figure, os.getloadavg()[0], share * (os.cpu_count() or 1)))
