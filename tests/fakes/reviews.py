"""An in-memory ReviewStore over an InMemoryVerdictStore's records, with the DynamoDB one's rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import replace
from typing import Any

from fakes.verdict_store import InMemoryVerdictStore, room_for_one_more
from greenlight.aws.reviews import not_enforced
from greenlight.domain.record import VerdictRecord, history_entry, iso
from greenlight.domain.states import ALLOWED_FROM, State, may_reopen


class InMemoryReviews:
    def __init__(self, store: InMemoryVerdictStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def versions_of(self, bucket: str, key: str, *, limit: int = 50) -> list[VerdictRecord]:
        found = [r for r in self._store.records.values() if (r.bucket, r.key) == (bucket, key)]
        return sorted(found, key=lambda r: r.created_at or "", reverse=True)[:limit]

    def review_queue(self, *, limit: int = 50) -> list[VerdictRecord]:
        # The table files a record in the queue with a `review` decision (always on a terminal record)
        # and takes it out with a rescan (back to RECEIVED) or another decision.
        found = [r for r in self._store.records.values() if r.decision == "review" and r.terminal]
        return sorted(found, key=lambda r: r.decided_at or "")[:limit]

    def override(self, record: VerdictRecord, *, decision: Mapping[str, Any], actor: str, reason: str,
                 request_id: str) -> bool:
        now = self._clock()
        with self._store._lock:
            current = self._store.records.get(record.id)
            if (current is None or current.state not in ALLOWED_FROM[State.OVERRIDDEN]
                    or request_id in current.override_ids or current.decision_rev != record.decision_rev):
                return False
            history, folded = room_for_one_more(current)
            values = {**decision}
            values["decision_reasons"] = tuple(values.get("decision_reasons") or ())
            self._store._put(replace(
                current, **values, state=State.OVERRIDDEN, rev=current.rev + 1, updated_at=iso(now),
                decided_at=iso(now), decision_rev=current.decision_rev + 1,
                override={"request_id": request_id, "by": actor, "at": iso(now), "reason": reason,
                          "decision": decision.get("decision"), "previous_decision": current.decision,
                          "previous_state": current.state.value, "decision_rev": current.decision_rev + 1},
                override_ids=current.override_ids | {request_id},
                history=(*history, history_entry(State.OVERRIDDEN, now, actor, reason=reason)), history_folded=folded))
            return True

    def record_feedback(self, record_id: str, feedback: Mapping[str, Any]) -> bool:
        with self._store._lock:
            current = self._store.records.get(record_id)
            if current is None:
                return False
            self._store._put(replace(current, feedback=dict(feedback)))
            return True

    def reopen(self, record: VerdictRecord, *, actor: str, reason: str) -> bool:
        now = self._clock()
        with self._store._lock:
            current = self._store.records.get(record.id)
            if current is None or not may_reopen(current.state) or current.rev != record.rev:
                return False
            history, folded = room_for_one_more(current)
            self._store._put(replace(
                current, state=State.RECEIVED, rev=current.rev + 1, updated_at=iso(now), attempts=0, recoveries=0,
                lease_token=uuid.uuid4().hex, lease_until=0, due_at=now, reason=None, finished_at=None,
                last_code=None, history=(*history, history_entry(State.RECEIVED, now, actor, reason=reason)),
                history_folded=folded))
            return True

    def scan(self, *, states: Collection[State] = (), unenforced: bool = False,
             on_page: Callable[[int], None] | None = None) -> Iterator[VerdictRecord]:
        with self._store._lock:
            records = list(self._store.records.values())
        if on_page is not None:
            on_page(len(records))
        for record in records:
            if (not states or record.state in states) and (not unenforced or not_enforced(record)):
                yield record
