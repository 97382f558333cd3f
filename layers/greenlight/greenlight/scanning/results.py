"""Record a verdict: the one path every terminal write takes, so each carries its moderation decision.

`apply_result` applies one Green task result (callback, poll, sync). A genuine result for a
record's dataId is a verdict on that version's bytes, whichever of the record's tasks produced it
(a task whose submission was never recorded included), so it is applied while the record is
RECEIVED or PENDING. `settle` records any other terminal state (SKIPPED, ERROR, SUPERSEDED).
Both decide with the policy in force (greenlight.domain.policy) and write the decision in the same
conditional write (VerdictStore.finish): the callback and the poller applying the same result, a
replayed callback, or a late result for a superseded or final record change the record at most
once, and only that call reports an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenlight.domain.outcomes import Outcome
from greenlight.domain.policy import Decision, Policy, decide_scanned, decide_unscanned
from greenlight.domain.states import State
from greenlight.domain.verdicts import terminal_state
from greenlight.green.wire import TaskResult
from greenlight.ports import PolicySource, VerdictStore


@dataclass(frozen=True)
class Applied:
    changed: bool
    state: State | None = None  # the terminal state the result leads to, when it is final
    outcome: Outcome | None = None  # what to count, when the record changed
    decision: Decision | None = None


def decision_for(policy: Policy, state: State, *, reason: str | None = None,
                 result: TaskResult | None = None) -> Decision:
    if state is State.FINAL and result is not None:
        return decide_scanned(policy, result.results)
    return decide_unscanned(policy, state, reason)


def settle(store: VerdictStore, policy: PolicySource, record_id: str, state: State, *, by: str,
           reason: str | None = None, result: TaskResult | None = None,
           details: Mapping[str, Any] | None = None) -> Applied:
    """Move a RECEIVED or PENDING record to terminal `state` with the decision the policy makes of it."""
    decision = decision_for(policy.current(), state, reason=reason, result=result)
    if state is State.SUPERSEDED:
        changed = store.supersede(record_id, reason=reason or "superseded", by=by, decision=decision.to_record())
    else:
        changed = store.finish(record_id, state, by=by, reason=reason, result=result, details=details,
                               decision=decision.to_record())
    outcome = Outcome.for_terminal(state, result.suggestion if result else None) if changed else None
    return Applied(changed=changed, state=state, outcome=outcome, decision=decision if changed else None)


def apply_result(store: VerdictStore, policy: PolicySource, result: TaskResult, *, record_id: str,
                 by: str) -> Applied:
    """Record `result` on `record_id` if the result is final."""
    target = terminal_state(result)
    if target is None:
        return Applied(changed=False)
    state, reason = target
    return settle(store, policy, record_id, state, by=by, reason=reason, result=result)
