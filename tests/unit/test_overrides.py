"""A person's override (greenlight.review.overrides) on fakes: validated, applied once, recorded as the
OVERRIDDEN transition with who, when, why and the decision before; replays and stale overrides change nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from fakes.reviews import InMemoryReviews
from greenlight.domain.policy import Policy
from greenlight.domain.record import VerdictRecord, history_entry, iso
from greenlight.domain.states import State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.review.overrides import MAX_REASON, OverrideRefused, OverrideRequest, apply_override
from greenlight.scanning.results import apply_result, settle
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:sts::123456789012:assumed-role/reviewers/bob"
REVIEW = (SceneResult("porn", "sexy", "review", 87.5),)


class Reviewing:
    """The world's store, a ReviewStore over it, and versions with a decision to override."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.reviews = InMemoryReviews(world.store, world.clock)

    @property
    def policy(self) -> Policy:
        return self.world.policy.current()

    def claimed(self, key: str) -> VerdictRecord:
        ref = self.world.objects.put(BUCKET, key, PNG)
        claim = self.world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        assert self.world.store.mark_pending(ref.data_id, lease_token=claim.lease_token, task_id=f"t-{key}",
                                             due_at=0, url_expires_at=None, details=None, by="submit")
        return self.get(ref.data_id)

    def judged(self, key: str, scenes: tuple[SceneResult, ...] = REVIEW) -> VerdictRecord:
        """A version Green answered with `scenes`, decided by the world's policy (Green's suggestion)."""
        record = self.claimed(key)
        result = TaskResult(code=200, msg="OK", task_id=record.task_id, data_id=record.id, results=scenes)
        assert apply_result(self.world.store, self.world.policy, result, record_id=record.id, by="callback").changed
        return self.get(record.id)

    def get(self, record_id: str) -> VerdictRecord:
        record = self.world.store.get(record_id)
        assert record is not None
        return record

    def override(self, record: VerdictRecord, decision: str, *, actor: str = ALICE, reason: str = "a beach photo",
                 request_id: str = "req-1", reviews: Any = None) -> tuple[VerdictRecord, bool]:
        result = apply_override(self.world.store, reviews or self.reviews, self.policy,
                                OverrideRequest(record.id, decision, reason, actor, request_id))
        return result.record, result.applied


@pytest.fixture
def bench(world: World) -> Reviewing:
    return Reviewing(world)


def test_an_override_is_recorded_as_a_state_change_with_who_when_why_and_the_decision_before(bench: Reviewing) -> None:
    # Given a version Green said review on
    before = bench.judged("beach.png")
    assert (before.state, before.decision, before.decision_rev) == (State.FINAL, "review", 1)
    now = bench.world.clock.advance(60)

    # When Alice approves it
    after, applied = bench.override(before, "pass", reason="  a beach photo ")

    # Then it is OVERRIDDEN to pass under the policy in force, its decision_rev raised (enforcement acts on it)
    assert applied
    reason = "a beach photo"
    assert after == replace(
        before, state=State.OVERRIDDEN, rev=before.rev + 1, decision="pass", decision_mode="enforce",
        policy_version=bench.policy.version, decision_reasons=(f"override by {ALICE}: {reason}",),
        decision_rev=2, decided_at=iso(now), updated_at=iso(now),
        override={"request_id": "req-1", "by": ALICE, "at": iso(now), "reason": reason, "decision": "pass",
                  "previous_decision": "review", "previous_state": "FINAL", "decision_rev": 2},
        override_ids=frozenset({"req-1"}),
        history=(*before.history, history_entry(State.OVERRIDDEN, now, ALICE, reason=reason)))
    # and the scan's own verdict is kept beside it
    assert (after.suggestion, after.scenes) == (before.suggestion, before.scenes)


def test_an_override_of_an_override_records_the_override_it_replaces(bench: Reviewing) -> None:
    record = bench.judged("beach.png")
    approved, _ = bench.override(record, "pass", request_id="req-1")
    later = bench.world.clock.advance(30)

    blocked, applied = bench.override(approved, "block", actor=BOB, reason="not a beach", request_id="req-2")

    assert applied
    assert (blocked.state, blocked.decision, blocked.decision_rev) == (State.OVERRIDDEN, "block", 3)
    assert blocked.override == {"request_id": "req-2", "by": BOB, "at": iso(later), "reason": "not a beach",
                                "decision": "block", "previous_decision": "pass", "previous_state": "OVERRIDDEN",
                                "decision_rev": 3}
    assert blocked.override_ids == {"req-1", "req-2"}
    assert [(e["to"], e["by"]) for e in blocked.history[-2:]] == [("OVERRIDDEN", ALICE), ("OVERRIDDEN", BOB)]


def test_a_replayed_override_changes_nothing(bench: Reviewing) -> None:
    record = bench.judged("beach.png")
    first, _ = bench.override(record, "pass", request_id="req-1")
    bench.world.clock.advance(5)
    writes = bench.world.store.writes

    # When the same request arrives again (a retry after a lost answer), even after a later override
    again, applied = bench.override(record, "pass", request_id="req-1")
    blocked, _ = bench.override(first, "block", request_id="req-2")
    late, late_applied = bench.override(record, "pass", request_id="req-1")

    # Then it is reported as already applied and nothing is written for it
    assert (again, applied) == (first, False)
    assert (late, late_applied) == (blocked, False)
    assert bench.world.store.writes == writes + 1  # req-2 only
    assert bench.get(record.id).decision == "block"


@pytest.mark.parametrize(("decision", "reason", "actor", "refusal"), [
    ("maybe", "why", ALICE, "decision must be one of pass, review, block, not 'maybe'"),
    ("pass", "  ", ALICE, "a reason is required: say why the decision is wrong"),
    ("pass", "x" * (MAX_REASON + 1), ALICE, f"the reason is over {MAX_REASON} characters"),
    ("pass", "why", "", "no caller identity: who is overriding?"),
])
def test_an_invalid_request_is_refused_before_anything_is_read(bench: Reviewing, decision: str, reason: str,
                                                               actor: str, refusal: str) -> None:
    record = bench.judged("beach.png")

    with pytest.raises(OverrideRefused) as refused:
        bench.override(record, decision, reason=reason, actor=actor)

    assert str(refused.value) == refusal
    assert bench.get(record.id) == record


def test_a_version_without_a_decision_or_record_is_refused(bench: Reviewing) -> None:
    pending = bench.claimed("waiting.png")

    with pytest.raises(OverrideRefused) as refused:
        bench.override(pending, "pass")
    assert str(refused.value) == f"{pending.id} has no decision yet (PENDING); wait for its verdict"
    assert bench.get(pending.id) == pending

    with pytest.raises(OverrideRefused) as missing:
        bench.override(replace(pending, id="v-" + "0" * 32), "pass")
    assert str(missing.value) == f"no verdict record v-{'0' * 32}"


def test_an_unscanned_version_decided_review_can_be_overridden(bench: Reviewing) -> None:
    # Given a version that failed to be scanned (ERROR, which the policy sends to review)
    record = bench.claimed("broken.png")
    assert settle(bench.world.store, bench.world.policy, record.id, State.ERROR, by="poll",
                  reason="gave_up_after_3_scans").changed
    failed = bench.get(record.id)
    assert failed.decision == "review"

    approved, applied = bench.override(failed, "pass")

    assert applied
    assert approved.override["previous_state"] == "ERROR"
    assert (approved.state, approved.reason) == (State.OVERRIDDEN, "gave_up_after_3_scans")


class ChangedMeanwhile(InMemoryReviews):
    """A ReviewStore whose record changes (another decision) between the read and the write, or whose
    write is beaten by the same request from elsewhere."""

    def __init__(self, bench: Reviewing, *, same_request: bool) -> None:
        super().__init__(bench.world.store, bench.world.clock)
        self.same_request = same_request

    def override(self, record: VerdictRecord, *, decision: Mapping[str, Any], actor: str, reason: str,
                 request_id: str) -> bool:
        other = request_id if self.same_request else "someone-else"
        assert super().override(record, decision={**decision, "decision": "block"}, actor=BOB, reason="first",
                                request_id=other)
        return super().override(record, decision=decision, actor=actor, reason=reason, request_id=request_id)


def test_an_override_of_a_record_that_changed_since_it_was_read_is_refused(bench: Reviewing) -> None:
    record = bench.judged("beach.png")

    with pytest.raises(OverrideRefused) as refused:
        bench.override(record, "pass", reviews=ChangedMeanwhile(bench, same_request=False))

    assert str(refused.value) == f"{record.id} changed while you were looking at it; read it again"
    assert (bench.get(record.id).decision, bench.get(record.id).override["by"]) == ("block", BOB)


def test_a_concurrent_replay_that_got_there_first_is_reported_as_applied_already(bench: Reviewing) -> None:
    record = bench.judged("beach.png")

    current, applied = bench.override(record, "pass", reviews=ChangedMeanwhile(bench, same_request=True))

    assert not applied
    assert current == bench.get(record.id)
    assert current.override["request_id"] == "req-1"
