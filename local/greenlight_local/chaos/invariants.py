"""What must hold after the run, each checked against a source independent of the code under test:

- the verdict each write deserves comes from the plan (the harness scripted it into the bytes);
- which writes are live comes from what the harness did (the last write of each key not deleted);
- the tasks Green held per version, the faults it injected on each, and the results it handed over
  come from the emulator's ledger (green_emulator.ledger), not from the records;
- the allowed transitions are this module's own table (`MAY_BECOME`), not the production one;
- "nothing changes after a final state" is read from the table's stream, every change of the run;
- an ERROR is honest only if Green never handed a verdict over for the version AND every scan attempt
  the record still counts either reached Green (a task in the ledger) or was cut short by a fault the
  harness injected (a crash, an injected timeout, a DynamoDB error that surfaced) in the function that
  counted it, within that function's timeout: an attempt lost to anything else is a lost verdict.

Each check appends human-readable violations; `Verdicts` also carries the figures the report prints.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from greenlight.domain.record import VerdictRecord
from greenlight_local.chaos.stream import Change
from greenlight_local.chaos.world import Write

IN_FLIGHT = frozenset({"RECEIVED", "PENDING"})
TERMINAL = frozenset({"FINAL", "SKIPPED", "ERROR", "SUPERSEDED"})
# The harness's statement of the state machine: state -> the states a change may lead to. A record is
# born RECEIVED (claimed) or SUPERSEDED (an older write seen after a newer one); RECEIVED again is a
# lease taken over or a stranded record recovered; PENDING again is a rescan. Terminal states lead
# nowhere: only fields outside the verdict (the moderation decision, enforcement notes) may change,
# with one exception (LATE_VERDICT): an ERROR that gave up waiting takes Green's verdict if it arrives.
MAY_BECOME: dict[str | None, frozenset[str]] = {
    None: frozenset({"RECEIVED", "SUPERSEDED"}),
    "RECEIVED": frozenset({"RECEIVED", "PENDING"}) | TERMINAL,
    "PENDING": frozenset({"PENDING"}) | TERMINAL,
    **{state: frozenset() for state in TERMINAL},
}
LATE_VERDICT = ("ERROR", "gave_up_after_", "FINAL")  # from, its reason's prefix, to
VERDICT_FIELDS = ("state", "suggestion", "scenes", "reason")
GREEN_CODE = re.compile(r"^green_(\d{3})_")
GAVE_UP = ("gave_up_after_", "not_submitted_after_")
SPENT = re.compile(r"^(?:gave_up_after_(\d+)_scans|not_submitted_after_(\d+)_recoveries)")


EXPLAINING = ("crash", "dynamodb_throttle_surfaced")


class HarnessFaults:
    """The harness's own injections (greenlight_local.fault_hooks hits), to explain lost attempts."""

    def __init__(self, hits: Iterable[Mapping[str, Any]], timeouts: Mapping[str, float]) -> None:
        self.timeouts = dict(timeouts)
        hits = list(hits)
        stalled = {h["pid"] for h in hits if h["kind"] == "crash" and h.get("mode") == "timeout"}
        self.by_function: dict[str, list[Mapping[str, Any]]] = {}
        self.overruns: Counter[str] = Counter()  # watchdog timeouts nobody injected, by function
        for hit in hits:
            if hit["kind"] == "watchdog_timeout" and hit["pid"] not in stalled:
                self.overruns[str(hit["function"])] += 1
            if hit["kind"] in EXPLAINING:
                self.by_function.setdefault(str(hit["function"]), []).append(hit)

    def explains(self, function: str, at: float) -> str | None:
        """The injected fault that cut short an invocation of `function` that counted an attempt at `at`."""
        window = self.timeouts.get(function, 10.0) + 2
        for hit in self.by_function.get(function, []):
            if at - 1 <= hit["at"] <= at + window:
                return f"{hit['kind']} {hit.get('point') or hit.get('operation') or ''}".strip()
        return None


@dataclass
class Evidence:
    """What the checks judge records against."""

    ledger: Mapping[str, Mapping[str, Any]]
    changes: Mapping[str, list[Change]]  # record id -> its changes, in order
    harness: HarnessFaults


def open_attempts(changes: Iterable[Change]) -> list[tuple[float, str]]:
    """The attempts a record counted and still counts without a task recorded on it: (when, by whom)."""
    opens: list[tuple[float, str]] = []
    for change in changes:
        old, new = change.old or {}, change.new or {}
        before, after = int(old.get("attempts") or 0), int(new.get("attempts") or 0)
        history = new.get("history") or [{}]
        by = "poll" if new.get("state") == "PENDING" else str(history[-1].get("by"))
        opens.extend((change.at, by) for _ in range(after - before))
        for _ in range(before - after):  # given back
            if opens:
                opens.pop()
        if new.get("state") == "PENDING" and new.get("task_id") != old.get("task_id") and opens:
            opens.pop()  # the task this attempt made is recorded
    return opens


@dataclass
class Verdicts:
    max_attempts: int = 3  # MaxScanAttempts (the template's default)
    max_recoveries: int = 30  # MAX_RECOVERIES (the template's)
    violations: list[str] = field(default_factory=list)
    by_write: dict[int, VerdictRecord] = field(default_factory=dict)  # id(write) -> its record
    tasks_per_version: Counter[int] = field(default_factory=Counter)
    errors_explained: list[str] = field(default_factory=list)
    honest_skips: list[str] = field(default_factory=list)
    takeovers: Counter[str] = field(default_factory=Counter)  # who took a RECEIVED record over
    rescans: int = 0
    late_verdicts: int = 0  # give-ups (ERROR gave_up_after_...) that took Green's verdict afterwards
    stream_changes: int = 0

    def fail(self, message: str) -> None:
        self.violations.append(message)


def _label(write: Write) -> str:
    version = write.version_id or f"seq {write.sequencer}"
    return f"{write.bucket.rsplit('-', 1)[-1]}:{write.key}@{version} ({write.item.kind}, {write.item.phase})"


def version_key(bucket: str, key: str, version_id: str | None, sequencer: str | None) -> tuple[str, str, str]:
    """(bucket, key, version id) for a versioned object, (bucket, key, sequencer) otherwise."""
    version = version_id if version_id and version_id != "null" else f"seq:{(sequencer or '').upper()}"
    return (bucket, key, version)


def index_records(records: Iterable[VerdictRecord]) -> dict[tuple[str, str, str], VerdictRecord]:
    return {version_key(r.bucket, r.key, r.version_id, r.sequencer): r for r in records}


def index_images(images: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """Item images (from the stream) by the same key as index_records."""
    return {version_key(str(i.get("bucket")), str(i.get("key")), i.get("version_id"), i.get("sequencer")): i
            for i in images}


def write_key(write: Write) -> tuple[str, str, str]:
    return (write.bucket, write.key, write.version_id or f"seq:{(write.sequencer or '').upper()}")


def match_records(writes: list[Write], records: list[VerdictRecord], result: Verdicts) -> None:
    """Every write has exactly one record, and every record is of a write the harness made."""
    index = index_records(records)
    if len(index) != len(records):
        result.fail(f"{len(records) - len(index)} records share a version with another record")
    claimed: set[str] = set()
    for write in writes:
        if not write.versioned and write.sequencer is None:
            result.fail(f"{_label(write)}: the tap never saw its S3 event")
            continue
        record = index.get(write_key(write))
        if record is None:
            result.fail(f"{_label(write)}: no verdict record")
            continue
        if record.id in claimed:
            result.fail(f"{_label(write)}: its record {record.id} is also another write's")
        claimed.add(record.id)
        result.by_write[id(write)] = record
    for record in records:
        if record.id not in claimed:
            result.fail(f"record {record.id} ({record.key}@{record.version_id or record.sequencer}) is for no write "
                        "the harness made")
    per_key: Counter[tuple[str, str]] = Counter((w.bucket, w.key) for w in writes)
    records_per_key: Counter[tuple[str, str]] = Counter((r.bucket, r.key) for r in records)
    for key, count in per_key.items():
        if records_per_key[key] != count:
            result.fail(f"{key[1]}: {count} writes but {records_per_key[key]} version records")


def handed_verdicts(facts: Mapping[str, Any] | None) -> int:
    """Results with a verdict (code 200) Green handed over for a dataId: callbacks answered 200, results."""
    handed = (facts or {}).get("handed", {})
    return sum(n for via, n in handed.items() if via.endswith(":200"))


def _evidence(facts: Mapping[str, Any] | None) -> str:
    facts = facts or {}
    return (f"tasks {len(facts.get('tasks', []))}, finished {facts.get('finished', {})}, "
            f"faults {facts.get('faults', {})}, handed {facts.get('handed', {})}")


def judge_versions(writes: list[Write], live: set[int], evidence: Evidence, result: Verdicts) -> None:
    """Each version's record against the verdict its bytes deserve (the plan) and the faults Green
    injected on it (the emulator)."""
    key_suggestions: dict[tuple[str, str], set[str]] = {}
    for write in writes:
        key_suggestions.setdefault((write.bucket, write.key), set()).add(write.content.expected[1])
    for write in writes:
        record = result.by_write.get(id(write))
        if record is None:
            continue
        facts = evidence.ledger.get(record.id)
        is_live = id(write) in live
        problem = _judge(write, record, is_live, facts, key_suggestions[(write.bucket, write.key)], result)
        if problem is None and record.state.value == "ERROR":
            problem, account = _lost_attempts(record, facts, evidence)
            if problem is None:
                result.errors_explained.append(f"{record.id} {write.key}: ERROR {record.reason}: no verdict was ever "
                                               f"handed over; {account}; Green: {_evidence(facts)}")
        if problem:
            result.fail(f"{_label(write)}{' [live]' if is_live else ''}: {problem}; "
                        f"history {[(e.get('to'), e.get('by'), e.get('reason')) for e in record.history]}; "
                        f"Green: {_evidence(facts)}")


def _judge(write: Write, record: VerdictRecord, live: bool, facts: Mapping[str, Any] | None,
           key_suggestions: set[str], result: Verdicts) -> str | None:
    state, reason = record.state.value, record.reason or ""
    deserved_state, deserved = write.content.expected
    if state not in TERMINAL:
        return f"never settled: {state}"
    if state == "FINAL":
        if deserved_state == "FINAL" and record.suggestion == deserved:
            return None
        if not live and not write.versioned and record.suggestion in key_suggestions:
            return None  # overwritten before Green fetched it: an unversioned URL serves the newer bytes
        return f"FINAL/{record.suggestion}, but its bytes deserve {deserved_state}/{deserved}"
    if state == "SUPERSEDED":
        return "a live version was SUPERSEDED" if live else None
    if state == "SKIPPED":
        if deserved_state == "SKIPPED" and reason == deserved:
            return None
        if reason == "object_missing" and (write.deleted or (not live and not write.versioned)):
            # deleted; or an unversioned write whose key was overwritten and then emptied (a delete, or
            # enforcement quarantining the newer bytes) before its scan was recovered
            return None
        code = GREEN_CODE.match(reason)
        if code and int(code.group(1)) in {int(c) for c in (facts or {}).get("codes", {})}:
            result.honest_skips.append(f"{record.id} {reason}: Green was made to answer {code.group(1)}")
            return None
        return f"SKIPPED {reason}, but its bytes deserve {deserved_state}/{deserved} and no fault explains it"
    # ERROR: honest only when Green never handed a verdict over for this dataId
    if not reason.startswith(GAVE_UP):
        return f"ERROR {reason}: not a reason any injected fault leads to"
    handed = handed_verdicts(facts)
    if handed:
        return f"ERROR {reason} although Green handed over {handed} verdict(s) for it: a lost verdict"
    spent = SPENT.match(reason)
    if spent and spent.group(1) and int(spent.group(1)) < result.max_attempts:
        return (f"ERROR {reason} with {record.attempts} of {result.max_attempts} attempts counted: it gave up "
                "before its attempts were spent, a lost verdict")
    if spent and spent.group(2) and int(spent.group(2)) < result.max_recoveries:
        return f"ERROR {reason} before {result.max_recoveries} recoveries: a lost verdict"
    return None


def _lost_attempts(record: VerdictRecord, facts: Mapping[str, Any] | None,
                   evidence: Evidence) -> tuple[str | None, str]:
    """Why an ERROR's counted attempts were spent: each reached Green, or an injected fault cut it short.
    Returns (a violation or None, the account)."""
    opens = open_attempts(evidence.changes.get(record.id, []))
    tasks = len((facts or {}).get("tasks", []))
    unrecorded_tasks = max(0, tasks - len(record.task_ids))
    lost = len(opens) - unrecorded_tasks
    causes = [cause for at, by in opens if (cause := evidence.harness.explains(by, at))]
    account = (f"{record.attempts} attempts: {tasks} reached Green ({unrecorded_tasks} never recorded on the "
               f"record), {max(0, lost)} cut short by {causes[:max(0, lost)]}")
    if lost <= 0 or len(causes) >= lost:
        return None, account
    return (f"ERROR {record.reason}: {lost} counted attempt(s) never reached Green nor were given back, and only "
            f"{len(causes)} injected fault(s) explain them ({causes}; attempts counted at "
            f"{[(round(at, 1), by) for at, by in opens]}): a verdict lost to the system's own failure"), account


def check_tasks(writes: list[Write], ledger: Mapping[str, Mapping[str, Any]], max_attempts: int,
                result: Verdicts) -> None:
    """Green's tasks per version (from the emulator) within MaxScanAttempts; no task for a dataId no
    version has."""
    ids = set()
    for write in writes:
        record = result.by_write.get(id(write))
        if record is None:
            continue
        ids.add(record.id)
        tasks = len((ledger.get(record.id) or {}).get("tasks", []))
        result.tasks_per_version[tasks] += 1
        if tasks > max_attempts:
            result.fail(f"{_label(write)}: Green holds {tasks} tasks for it, over MaxScanAttempts {max_attempts}")
    for data_id, facts in ledger.items():
        if data_id not in ids and facts.get("tasks"):
            result.fail(f"Green scanned dataId {data_id}, which is no version's record")


def _verdict_of(image: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(image.get(name) for name in VERDICT_FIELDS)


def _late_verdict(before: str | None, reason: str, after: str | None) -> bool:
    return (before, after) == (LATE_VERDICT[0], LATE_VERDICT[2]) and reason.startswith(LATE_VERDICT[1])


def check_history(record: VerdictRecord, result: Verdicts) -> None:
    """The record's own audit trail follows MAY_BECOME and ends in the record's state."""
    previous: str | None = None
    previous_reason = ""
    known = record.history_folded == 0  # folded: the first kept entry's predecessor is unknown
    for entry in record.history:
        target = entry.get("to")
        if target is None:
            continue  # not a state change (an action on the object)
        if known and target not in MAY_BECOME.get(previous, frozenset()) \
                and not _late_verdict(previous, previous_reason, target):
            result.fail(f"{record.id} {record.key}: history moves {previous} -> {target}")
        previous, previous_reason, known = target, str(entry.get("reason") or ""), True
    if previous != record.state.value:
        result.fail(f"{record.id} {record.key}: history ends in {previous}, the record is {record.state.value}")


def check_stream(changes: list[Change], records: list[VerdictRecord], result: Verdicts) -> None:
    """Every change of the run: allowed by MAY_BECOME, nothing about a verdict changed once terminal,
    no verdict record deleted, and the last change of each record is the record as it is now."""
    result.stream_changes = len(changes)
    last: dict[str, Mapping[str, Any]] = {}
    for change in changes:
        old, new = change.old, change.new
        if change.event == "REMOVE" or new is None:
            result.fail(f"{change.id}: deleted (stream {change.sequence})")
            continue
        before = old.get("state") if old else None
        after = new.get("state")
        if _late_verdict(before, str((old or {}).get("reason") or ""), after):
            result.late_verdicts += 1
        elif before in TERMINAL:
            if _verdict_of(old or {}) != _verdict_of(new):
                result.fail(f"{change.id} {new.get('key')}: changed after it was {before}: "
                            f"{_verdict_of(old or {})} -> {_verdict_of(new)} (stream {change.sequence})")
        elif after != before or before is None:
            if after not in MAY_BECOME.get(before, frozenset()):
                result.fail(f"{change.id} {new.get('key')}: {before} -> {after} (stream {change.sequence})")
        elif before == "RECEIVED" and old and old.get("lease_token") != new.get("lease_token"):
            history = new.get("history") or [{}]
            result.takeovers[str(history[-1].get("by"))] += 1
        elif before == "PENDING" and old and old.get("task_id") != new.get("task_id"):
            result.rescans += 1
        last[change.id] = new
    for record in records:
        seen = last.get(record.id)
        if seen is None:
            result.fail(f"{record.id}: no change of it in the stream")
        elif seen.get("state") != record.state.value:
            result.fail(f"{record.id}: the stream's last change says {seen.get('state')}, the table "
                        f"{record.state.value}")
