"""An in-memory ReviewStore over an InMemoryVerdictStore's records, with the DynamoDB one's rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from fakes.verdict_store import InMemoryVerdictStore, room_for_one_more
from greenlight.domain.record import VerdictRecord, history_entry, iso
from greenlight.domain.states import ALLOWED_FROM, State


class InMemoryReviews:
    def __init__(self, store: InMemoryVerdictStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def versions_of(self, bucket: str, key: str, *, limit: int = 50) -> list[VerdictRecord]:
        found = [r for r in self._store.records.values() if (r.bucket, r.key) == (bucket, key)]
        return sorted(found, key=lambda r: r.created_at or "", reverse=True)[:limit]

    def review_queue(self, *, limit: int = 50) -> list[VerdictRecord]:
        found = [r for r in self._store.records.values() if r.decision == "review"]
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
