"""Check what a run observed against the invariants (greenlight_local.chaos.invariants) and gather the
figures of its report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from greenlight.domain.record import VerdictRecord
from greenlight_local.chaos import invariants
from greenlight_local.chaos.config import ChaosConfig
from greenlight_local.chaos.report import METRICS, ChaosReport
from greenlight_local.chaos.world import Write, live_writes, s3_object

MAX_SCAN_ATTEMPTS = 3  # the template's MaxScanAttempts default; the run does not change it


@dataclass
class Observed:
    """Everything collected from the pipeline before it stops."""

    writes: list[Write]
    records: list[VerdictRecord] = field(default_factory=list)
    changes: list[Any] = field(default_factory=list)
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    hits: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    depths: dict[str, int] = field(default_factory=dict)
    dlq_bodies: list[str] = field(default_factory=list)
    throttle_log_lines: int = 0
    duplicated_events: int = 0
    phases: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)



def verify(config: ChaosConfig, observed: Observed, wall_seconds: float) -> ChaosReport:
    writes = observed.writes
    live = live_writes(writes)
    result = invariants.Verdicts(max_attempts=MAX_SCAN_ATTEMPTS)
    for problem in observed.problems:
        result.fail(problem)
    invariants.match_records(writes, observed.records, result)
    changes_by_id: dict[str, list[Any]] = {}
    for change in observed.changes:
        changes_by_id.setdefault(change.id, []).append(change)
    harness = invariants.HarnessFaults(observed.hits, {"submit": config.timeout, "callback": config.timeout,
                                                       "poll": config.poll_timeout, "enforce": config.timeout})
    evidence = invariants.Evidence(observed.ledger, changes_by_id, harness)
    invariants.judge_versions(writes, live, evidence, result)
    invariants.check_tasks(writes, observed.ledger, MAX_SCAN_ATTEMPTS, result)
    for record in observed.records:
        invariants.check_history(record, result)
    invariants.check_stream(observed.changes, observed.records, result)
    depths = observed.depths
    if depths.get("queue") or depths.get("queue_in_flight"):
        result.fail(f"the scan queue was not drained: {depths}")
    if depths.get("event_dlq") or depths.get("event_dlq_in_flight"):
        result.fail(f"EventBridge failed to deliver {depths.get('event_dlq')} events")
    recovered = _dead_letters(observed, result)

    report = ChaosReport(
        seed=config.seed, items=config.uploads, writes=len(writes), deletes=sum(1 for w in writes if w.deleted),
        keys=len({(w.bucket, w.key) for w in writes}), live=len(live), max_attempts=MAX_SCAN_ATTEMPTS,
        max_receive_count=config.max_receive_count, visibility=config.visibility, wall_seconds=wall_seconds,
        phases=observed.phases, emulator_faults={k: int(v) for k, v in observed.stats.get("faults", {}).items()},
        callbacks={k: int(v) for k, v in observed.stats.get("callbacks", {}).items()},
        tasks_per_version=dict(sorted(result.tasks_per_version.items())), takeovers=dict(result.takeovers),
        rescans=result.rescans, late_verdicts=result.late_verdicts, stream_changes=result.stream_changes,
        metrics={name: int(observed.metrics.get(name, 0)) for name in METRICS},
        dlq=len(observed.dlq_bodies), dlq_versions_recovered=recovered,
        errors_explained=result.errors_explained, honest_skips=result.honest_skips,
    )
    verdicts: Counter[str] = Counter()
    live_verdicts: Counter[str] = Counter()
    for write in writes:
        found = result.by_write.get(id(write))
        if found is None:
            continue
        label = f"{found.state.value}/{found.suggestion if found.state.value == 'FINAL' else found.reason}"
        verdicts[label] += 1
        if id(write) in live:
            live_verdicts[label] += 1
    report.verdicts, report.live_verdicts = dict(sorted(verdicts.items())), dict(sorted(live_verdicts.items()))
    crashes = Counter(f"{h['point']}/{h['mode']}" for h in observed.hits if h["kind"] == "crash")
    report.crash_points = dict(sorted(crashes.items()))
    throttles = [h for h in observed.hits if h["kind"] == "dynamodb_throttle"]
    report.harness_faults = {
        "duplicated_s3_events": observed.duplicated_events,
        "dynamodb_calls_throttled_until_retries_gave_up": sum(1 for h in throttles
                                                              if h["how"] == "all" and h["attempt"] == 1),
        "dynamodb_calls_throttled_once": sum(1 for h in throttles if h["how"] == "first"),
        "dynamodb_throttle_errors_surfaced": sum(1 for h in observed.hits if h["kind"] == "dynamodb_throttle_surfaced"),
        "log_lines_with_the_throttling_error": observed.throttle_log_lines,
        "callbacks_answered_503": sum(1 for h in observed.hits if h["kind"] == "callback_503"),
        "crashes_exit": sum(n for k, n in crashes.items() if k.endswith("/exit")),
        "crashes_timeout": sum(n for k, n in crashes.items() if k.endswith("/timeout")),
        **{f"timeouts_not_injected_{f}": n for f, n in sorted(harness.overruns.items())},
        "versions_deleted_after_upload": report.deletes,
        "unversioned_overwrites": sum(1 for w in writes if not w.versioned and w.step > 0),
        "versioned_overwrites": sum(1 for w in writes if w.versioned and w.step > 0),
    }
    report.injected = _injected(observed, report, crashes)
    for name, count in report.injected.items():
        if not count:
            result.fail(f"fault kind never injected: {name}")
    report.violations = result.violations
    return report


def _dead_letters(observed: Observed, result: invariants.Verdicts) -> int:
    """Messages the long outage dead-lettered: each one's version must have been settled anyway."""
    by_version = {invariants.write_key(w): w for w in observed.writes}
    settled = 0
    for body in observed.dlq_bodies:
        bucket, key, obj = s3_object(json.loads(body))
        version = obj.get("version-id") or f"seq:{str(obj.get('sequencer', '')).upper()}"
        write = by_version.get((bucket, key, version))
        record = result.by_write.get(id(write)) if write else None
        if record is not None and record.state.value in invariants.TERMINAL:
            settled += 1
        else:
            result.fail(f"dead-lettered {key}@{version}: its version was never settled")
    return settled


def _injected(observed: Observed, report: ChaosReport, crashes: Counter[str]) -> dict[str, int]:
    faults = report.emulator_faults
    index = invariants.index_records(observed.records)
    retention_expired = 0
    for write in observed.writes:  # a task that finished with a verdict, then answered 594 to the poller
        record = index.get(invariants.write_key(write))
        facts = observed.ledger.get(record.id, {}) if record and write.item.phase == "poller_outage" else {}
        if facts.get("handed", {}).get("results:594") and facts.get("finished", {}).get("200") \
                and not facts.get("faults", {}).get("expire"):
            retention_expired += 1
    return {
        "Green 5xx outage > MaxReceiveCount x visibility (messages dead-lettered)": report.dlq
        if faults.get("outage_5xx") else 0,
        "sustained 588": faults.get("outage_588", 0),
        "sustained auth failures": faults.get("outage_auth", 0),
        "Green accepted a scan whose answer was lost": faults.get("answer_lost", 0),
        "per-task rejection at submit": faults.get("task_submit_error", 0),
        "kill in submit between Green's answer and the PENDING write": crashes.get("submit.before_pending/exit", 0),
        "timeout in submit between Green's answer and the PENDING write":
            crashes.get("submit.before_pending/timeout", 0),
        "kill in submit mid-batch, after claiming": crashes.get("submit.after_claim/exit", 0),
        "kill in the poller mid-rescan": crashes.get("poll.before_resubmitted/exit", 0),
        "kill or timeout in the callback": sum(n for k, n in crashes.items() if k.startswith("callback.")),
        "timeouts inside a handler": sum(n for k, n in crashes.items() if k.endswith("/timeout")),
        "DynamoDB throttling surfaced as an error": report.harness_faults["dynamodb_throttle_errors_surfaced"],
        "poller outage longer than Green's retention (results expired)": retention_expired,
        "results omitting task ids": faults.get("results_omit", 0),
        "callbacks answered 5xx": report.harness_faults["callbacks_answered_503"],
        "versions deleted before Green fetched them": report.deletes,
        "presigned URLs expired": faults.get("url_expired", 0),
        "overwrites in an unversioned bucket": report.harness_faults["unversioned_overwrites"],
        "animated GIFs with a bad later frame": sum(1 for w in observed.writes if w.content.bad_frame is not None),
    }
