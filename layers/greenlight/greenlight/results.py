"""Apply one Green task result to its verdict record: the one path used by callback, poll and sync.

The write is conditional (see store.finish), so the callback and the poller applying the same
result, a replayed callback, or a late result for a superseded or resubmitted task change the
record at most once; only the call that changed it counts a metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from greenlight.green.wire import TaskOutcome, TaskResult
from greenlight.observability import count
from greenlight.states import State

if TYPE_CHECKING:
    from greenlight.store import VerdictStore

SUGGESTION_METRICS = {"pass": "VerdictPass", "review": "VerdictReview", "block": "VerdictBlock"}


@dataclass(frozen=True)
class Applied:
    changed: bool
    state: State | None = None  # the terminal state written, when the result was final
    outcome: TaskOutcome | None = None


def terminal_state(result: TaskResult) -> tuple[State, str | None] | None:
    """The terminal state a result leads to, with its reason; None if it is not final."""
    outcome = result.outcome
    if outcome is TaskOutcome.DONE:
        if result.suggestion is None:
            return State.ERROR, "green_returned_no_results"
        return State.FINAL, None
    if outcome is TaskOutcome.UNSUPPORTED:
        return State.SKIPPED, f"green_{result.code}_{result.msg or 'unsupported'}".lower()
    if outcome is TaskOutcome.INVALID:
        return State.ERROR, f"green_{result.code}_{result.msg or 'invalid'}".lower()
    return None


def apply_result(store: VerdictStore, result: TaskResult, *, source: str, data_id: str | None = None,
                 lease_token: str | None = None) -> Applied:
    """Record `result` if it is final. With `lease_token` (sync mode) the record must be RECEIVED
    under that lease; otherwise it must be PENDING and own the result's task."""
    target = terminal_state(result)
    if target is None:
        return Applied(changed=False, outcome=result.outcome)
    state, reason = target
    record_id = data_id or result.data_id
    if record_id is None and result.task_id:
        found = store.find_by_task(result.task_id)
        record_id = found.id if found else None
    if record_id is None:
        return Applied(changed=False, outcome=result.outcome)
    changed = store.finish(
        record_id,
        state,
        source=source,
        reason=reason,
        result=result if state is State.FINAL else None,
        task_id=None if lease_token else (result.task_id or ""),
        lease_token=lease_token,
    )
    if changed:
        count_terminal(state, result.suggestion)
    return Applied(changed=changed, state=state, outcome=result.outcome)


def count_terminal(state: State, suggestion: str | None = None) -> None:
    if state is State.FINAL and suggestion in SUGGESTION_METRICS:
        count(SUGGESTION_METRICS[suggestion])
    elif state is State.SKIPPED:
        count("ObjectSkipped")
    elif state is State.ERROR:
        count("ObjectErrored")
    elif state is State.SUPERSEDED:
        count("ObjectSuperseded")
