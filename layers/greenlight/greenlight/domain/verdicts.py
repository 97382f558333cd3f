"""What one Green task result means for the verdict record of the version it judged."""

from __future__ import annotations

from greenlight.domain.states import State
from greenlight.green.wire import TaskOutcome, TaskResult


def terminal_state(result: TaskResult) -> tuple[State, str | None] | None:
    """The terminal state a result leads to, with its reason; None if it is not final."""
    outcome = result.outcome
    if outcome is TaskOutcome.DONE:
        if result.suggestion is None:
            return State.ERROR, "green_returned_no_results"
        return State.FINAL, None
    if outcome is TaskOutcome.UNSUPPORTED:
        return State.SKIPPED, reason_for(result)
    if outcome is TaskOutcome.INVALID:
        return State.ERROR, reason_for(result)
    return None


def reason_for(result: TaskResult) -> str:
    """A record's reason for a per-task code, e.g. `green_590_bad_format`."""
    label = "".join(c if c.isalnum() else "_" for c in (result.msg or result.outcome.value)[:40])
    return f"green_{result.code}_{label}".lower()
