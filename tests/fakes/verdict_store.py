"""An in-memory VerdictStore that keeps the same rules as the DynamoDB one.

Conditions come from the same transition table (greenlight.domain.states) and the same history
limit; tests/integration/test_verdict_store_contract.py runs one suite against this and the real
table on moto, so the two cannot drift.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.domain.record import (
    HISTORY_LIMIT,
    Claim,
    HeadUpdate,
    VerdictRecord,
    history_entry,
    iso,
    object_fields,
)
from greenlight.domain.states import ALLOWED_FROM, State, may_take_late_verdict
from greenlight.green.wire import TaskResult

_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(VerdictRecord))


def _record_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The details a record shows: the table stores other names as attributes VerdictRecord does not read."""
    return {name: value for name, value in (details or {}).items() if name in _RECORD_FIELDS}


class InMemoryVerdictStore:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.records: dict[str, VerdictRecord] = {}
        self.heads: dict[str, tuple[str, str]] = {}  # head id -> (order, latest data id)
        self.writes = 0  # successful writes, for tests that count work

    # -- reads ----------------------------------------------------------------------------------

    def get(self, record_id: str) -> VerdictRecord | None:
        with self._lock:
            return self.records.get(record_id)

    def find_by_task(self, task_id: str) -> VerdictRecord | None:
        with self._lock:
            return next((r for r in self.records.values() if r.task_id == task_id), None)

    def due(self, now: float, limit: int) -> list[VerdictRecord]:
        with self._lock:
            found = [r for r in self.records.values()
                     if r.state in (State.RECEIVED, State.PENDING) and r.due_at is not None and r.due_at <= now]
        return sorted(found, key=lambda r: r.due_at or 0)[:limit]

    # -- writes that are not state changes ------------------------------------------------------

    def advance_head(self, obj: ObjectRef) -> HeadUpdate:
        with self._lock:
            current = self.heads.get(obj.head_id)
            if current is not None and not (current[0] < obj.order or current[1] == obj.data_id):
                return HeadUpdate(newest=False)
            self.heads[obj.head_id] = (obj.order, obj.data_id)
            self.writes += 1
            previous = current[1] if current else None
            return HeadUpdate(newest=True, previous_id=previous if previous != obj.data_id else None)

    def claim(self, obj: ObjectRef, *, lease_seconds: float, max_attempts: int, by: str) -> Claim:
        now = self._clock()
        token = uuid.uuid4().hex
        with self._lock:
            existing = self.records.get(obj.data_id)
            if existing is None:
                fields = object_fields(obj)
                self.records[obj.data_id] = VerdictRecord(
                    **fields, state=State.RECEIVED, rev=1, attempts=1, lease_token=token,
                    lease_until=now + lease_seconds, due_at=now + lease_seconds, created_at=iso(now),
                    updated_at=iso(now), history=(history_entry(State.RECEIVED, now, by),))
                self.writes += 1
                return Claim(claimed=True, lease_token=token, attempts=1)
            if (existing.state is not State.RECEIVED or (existing.lease_until or 0) > now
                    or existing.attempts >= max_attempts):
                return Claim(claimed=False, existing=existing)
            changed = self._change(obj.data_id, State.RECEIVED, now, by, lease_token=token,
                                   lease_until=now + lease_seconds, due_at=now + lease_seconds,
                                   attempts=existing.attempts + 1,
                                   recoveries=existing.recoveries + (0 if by == "submit" else 1))
            assert changed
            return Claim(claimed=True, lease_token=token, takeover=True, attempts=existing.attempts + 1)

    def release(self, record_id: str, lease_token: str, *, retry_at: float, unsent: bool) -> bool:
        with self._lock:
            record = self.records.get(record_id)
            if record is None or record.state is not State.RECEIVED or record.lease_token != lease_token:
                return False
            self._put(replace(record, lease_until=0, due_at=retry_at, updated_at=iso(self._clock()),
                              attempts=record.attempts - (1 if unsent else 0)))
            return True

    def reserve_rescan(self, record_id: str, *, task_id: str | None, max_attempts: int, due_at: float) -> bool:
        with self._lock:
            record = self.records.get(record_id)
            if (record is None or record.state is not State.PENDING or record.attempts >= max_attempts
                    or record.task_id != task_id):
                return False
            self._put(replace(record, attempts=record.attempts + 1, due_at=due_at))
            return True

    def reschedule(self, record_id: str, *, task_id: str | None, due_at: float, last_code: int | None = None,
                   only_earlier: bool = False, return_attempt: bool = False) -> bool:
        with self._lock:
            record = self.records.get(record_id)
            if record is None or record.state is not State.PENDING or record.task_id != task_id:
                return False
            if only_earlier and not (record.due_at is not None and record.due_at > due_at):
                return False
            self._put(replace(record, due_at=due_at, last_code=last_code,
                              attempts=record.attempts - (1 if return_attempt else 0)))
            return True

    # -- what was done about a decision ---------------------------------------------------------------

    def record_enforcement(self, record_id: str, *, decision_rev: int, enforcement: Mapping[str, Any],
                           entries: Sequence[Mapping[str, Any]]) -> bool:
        with self._lock:
            record = self.records.get(record_id)
            if record is None or record.decision_rev != decision_rev:
                return False
            history, folded = room_for_one_more(record)
            self._put(replace(record, enforcement=dict(enforcement), rev=record.rev + 1,
                              updated_at=iso(self._clock()), history=(*history, *(dict(e) for e in entries)),
                              history_folded=folded))
            return True

    def set_quarantine(self, record_id: str, quarantine: Mapping[str, Any] | None) -> bool:
        with self._lock:
            record = self.records.get(record_id)
            if record is None:
                return False
            self._put(replace(record, quarantine=dict(quarantine or {})))
            return True

    # -- state changes ------------------------------------------------------------------------------

    def create_superseded(self, obj: ObjectRef, *, reason: str, by: str,
                          decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        with self._lock:
            if obj.data_id in self.records:
                return self.supersede(obj.data_id, reason=reason, by=by, decision=decision)
            self.records[obj.data_id] = VerdictRecord(
                **object_fields(obj), state=State.SUPERSEDED, rev=1, reason=reason, source=by, created_at=iso(now),
                updated_at=iso(now), finished_at=iso(now),
                history=(history_entry(State.SUPERSEDED, now, by, reason=reason),),
                **_decided(decision, now, 0))
            self.writes += 1
            return True

    def supersede(self, record_id: str, *, reason: str, by: str, decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        with self._lock:
            record = self.records.get(record_id)
            decided = _decided(decision, now, record.decision_rev if record else 0)
            return self._change(record_id, State.SUPERSEDED, now, by, history_reason=reason, reason=reason,
                                source=by, finished_at=iso(now), lease_token=None, lease_until=None, due_at=None,
                                **decided)

    def mark_pending(self, record_id: str, *, lease_token: str, task_id: str, due_at: float,
                     url_expires_at: float | None, details: Mapping[str, Any] | None, by: str) -> bool:
        now = self._clock()
        with self._lock:
            record = self.records.get(record_id)
            if record is None or record.state is not State.RECEIVED or record.lease_token != lease_token:
                return False
            return self._change(record_id, State.PENDING, now, by, history_task=task_id,
                                **self._submitted(record, now, task_id, due_at, url_expires_at),
                                lease_token=None, lease_until=None, **_record_details(details))

    def resubmitted(self, record_id: str, *, task_id: str, due_at: float, url_expires_at: float | None,
                    reason: str, by: str) -> bool:
        now = self._clock()
        with self._lock:
            record = self.records.get(record_id)
            if record is None or record.state is not State.PENDING:
                return False
            return self._change(record_id, State.PENDING, now, by, history_task=task_id, history_reason=reason,
                                **self._submitted(record, now, task_id, due_at, url_expires_at), reason=reason)

    def finish(self, record_id: str, state: State, *, by: str, reason: str | None = None,
               result: TaskResult | None = None, details: Mapping[str, Any] | None = None,
               decision: Mapping[str, Any] | None = None) -> bool:
        if state not in (State.FINAL, State.SKIPPED, State.ERROR):
            raise ValueError(f"finish() records a verdict; {state} has its own write")
        now = self._clock()
        changes: dict[str, Any] = {"finished_at": iso(now), "source": by, "reason": reason,
                                   **{k: v for k, v in _record_details(details).items() if v is not None}}
        if result is not None:
            changes["result_code"] = result.code
            if result.task_id:
                changes["task_id"] = result.task_id
            if state is State.FINAL:
                changes["suggestion"] = result.suggestion
                changes["scenes"] = {r.scene: {"label": r.label, "suggestion": r.suggestion, "rate": r.rate}
                                     for r in result.results}
        with self._lock:
            record = self.records.get(record_id)
            changes.update(_decided(decision, now, record.decision_rev if record else 0))
            return self._change(record_id, state, now, by, history_reason=reason,
                                history_task=result.task_id if result else None,
                                late_verdict=state is State.FINAL and result is not None,
                                lease_token=None, lease_until=None, due_at=None, **changes)

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _submitted(record: VerdictRecord, now: float, task_id: str, due_at: float,
                   url_expires_at: float | None) -> dict[str, Any]:
        return {"task_id": task_id, "task_ids": record.task_ids | {task_id}, "submitted_at": iso(now),
                "submitted_epoch": now, "due_at": due_at,
                "url_expires_at": iso(url_expires_at) if url_expires_at else None}

    def _change(self, record_id: str, target: State, now: float, by: str, *, history_task: str | None = None,
                history_reason: str | None = None, late_verdict: bool = False, **changes: Any) -> bool:
        """`late_verdict`: Green's verdict, which may also replace a give-up (as the DynamoDB condition)."""
        with self._lock:
            record = self.records.get(record_id)
            if record is None:
                return False
            if record.state not in ALLOWED_FROM[target] and not (
                    late_verdict and may_take_late_verdict(record.state, record.reason)):
                return False
            history, folded = room_for_one_more(record)
            entry = history_entry(target, now, by, task_id=history_task, reason=history_reason)
            self._put(replace(record, state=target, rev=record.rev + 1, updated_at=iso(now),
                              history=(*history, entry), history_folded=folded, **changes))
            return True

    def _put(self, record: VerdictRecord) -> None:
        self.records[record.id] = record
        self.writes += 1


def _decided(decision: Mapping[str, Any] | None, now: float, decision_rev: int) -> dict[str, Any]:
    """A decision's fields as the record holds them, as DynamoVerdictStore._decided writes them."""
    if not decision:
        return {}
    values = {**decision, "decided_at": iso(now), "decision_rev": decision_rev + 1}
    if "decision_reasons" in values:
        values["decision_reasons"] = tuple(values["decision_reasons"])
    return values



def room_for_one_more(record: VerdictRecord) -> tuple[tuple[dict[str, Any], ...], int]:
    """The record's history (and folded count) as the table folds it before a write: a full history
    keeps its newer half, counting the rest."""
    history, folded = record.history, record.history_folded
    if len(history) >= HISTORY_LIMIT:
        keep = HISTORY_LIMIT // 2
        folded += len(history) - keep
        history = history[-keep:]
    return history, folded
