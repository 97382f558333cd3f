"""The ReviewStore contract: the in-memory fake (tests/fakes/reviews.py) and DynamoReviews on moto find
the same versions, queue the same records in the same order and leave the same records after an
override, so the CLI and review logic tested on the fake hold on the real table.

Every test runs against both; records are compared whole (`after == replace(before, <these changes>)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from fakes import FakeClock, InMemoryVerdictStore
from fakes.reviews import InMemoryReviews
from greenlight.aws.reviews import DynamoReviews
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.domain.identity import ObjectRef
from greenlight.domain.policy import Decision
from greenlight.domain.record import HISTORY_LIMIT, VerdictRecord, history_entry, iso
from greenlight.domain.states import State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.ports import ReviewStore, VerdictStore
from integration.aws_helpers import VerdictTables

BUCKET = "uploads"
KEY = "dir/ünï côde.png"
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:sts::123456789012:assumed-role/reviewers/bob"
RESULT = TaskResult(code=200, msg="OK", task_id="img-1", results=(SceneResult("porn", "sexy", "review", 87.5),))


def decision(value: str, why: str = "porn/sexy: Green suggests review") -> dict[str, Any]:
    return Decision(value, "2026-12-03.1", "enforce", (why,)).to_record()  # type: ignore[arg-type]


@dataclass
class Subject:
    """A VerdictStore and the ReviewStore over the same records, and the clock both read."""

    store: VerdictStore
    reviews: ReviewStore
    clock: FakeClock

    def get(self, record_id: str) -> VerdictRecord:
        record = self.store.get(record_id)
        assert record is not None, f"no record {record_id}"
        return record

    def pending(self, obj: ObjectRef) -> VerdictRecord:
        claim = self.store.claim(obj, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        assert self.store.mark_pending(obj.data_id, lease_token=claim.lease_token, task_id=f"img-{obj.data_id}",
                                       due_at=self.clock() + 30, url_expires_at=None, details=None, by="submit")
        return self.get(obj.data_id)

    def decided(self, obj: ObjectRef, value: str, *, state: State = State.FINAL, reason: str | None = None,
                after: float = 10) -> VerdictRecord:
        """`obj` scanned (or failed, for SKIPPED/ERROR) and decided `value`, `after` seconds from now."""
        if self.store.get(obj.data_id) is None:
            self.pending(obj)
        self.clock.advance(after)
        result = replace(RESULT, task_id=f"img-{obj.data_id}") if state is State.FINAL else None
        assert self.store.finish(obj.data_id, state, by="callback", reason=reason, result=result,
                                 decision=decision(value))
        return self.get(obj.data_id)

    def override(self, record: VerdictRecord, value: str, *, actor: str = ALICE, reason: str = "looked at it",
                 request_id: str = "req-1") -> bool:
        return self.reviews.override(record, decision=decision(value, f"override by {actor}: {reason}"), actor=actor,
                                     reason=reason, request_id=request_id)


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    clock = FakeClock()
    if request.param == "memory":
        store = InMemoryVerdictStore(clock)
        yield Subject(store, InMemoryReviews(store, clock), clock)
        return
    tables: VerdictTables = request.getfixturevalue("verdict_tables")
    table = tables.fresh()
    yield Subject(DynamoVerdictStore(tables.dynamodb, table, clock=clock),
                  DynamoReviews(tables.dynamodb, table, clock=clock), clock)
    tables.dynamodb.delete_table(TableName=table)


def version(key: str = KEY, n: int = 1, bucket: str = BUCKET) -> ObjectRef:
    return ObjectRef(bucket=bucket, key=key, size=1234, etag=f"{n:032x}", version_id=f"version-{n}",
                     sequencer=f"{n:018X}", event_time="2026-11-12T00:00:00.000000Z")


# -- lookup by bucket and key ------------------------------------------------------------------------


def test_versions_of_lists_every_version_of_a_key_newest_first(subject: Subject) -> None:
    # Given three versions of one key, in any state, and neighbours that must not be mixed in
    first = subject.pending(version(n=1))
    subject.clock.advance(10)
    second = subject.decided(version(n=2), "block")
    subject.clock.advance(10)
    assert subject.store.create_superseded(version(n=3), reason="newer_version_seen", by="submit")
    subject.clock.advance(10)
    subject.pending(version(KEY + ".bak", n=4))
    subject.pending(version("dir/ünï", n=5))
    subject.pending(version(n=6, bucket="other-bucket"))
    subject.store.advance_head(version(n=3))  # the key's head record is not a version

    found = subject.reviews.versions_of(BUCKET, KEY)

    # Then the key's versions come back whole, newest first
    third = subject.get(version(n=3).data_id)
    assert found == [third, subject.get(second.id), subject.get(first.id)]
    assert subject.reviews.versions_of(BUCKET, KEY, limit=2) == found[:2]
    assert subject.reviews.versions_of(BUCKET, "dir/missing.png") == []
    elsewhere = subject.get(version(n=6, bucket="other-bucket").data_id)
    assert subject.reviews.versions_of("other-bucket", KEY) == [elsewhere]


# -- the review queue -------------------------------------------------------------------------------


def test_the_review_queue_holds_review_decisions_oldest_decision_first(subject: Subject) -> None:
    # Given a version created first but decided last, and others decided in between
    late = subject.pending(version("late.png"))
    first = subject.decided(version("first.png"), "review")
    subject.decided(version("passed.png"), "pass")
    failed = subject.decided(version("failed.png"), "review", state=State.ERROR, reason="gave_up_after_3_scans")
    skipped = subject.decided(version("big.png"), "review", state=State.SKIPPED, reason="too_large")
    subject.decided(version("blocked.png"), "block")
    superseded = subject.pending(version("old.png"))
    subject.clock.advance(10)
    assert subject.store.supersede(superseded.id, reason="newer_version_seen", by="submit",
                                   decision=decision("review"))
    late = subject.decided(version("late.png"), "review")

    queue = subject.reviews.review_queue()

    assert [r.id for r in queue] == [first.id, failed.id, skipped.id, superseded.id, late.id]
    assert queue == [subject.get(r.id) for r in queue]
    assert subject.reviews.review_queue(limit=2) == queue[:2]


def test_an_older_write_seen_late_and_decided_review_is_queued(subject: Subject) -> None:
    assert subject.store.create_superseded(version("old.png"), reason="newer_version_seen", by="submit",
                                           decision=decision("review"))

    assert [r.id for r in subject.reviews.review_queue()] == [version("old.png").data_id]


def test_an_override_takes_a_record_out_of_the_queue_or_puts_it_at_its_end(subject: Subject) -> None:
    waiting = subject.decided(version("a.png"), "review")
    other = subject.decided(version("b.png"), "review")
    passed = subject.decided(version("c.png"), "pass")
    subject.clock.advance(10)

    assert subject.override(waiting, "block")
    assert subject.override(passed, "review", request_id="req-2")

    assert [r.id for r in subject.reviews.review_queue()] == [other.id, passed.id]


# -- overrides -------------------------------------------------------------------------------------------


def test_an_override_is_the_overridden_transition_with_who_when_why_and_the_decision_before(subject: Subject) -> None:
    before = subject.decided(version(), "review")
    now = subject.clock.advance(60)

    assert subject.override(before, "pass", reason="a beach photo")

    assert subject.get(before.id) == replace(
        before, state=State.OVERRIDDEN, rev=before.rev + 1, decision="pass",
        decision_reasons=(f"override by {ALICE}: a beach photo",), decision_rev=before.decision_rev + 1,
        decided_at=iso(now), updated_at=iso(now),
        override={"request_id": "req-1", "by": ALICE, "at": iso(now), "reason": "a beach photo", "decision": "pass",
                  "previous_decision": "review", "previous_state": "FINAL", "decision_rev": before.decision_rev + 1},
        override_ids=frozenset({"req-1"}),
        history=(*before.history, history_entry(State.OVERRIDDEN, now, ALICE, reason="a beach photo")))


def test_an_override_of_an_override(subject: Subject) -> None:
    record = subject.decided(version(), "review")
    assert subject.override(record, "pass")
    approved = subject.get(record.id)
    now = subject.clock.advance(30)

    assert subject.override(approved, "block", actor=BOB, reason="not a beach", request_id="req-2")

    blocked = subject.get(record.id)
    assert (blocked.state, blocked.decision, blocked.decision_rev, blocked.rev) == (
        State.OVERRIDDEN, "block", record.decision_rev + 2, record.rev + 2)
    assert blocked.override == {"request_id": "req-2", "by": BOB, "at": iso(now), "reason": "not a beach",
                                "decision": "block", "previous_decision": "pass", "previous_state": "OVERRIDDEN",
                                "decision_rev": record.decision_rev + 2}
    assert blocked.override_ids == {"req-1", "req-2"}


def test_a_replayed_stale_or_premature_override_changes_nothing(subject: Subject) -> None:
    record = subject.decided(version(), "review")
    assert subject.override(record, "pass")
    approved = subject.get(record.id)
    pending = subject.pending(version("waiting.png"))
    subject.clock.advance(5)

    # the same request again; another request based on the record as it was before the first; no decision yet
    assert not subject.override(approved, "pass")
    assert not subject.override(record, "block", request_id="req-2")
    assert not subject.override(pending, "pass", request_id="req-3")
    assert not subject.override(replace(record, id=version("missing.png").data_id), "pass", request_id="req-4")

    assert subject.get(record.id) == approved
    assert subject.get(pending.id) == pending
    assert subject.store.get(version("missing.png").data_id) is None


def test_an_override_of_a_record_whose_history_is_full_folds_it(subject: Subject) -> None:
    obj = version()
    subject.pending(obj)
    for n in range(HISTORY_LIMIT - 3):  # rescans until the next two changes fill the history
        now = subject.clock.advance(1)
        assert subject.store.resubmitted(obj.data_id, task_id=f"img-{n}", due_at=now + 30, url_expires_at=None,
                                         reason="rescan", by="poll")
    record = subject.decided(obj, "review", state=State.ERROR, reason="gave_up_after_3_scans")
    assert len(record.history) == HISTORY_LIMIT

    assert subject.override(record, "pass")

    after = subject.get(record.id)
    assert after.state is State.OVERRIDDEN
    assert len(after.history) == HISTORY_LIMIT // 2 + 1
    assert after.history_folded == HISTORY_LIMIT - HISTORY_LIMIT // 2
    assert after.history[-1]["to"] == "OVERRIDDEN"


# -- what Green was told ---------------------------------------------------------------------------------


def test_record_feedback_keeps_the_latest_outcome_on_the_record_only(subject: Subject) -> None:
    record = subject.decided(version(), "review")
    assert subject.override(record, "pass")
    approved = subject.get(record.id)
    failed = {"decision_rev": approved.decision_rev, "attempts": 1, "sent": False, "status": "failed: GreenThrottled",
              "at": "2027-01-15T08:00:00.000Z"}
    accepted = {**failed, "attempts": 2, "sent": True, "status": "accepted", "suggestion": "pass", "label": "normal"}

    assert subject.reviews.record_feedback(record.id, failed)
    assert subject.reviews.record_feedback(record.id, accepted)
    assert not subject.reviews.record_feedback(version("missing.png").data_id, accepted)

    assert subject.get(record.id) == replace(approved, feedback=accepted)
    assert subject.store.get(version("missing.png").data_id) is None


# -- a person's rescan of what was not scanned ------------------------------------------------------------


def test_a_rescan_reopens_an_unscanned_record_due_now_for_the_pollers_recovery(subject: Subject) -> None:
    # Given a version that gave up (ERROR, decided review: it waits in the review queue)
    obj = version("broken.png")
    before = subject.decided(obj, "review", state=State.ERROR, reason="gave_up_after_3_scans")
    assert [r.id for r in subject.reviews.review_queue()] == [before.id]
    now = subject.clock.advance(60)

    # When a person rescans it
    assert subject.reviews.reopen(before, actor=ALICE, reason="Green was down")

    # Then it is RECEIVED again, with nothing counted and an expired lease, due now, the person in its history
    after = subject.get(before.id)
    assert after.lease_token
    assert after == replace(
        before, state=State.RECEIVED, rev=before.rev + 1, updated_at=iso(now), attempts=0, recoveries=0,
        lease_token=after.lease_token, lease_until=0, due_at=now, reason=None, finished_at=None,
        history=(*before.history, history_entry(State.RECEIVED, now, ALICE, reason="Green was down")))
    # it left the review queue, and the poller finds it due and takes it over as a stranded record
    assert subject.reviews.review_queue() == []
    assert [r.id for r in subject.store.due(now, 10)] == [before.id]
    claim = subject.store.claim(obj, lease_seconds=90, max_attempts=3, by="poll")
    assert (claim.claimed, claim.takeover, claim.attempts) == (True, True, 1)
    assert subject.get(before.id).recoveries == 1


def test_a_skipped_record_can_be_rescanned_too(subject: Subject) -> None:
    before = subject.decided(version("big.png"), "review", state=State.SKIPPED, reason="too_large")

    assert subject.reviews.reopen(before, actor=BOB, reason="the limit was raised")

    after = subject.get(before.id)
    assert (after.state, after.reason, after.history[-1]["by"]) == (State.RECEIVED, None, BOB)


def test_a_rescan_of_a_scanned_pending_changed_or_missing_record_changes_nothing(subject: Subject) -> None:
    scanned = subject.decided(version("scanned.png"), "pass")
    pending = subject.pending(version("pending.png"))
    failed = subject.decided(version("failed.png"), "review", state=State.ERROR, reason="gave_up_after_3_scans")
    assert subject.override(failed, "pass")  # changed since it was read: now OVERRIDDEN
    other = subject.decided(version("other.png"), "review", state=State.ERROR, reason="gave_up_after_3_scans")
    assert subject.reviews.reopen(other, actor=ALICE, reason="first")
    reopened = subject.get(other.id)
    subject.clock.advance(5)

    assert not subject.reviews.reopen(scanned, actor=ALICE, reason="again")
    assert not subject.reviews.reopen(pending, actor=ALICE, reason="again")
    assert not subject.reviews.reopen(failed, actor=ALICE, reason="again")  # the record as it was read
    assert not subject.reviews.reopen(other, actor=ALICE, reason="again")  # a replay of the first rescan
    assert not subject.reviews.reopen(replace(other, id=version("missing.png").data_id), actor=ALICE, reason="x")

    assert subject.get(scanned.id) == scanned
    assert subject.get(pending.id) == pending
    assert subject.get(failed.id).state is State.OVERRIDDEN
    assert subject.get(other.id) == reopened
    assert subject.store.get(version("missing.png").data_id) is None


def test_a_rescan_of_a_record_whose_history_is_full_folds_it(subject: Subject) -> None:
    obj = version()
    subject.pending(obj)
    for n in range(HISTORY_LIMIT - 3):
        now = subject.clock.advance(1)
        assert subject.store.resubmitted(obj.data_id, task_id=f"img-{n}", due_at=now + 30, url_expires_at=None,
                                         reason="rescan", by="poll")
    record = subject.decided(obj, "review", state=State.ERROR, reason="gave_up_after_3_scans")
    assert len(record.history) == HISTORY_LIMIT

    assert subject.reviews.reopen(record, actor=ALICE, reason="again")

    after = subject.get(record.id)
    assert (after.state, len(after.history), after.history_folded) == (
        State.RECEIVED, HISTORY_LIMIT // 2 + 1, HISTORY_LIMIT - HISTORY_LIMIT // 2)


# -- an operator's full read of the table ---------------------------------------------------------------


def test_a_scan_finds_version_records_by_state_and_by_decisions_not_yet_enforced(subject: Subject) -> None:
    passed = subject.decided(version("passed.png"), "pass")
    failed = subject.decided(version("failed.png"), "review", state=State.ERROR, reason="gave_up_after_3_scans")
    skipped = subject.decided(version("big.png"), "review", state=State.SKIPPED, reason="too_large")
    pending = subject.pending(version("pending.png"))
    enforced = subject.decided(version("enforced.png"), "block")
    assert subject.store.record_enforcement(enforced.id, decision_rev=enforced.decision_rev, enforcement={
        "decision_rev": enforced.decision_rev, "decision": "block", "enforced": True, "actions": [], "at": "x"},
        entries=[])
    subject.store.advance_head(version("passed.png"))  # a key's head record is not a version
    pages: list[int] = []

    unscanned = list(subject.reviews.scan(states={State.ERROR, State.SKIPPED}, on_page=pages.append))
    waiting = {r.id for r in subject.reviews.scan(unenforced=True)}
    everything = {r.id for r in subject.reviews.scan()}

    assert sorted(r.id for r in unscanned) == sorted([failed.id, skipped.id])
    assert {r.id: r for r in unscanned} == {failed.id: subject.get(failed.id), skipped.id: subject.get(skipped.id)}
    assert sum(pages) >= 5
    assert waiting == {passed.id, failed.id, skipped.id}
    assert everything == {passed.id, failed.id, skipped.id, pending.id, enforced.id}
