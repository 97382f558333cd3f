"""A person's override of a decision: validated, applied once, recorded as a state change.

An override replaces a decided record's decision (FINAL, SKIPPED, ERROR, SUPERSEDED, or OVERRIDDEN
for an override of an override) with the person's, keeping who, when, why and the decision before it
on the record. It raises the record's decision_rev, so the enforce function acts on it like on any
decision (retag, put a quarantined version back, or quarantine it), publishes a verdict event, and
tells Green about the correction (ImageScanFeedback). Each request has an id: a replayed request
changes nothing; an override based on a record that changed since the person read it is refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from greenlight.domain.policy import Decision, Policy
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import TERMINAL
from greenlight.ports import ReviewStore, VerdictStore

DECISIONS = ("pass", "review", "block")
MAX_REASON = 500


class OverrideRefused(Exception):
    """Why an override cannot be applied, in one line a person can act on."""


@dataclass(frozen=True)
class OverrideRequest:
    record_id: str
    decision: str
    reason: str
    actor: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class OverrideResult:
    record: VerdictRecord
    applied: bool  # False: this request had been applied already (a replay)


def validate(request: OverrideRequest) -> None:
    if request.decision not in DECISIONS:
        raise OverrideRefused(f"decision must be one of {', '.join(DECISIONS)}, not {request.decision!r}")
    if not request.reason.strip():
        raise OverrideRefused("a reason is required: say why the decision is wrong")
    if len(request.reason) > MAX_REASON:
        raise OverrideRefused(f"the reason is over {MAX_REASON} characters")
    if not request.actor:
        raise OverrideRefused("no caller identity: who is overriding?")


def override_decision(request: OverrideRequest, policy: Policy) -> Decision:
    """The decision as a record holds it: the person's value, in the mode the policy is in now."""
    return Decision(request.decision, policy.version, policy.mode,  # type: ignore[arg-type]
                    (f"override by {request.actor}: {request.reason.strip()}",))


def apply_override(store: VerdictStore, reviews: ReviewStore, policy: Policy,
                   request: OverrideRequest) -> OverrideResult:
    validate(request)
    record = store.get(request.record_id)
    if record is None:
        raise OverrideRefused(f"no verdict record {request.record_id}")
    if request.request_id in record.override_ids:
        return OverrideResult(record, applied=False)
    if record.state not in TERMINAL or not record.decision:
        raise OverrideRefused(f"{record.id} has no decision yet ({record.state.value}); wait for its verdict")
    decision = override_decision(request, policy).to_record()
    if reviews.override(record, decision=decision, actor=request.actor, reason=request.reason.strip(),
                        request_id=request.request_id):
        current = store.get(record.id)
        assert current is not None
        return OverrideResult(current, applied=True)
    current = store.get(record.id)
    if current is not None and request.request_id in current.override_ids:
        return OverrideResult(current, applied=False)  # a concurrent replay got there first
    raise OverrideRefused(f"{record.id} changed while you were looking at it; read it again")
