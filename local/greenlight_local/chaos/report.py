"""The figures of a chaos run and its verdict: OK, or every violation by name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Metrics the functions emitted that say how the system coped.
METRICS = ("MessagesRetried", "LeaseTakeover", "LeaseBusy", "RecoveredStranded", "DuplicateEvent", "Resubmitted",
           "ResultMissing", "GreenRefusedTask", "GreenThrottled", "GreenFailed", "GreenAuthFailed", "CallbackNoop",
           "CallbackApplied")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass
class ChaosReport:
    seed: int = 0
    items: int = 0
    writes: int = 0
    deletes: int = 0
    keys: int = 0
    live: int = 0
    max_attempts: int = 0
    max_receive_count: int = 0
    visibility: float = 0.0
    wall_seconds: float = 0.0
    phases: list[str] = field(default_factory=list)
    emulator_faults: dict[str, int] = field(default_factory=dict)
    harness_faults: dict[str, int] = field(default_factory=dict)
    crash_points: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    live_verdicts: dict[str, int] = field(default_factory=dict)
    tasks_per_version: dict[int, int] = field(default_factory=dict)
    takeovers: dict[str, int] = field(default_factory=dict)
    rescans: int = 0
    late_verdicts: int = 0
    stream_changes: int = 0
    callbacks: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)
    dlq: int = 0
    dlq_versions_recovered: int = 0
    errors_explained: list[str] = field(default_factory=list)
    honest_skips: list[str] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)  # each required fault kind -> times injected
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        lines = [
            f"chaos: seed {self.seed}: {self.items} items, {self.writes} writes ({self.deletes} deleted at once) to "
            f"{self.keys} keys, {self.live} live versions; MaxScanAttempts {self.max_attempts}, MaxReceiveCount "
            f"{self.max_receive_count}, visibility {self.visibility:g} s; {self.wall_seconds:.0f} s",
            "phases:", *(f"  {p}" for p in self.phases),
            "faults by kind:",
            f"  emulator: {_json(self.emulator_faults)}",
            f"  harness: {_json(self.harness_faults)}",
            f"  crash points hit (point/mode): {_json(self.crash_points)}",
            f"  callbacks: {_json(self.callbacks)}",
            "each new fault kind, times injected:",
            *(f"  {'ok ' if n else 'NO '} {name}: {n}" for name, n in self.injected.items()),
            "verdicts by state and reason (every version):",
            f"  {_json(self.verdicts)}",
            f"  live versions only: {_json(self.live_verdicts)}",
            f"Green tasks per version (tasks: versions): {_json(self.tasks_per_version)} "
            f"(limit {self.max_attempts})",
            f"lease takeovers (stream, by who took over): {_json(self.takeovers)}; rescans {self.rescans}; "
            f"give-ups that took a late verdict {self.late_verdicts}; "
            f"stream changes checked {self.stream_changes}",
            f"dead-letter queue: {self.dlq} messages, all their versions settled by the poller: "
            f"{self.dlq_versions_recovered}",
            f"metrics: {_json(self.metrics)}",
        ]
        if self.errors_explained:
            lines.append(f"ERROR verdicts ({len(self.errors_explained)}), each with why it is not a lost verdict:")
            lines.extend(f"  {e}" for e in self.errors_explained)
        if self.honest_skips:
            lines.append(f"SKIPPED by an injected per-task code ({len(self.honest_skips)}):")
            lines.extend(f"  {s}" for s in self.honest_skips)
        if self.violations:
            lines.append(f"chaos: FAILED with {len(self.violations)} violations:")
            lines.extend(f"  - {v}" for v in self.violations[:80])
            if len(self.violations) > 80:
                lines.append(f"  ... and {len(self.violations) - 80} more")
        else:
            lines.append("chaos: OK - every live version has the verdict its bytes deserve or an ERROR/SKIPPED an "
                         "injected fault explains; tasks within the attempt limit; no change after a final state; "
                         "every transition allowed")
        return "\n".join(lines)
