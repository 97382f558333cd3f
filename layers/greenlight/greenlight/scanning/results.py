"""Apply one Green task result to its verdict record: the one path used by callback, poll and sync.

A genuine result for a record's dataId is a verdict on that version's bytes, whichever of the
record's tasks produced it (a task whose submission was never recorded included), so it is
applied while the record is RECEIVED or PENDING. The write is conditional (VerdictStore.finish):
the callback and the poller applying the same result, a replayed callback, or a late result for a
superseded or already final record change the record at most once, and only that call reports an
outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenlight.domain.outcomes import Outcome
from greenlight.domain.states import State
from greenlight.domain.verdicts import terminal_state
from greenlight.green.wire import TaskResult
from greenlight.ports import VerdictStore


@dataclass(frozen=True)
class Applied:
    changed: bool
    state: State | None = None  # the terminal state the result leads to, when it is final
    outcome: Outcome | None = None  # what to count, when the record changed


def apply_result(store: VerdictStore, result: TaskResult, *, record_id: str, by: str) -> Applied:
    """Record `result` on `record_id` if the result is final."""
    target = terminal_state(result)
    if target is None:
        return Applied(changed=False)
    state, reason = target
    changed = store.finish(record_id, state, by=by, reason=reason, result=result)
    return Applied(changed=changed, state=state,
                   outcome=Outcome.for_terminal(state, result.suggestion) if changed else None)
