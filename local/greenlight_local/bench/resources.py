"""CPU seconds and peak memory, of this process and of its children (read from /proc).

Stdlib only: the memory probe imports this before the handler it measures."""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from pathlib import Path

HOSTS = ("submit", "callback", "poll")  # the local pipeline's function hosts, as `--function NAME`


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
