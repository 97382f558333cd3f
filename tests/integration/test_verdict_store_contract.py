"""The VerdictStore contract: the in-memory fake (tests/fakes) and the DynamoDB table on moto give
the same answers and leave the same records, so logic tested on the fake holds on the real table.

Every test runs against both with the same expectations; only the table's variant starts the stack.
Records are compared whole, as `after == replace(before, <exactly these changes>)`, so a field one
implementation writes and the other does not fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from fakes import FakeClock, InMemoryVerdictStore
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.domain.identity import ObjectRef
from greenlight.domain.record import HISTORY_LIMIT, Claim, HeadUpdate, VerdictRecord, history_entry, iso
from greenlight.domain.states import TERMINAL, State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.ports import VerdictStore
from integration.aws_helpers import VerdictTables

LEASE = 90.0
MAX_ATTEMPTS = 3
SEQUENCER = "0A1B2C3D4E5F678901"


@dataclass
class Subject:
    """One VerdictStore implementation and the clock it reads."""

    store: VerdictStore
    clock: FakeClock

    def get(self, record_id: str) -> VerdictRecord:
        record = self.store.get(record_id)
        assert record is not None, f"no record {record_id}"
        return record

    def claim(self, obj: ObjectRef, *, by: str = "submit", max_attempts: int = MAX_ATTEMPTS) -> Claim:
        return self.store.claim(obj, lease_seconds=LEASE, max_attempts=max_attempts, by=by)

    def pending(self, obj: ObjectRef, task_id: str = "img-1", due_in: float = 30.0) -> VerdictRecord:
        """A version claimed and accepted by Green under `task_id`, due `due_in` seconds from now."""
        claim = self.claim(obj)
        assert claim.claimed and claim.lease_token
        assert self.store.mark_pending(obj.data_id, lease_token=claim.lease_token, task_id=task_id,
                                       due_at=self.clock() + due_in, url_expires_at=None, details=None, by="submit")
        return self.get(obj.data_id)


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    clock = FakeClock()
    if request.param == "memory":
        yield Subject(InMemoryVerdictStore(clock), clock)
        return
    tables: VerdictTables = request.getfixturevalue("verdict_tables")
    table = tables.fresh()
    yield Subject(DynamoVerdictStore(tables.dynamodb, table, clock=clock), clock)
    tables.dynamodb.delete_table(TableName=table)


def version(key: str = "photos/cat.png", version_id: str = "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH") -> ObjectRef:
    return ObjectRef(bucket="uploads", key=key, size=1234, etag="9b2cf535f27731c974343645a3985328",
                     version_id=version_id, sequencer=SEQUENCER, event_time="2026-11-12T00:00:00.000000Z")


# -- claim ------------------------------------------------------------------------------------------


def test_a_claim_creates_the_received_record_under_a_lease(subject: Subject) -> None:
    obj = version()
    now = subject.clock()

    claim = subject.claim(obj)

    assert claim == Claim(claimed=True, lease_token=claim.lease_token, attempts=1)
    assert claim.lease_token
    assert subject.store.get(obj.data_id) == VerdictRecord(
        id=obj.data_id, bucket="uploads", key="photos/cat.png", state=State.RECEIVED, rev=1,
        version_id=obj.version_id, etag=obj.etag, size=1234, sequencer=SEQUENCER, event_time=obj.event_time,
        attempts=1, recoveries=0, lease_token=claim.lease_token, lease_until=now + LEASE, due_at=now + LEASE,
        created_at=iso(now), updated_at=iso(now), history=(history_entry(State.RECEIVED, now, "submit"),))


def test_a_claim_while_the_lease_lives_is_refused_and_changes_nothing(subject: Subject) -> None:
    # Given a version claimed by one invocation, its lease running for one more second
    obj = version()
    subject.claim(obj)
    before = subject.get(obj.data_id)
    subject.clock.advance(LEASE - 1)

    # When the same version is claimed again (a duplicate event, or the poller)
    claims = [subject.claim(obj, by=by) for by in ("submit", "poll")]

    # Then it is refused with the record as it is
    assert claims == [Claim(claimed=False, existing=before)] * 2
    assert subject.get(obj.data_id) == before


@pytest.mark.parametrize(("by", "recoveries"), [("submit", 0), ("poll", 1)])
def test_a_claim_after_the_lease_ran_out_takes_over(subject: Subject, by: str, recoveries: int) -> None:
    obj = version()
    first = subject.claim(obj)
    before = subject.get(obj.data_id)
    now = subject.clock.advance(LEASE + 1)

    claim = subject.claim(obj, by=by)

    assert claim == Claim(claimed=True, lease_token=claim.lease_token, takeover=True, attempts=2)
    assert claim.lease_token and claim.lease_token != first.lease_token
    assert subject.get(obj.data_id) == replace(
        before, rev=2, attempts=2, recoveries=recoveries, lease_token=claim.lease_token, lease_until=now + LEASE,
        due_at=now + LEASE, updated_at=iso(now), history=(*before.history, history_entry(State.RECEIVED, now, by)))
    # The earlier holder lost its lease: its submission can no longer be recorded.
    assert first.lease_token
    assert not subject.store.mark_pending(obj.data_id, lease_token=first.lease_token, task_id="img-1",
                                          due_at=now + 30, url_expires_at=None, details=None, by="submit")


def test_a_takeover_is_refused_once_max_attempts_were_counted(subject: Subject) -> None:
    # Given a version claimed twice (taken over once), both leases run out
    obj = version()
    subject.claim(obj, max_attempts=2)
    subject.clock.advance(LEASE + 1)
    assert subject.claim(obj, by="poll", max_attempts=2).attempts == 2
    subject.clock.advance(LEASE + 1)
    before = subject.get(obj.data_id)

    # When it is claimed a third time with MaxScanAttempts 2
    claim = subject.claim(obj, by="poll", max_attempts=2)

    # Then nothing is claimed and nothing changes (the poller records gave_up_after_2_scans)
    assert claim == Claim(claimed=False, existing=before)
    assert subject.get(obj.data_id) == before


def test_a_claim_of_a_pending_version_is_refused_even_after_the_lease_time(subject: Subject) -> None:
    obj = version()
    pending = subject.pending(obj)
    subject.clock.advance(LEASE + 1)

    assert subject.claim(obj, by="poll") == Claim(claimed=False, existing=pending)
    assert subject.get(obj.data_id) == pending


# -- release ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("unsent", "attempts"), [(True, 1), (False, 2)])
def test_release_gives_the_lease_up_and_the_attempt_back_only_when_unsent(
        subject: Subject, unsent: bool, attempts: int) -> None:
    # Given a record whose second claim (a takeover) counted attempt 2
    obj = version()
    subject.claim(obj)
    subject.clock.advance(LEASE + 1)
    claim = subject.claim(obj)
    assert claim.lease_token
    before = subject.get(obj.data_id)
    now = subject.clock.advance(5)

    # When the submission fails and gives the lease up, due again in a minute
    released = subject.store.release(obj.data_id, claim.lease_token, retry_at=now + 60, unsent=unsent)

    # Then the record is due then, its lease over, the attempt returned only if Green surely has no task
    assert released
    assert subject.get(obj.data_id) == replace(before, lease_until=0, due_at=now + 60, updated_at=iso(now),
                                               attempts=attempts)
    # and the next claim may take over at once
    assert subject.claim(obj).takeover


def test_release_with_another_lease_or_after_submission_is_refused(subject: Subject) -> None:
    obj, submitted = version("a.png"), version("b.png")
    subject.claim(obj)
    received = subject.get(obj.data_id)
    claim = subject.claim(submitted)
    assert claim.lease_token
    assert subject.store.mark_pending(submitted.data_id, lease_token=claim.lease_token, task_id="img-1",
                                      due_at=subject.clock() + 30, url_expires_at=None, details=None, by="submit")
    pending = subject.get(submitted.data_id)

    assert not subject.store.release(obj.data_id, "not-the-lease", retry_at=0.0, unsent=True)
    assert not subject.store.release(submitted.data_id, claim.lease_token, retry_at=0.0, unsent=True)
    assert not subject.store.release(version("missing.png").data_id, "any", retry_at=0.0, unsent=True)
    assert subject.get(obj.data_id) == received
    assert subject.get(submitted.data_id) == pending
    assert subject.store.get(version("missing.png").data_id) is None


# -- the newest write of a key ----------------------------------------------------------------------


def test_advance_head_keeps_the_newest_write_of_a_key(subject: Subject) -> None:
    # Unversioned writes of one key: A, then B over it (ordered by S3's sequencer)
    a = ObjectRef("uploads", "k.png", size=10, etag="aaaa", version_id="null", sequencer="0055")
    b = ObjectRef("uploads", "k.png", size=10, etag="bbbb", version_id="null", sequencer="0056")

    assert subject.store.advance_head(a) == HeadUpdate(newest=True, previous_id=None)
    assert subject.store.advance_head(b) == HeadUpdate(newest=True, previous_id=a.data_id)
    # A's event arriving late is older than what was seen: it is refused
    assert subject.store.advance_head(a) == HeadUpdate(newest=False)
    # B announced once more is still the newest, and replaces nothing
    assert subject.store.advance_head(b) == HeadUpdate(newest=True, previous_id=None)
    # the head is not a verdict record
    assert subject.store.get(a.head_id) is None
    assert subject.store.due(subject.clock() + 10**6, 10) == []


@pytest.mark.parametrize("version_id", [None, "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"], ids=["unversioned", "versioned"])
def test_one_write_announced_twice_is_the_newest_both_times(subject: Subject, version_id: str | None) -> None:
    # Given the S3 notification and the EventBridge event for one write: same sequencer, a second apart
    notification = ObjectRef("uploads", "k.png", size=10, etag="aaaa", version_id=version_id, sequencer=SEQUENCER,
                             event_time="2026-11-12T00:00:01.000000Z")
    eventbridge = replace(notification, event_time="2026-11-12T00:00:00.000000Z")
    assert notification.data_id == eventbridge.data_id

    # When both advance the head, then neither supersedes the write it announces
    assert subject.store.advance_head(notification) == HeadUpdate(newest=True, previous_id=None)
    assert subject.store.advance_head(eventbridge) == HeadUpdate(newest=True, previous_id=None)


# -- superseded -------------------------------------------------------------------------------------


def test_create_superseded_records_an_older_write_seen_late(subject: Subject) -> None:
    obj = version()
    now = subject.clock()

    assert subject.store.create_superseded(obj, reason="newer_version_seen", by="submit")

    assert subject.store.get(obj.data_id) == VerdictRecord(
        id=obj.data_id, bucket="uploads", key="photos/cat.png", state=State.SUPERSEDED, rev=1,
        version_id=obj.version_id, etag=obj.etag, size=1234, sequencer=SEQUENCER, event_time=obj.event_time,
        reason="newer_version_seen", source="submit", created_at=iso(now), updated_at=iso(now), finished_at=iso(now),
        history=(history_entry(State.SUPERSEDED, now, "submit", reason="newer_version_seen"),))
    # a second event for it changes nothing
    assert not subject.store.create_superseded(obj, reason="newer_version_seen", by="submit")
    assert subject.get(obj.data_id).rev == 1


@pytest.mark.parametrize(("state", "how"), [(State.RECEIVED, "supersede"), (State.PENDING, "create_superseded")])
def test_a_record_in_flight_is_superseded(subject: Subject, how: str, state: State) -> None:
    obj = version()
    if state is State.PENDING:
        subject.pending(obj)
    else:
        subject.claim(obj)
    before = subject.get(obj.data_id)
    now = subject.clock.advance(2)

    if how == "supersede":
        done = subject.store.supersede(obj.data_id, reason="newer_version_seen", by="submit")
    else:
        done = subject.store.create_superseded(obj, reason="newer_version_seen", by="submit")

    assert done
    assert subject.get(obj.data_id) == replace(
        before, state=State.SUPERSEDED, rev=before.rev + 1, reason="newer_version_seen", source="submit",
        finished_at=iso(now), updated_at=iso(now), lease_token=None, lease_until=None, due_at=None,
        history=(*before.history, history_entry(State.SUPERSEDED, now, "submit", reason="newer_version_seen")))
    assert not subject.store.supersede(version("missing.png").data_id, reason="x", by="submit")


# -- submitted --------------------------------------------------------------------------------------


def test_mark_pending_needs_the_lease_and_records_the_task(subject: Subject) -> None:
    obj = version()
    claim = subject.claim(obj)
    assert claim.lease_token
    before = subject.get(obj.data_id)
    now = subject.clock.advance(3)
    # details the record declares are shown; others (url_length) are stored but not part of a VerdictRecord
    details = {"size": 2048, "content_type": "image/png", "image_format": "png", "url_length": 312}

    def mark(lease_token: str) -> bool:
        return subject.store.mark_pending(obj.data_id, lease_token=lease_token, task_id="img-1", due_at=now + 30,
                                          url_expires_at=now + 3600, details=details, by="submit")

    assert not mark("not-the-lease")
    assert subject.get(obj.data_id) == before

    assert mark(claim.lease_token)

    expected = replace(
        before, state=State.PENDING, rev=2, task_id="img-1", task_ids=frozenset({"img-1"}), lease_token=None,
        lease_until=None, due_at=now + 30, submitted_at=iso(now), submitted_epoch=now, url_expires_at=iso(now + 3600),
        size=2048, content_type="image/png", image_format="png", updated_at=iso(now),
        history=(*before.history, history_entry(State.PENDING, now, "submit", task_id="img-1")))
    assert subject.get(obj.data_id) == expected
    assert subject.store.find_by_task("img-1") == expected
    assert subject.store.find_by_task("img-unknown") is None
    # the same write once more (a retry after a lost answer) changes nothing
    assert not mark(claim.lease_token)
    assert subject.get(obj.data_id) == expected
    assert not subject.store.mark_pending(version("missing.png").data_id, lease_token=claim.lease_token,
                                          task_id="img-2", due_at=now, url_expires_at=None, details=None, by="submit")


def test_reserve_rescan_counts_attempts_of_the_current_task_up_to_the_cap(subject: Subject) -> None:
    obj, received = version("a.png"), version("b.png")
    pending = subject.pending(obj, task_id="img-1")
    subject.claim(received)
    now = subject.clock.advance(60)

    def reserve(task_id: str | None, record_id: str = obj.data_id) -> bool:
        return subject.store.reserve_rescan(record_id, task_id=task_id, max_attempts=MAX_ATTEMPTS, due_at=now + 600)

    # another task, or none, is not the one this record waits for
    assert not reserve("img-0")
    assert not reserve(None)
    assert not reserve(None, received.data_id)  # RECEIVED: not at Green yet
    assert subject.get(obj.data_id) == pending

    assert reserve("img-1")
    assert subject.get(obj.data_id) == replace(pending, attempts=2, due_at=now + 600)
    assert reserve("img-1")
    assert not reserve("img-1")  # the third attempt was the last
    assert subject.get(obj.data_id) == replace(pending, attempts=MAX_ATTEMPTS, due_at=now + 600)


def test_resubmitted_moves_a_pending_record_to_the_new_task(subject: Subject) -> None:
    obj, received = version("a.png"), version("b.png")
    pending = subject.pending(obj, task_id="img-1")
    subject.claim(received)
    now = subject.clock.advance(60)

    def resubmit(record_id: str) -> bool:
        return subject.store.resubmitted(record_id, task_id="img-2", due_at=now + 30, url_expires_at=now + 3600,
                                         reason="green_594_expired", by="poll")

    assert not resubmit(received.data_id)
    assert resubmit(obj.data_id)

    expected = replace(
        pending, rev=3, task_id="img-2", task_ids=frozenset({"img-1", "img-2"}), submitted_at=iso(now),
        submitted_epoch=now, due_at=now + 30, url_expires_at=iso(now + 3600), reason="green_594_expired",
        updated_at=iso(now),
        history=(*pending.history, history_entry(State.PENDING, now, "poll", task_id="img-2",
                                                 reason="green_594_expired")))
    assert subject.get(obj.data_id) == expected
    assert subject.store.find_by_task("img-2") == expected
    assert subject.store.find_by_task("img-1") is None  # found by its dataId when its result turns up


def test_reschedule_moves_the_due_time_of_the_current_task_only(subject: Subject) -> None:
    obj, received = version("a.png"), version("b.png")
    pending = subject.pending(obj, task_id="img-1", due_in=30)
    subject.claim(received)
    now = subject.clock()
    store = subject.store

    assert not store.reschedule(obj.data_id, task_id="img-0", due_at=now + 5)
    assert not store.reschedule(received.data_id, task_id=None, due_at=now + 5)
    assert subject.get(obj.data_id) == pending

    # still processing: ask again in two minutes
    assert store.reschedule(obj.data_id, task_id="img-1", due_at=now + 120, last_code=280)
    assert subject.get(obj.data_id) == replace(pending, due_at=now + 120, last_code=280)

    # only_earlier (a 480 callback makes the record due now, once): a later time is refused
    assert not store.reschedule(obj.data_id, task_id="img-1", due_at=now + 200, only_earlier=True)
    assert store.reschedule(obj.data_id, task_id="img-1", due_at=now, last_code=480, only_earlier=True)
    assert not store.reschedule(obj.data_id, task_id="img-1", due_at=now, last_code=480, only_earlier=True)
    assert subject.get(obj.data_id) == replace(pending, due_at=now, last_code=480)

    # a rescan that reached nothing gives its attempt back; last_code None clears the code
    assert store.reschedule(obj.data_id, task_id="img-1", due_at=now + 60, return_attempt=True)
    assert subject.get(obj.data_id) == replace(pending, due_at=now + 60, attempts=0)


# -- finished ---------------------------------------------------------------------------------------


def test_finish_from_received_records_why_and_ends_the_lease(subject: Subject) -> None:
    obj = version()
    subject.claim(obj)
    before = subject.get(obj.data_id)
    now = subject.clock.advance(1)

    assert subject.store.finish(obj.data_id, State.SKIPPED, by="submit", reason="url_too_long",
                                details={"size": 11, "image_format": "png", "content_type": None, "url_length": 2049})

    assert subject.get(obj.data_id) == replace(
        before, state=State.SKIPPED, rev=2, reason="url_too_long", source="submit", size=11, image_format="png",
        finished_at=iso(now), updated_at=iso(now), lease_token=None, lease_until=None, due_at=None,
        history=(*before.history, history_entry(State.SKIPPED, now, "submit", reason="url_too_long")))


REVIEW = TaskResult(code=200, msg="OK", task_id="img-1", results=(
    SceneResult("porn", "sexy", "review", 87.5), SceneResult("terrorism", "normal", "pass", 99.25)))
BAD_FORMAT = TaskResult(code=590, msg="BAD_FORMAT", task_id="img-1")


@pytest.mark.parametrize(("state", "result", "reason", "verdict"), [
    (State.FINAL, REVIEW, None, {"suggestion": "review", "scenes": {
        "porn": {"label": "sexy", "suggestion": "review", "rate": 87.5},
        "terrorism": {"label": "normal", "suggestion": "pass", "rate": 99.25}}}),
    (State.SKIPPED, BAD_FORMAT, "green_590_bad_format", {}),
], ids=["final", "skipped"])
def test_finish_from_pending_records_greens_result(subject: Subject, state: State, result: TaskResult,
                                                   reason: str | None, verdict: dict[str, Any]) -> None:
    obj = version()
    pending = subject.pending(obj, task_id="img-1")
    now = subject.clock.advance(4)

    assert subject.store.finish(obj.data_id, state, by="callback", reason=reason, result=result)

    expected = replace(
        pending, state=state, rev=3, result_code=result.code, source="callback", reason=reason, finished_at=iso(now),
        updated_at=iso(now), due_at=None,
        history=(*pending.history, history_entry(state, now, "callback", task_id="img-1", reason=reason)),
        **verdict)
    assert subject.get(obj.data_id) == expected
    assert subject.store.find_by_task("img-1") == expected  # a replayed callback still finds it


def test_nothing_moves_a_record_out_of_a_terminal_state(subject: Subject) -> None:
    store = subject.store
    finished: dict[State, VerdictRecord] = {}
    for state in sorted(TERMINAL - {State.OVERRIDDEN}):  # only a person's override reaches OVERRIDDEN
        obj = version(f"{state.value}.png")
        subject.pending(obj, task_id=f"img-{state.value}")
        if state is State.SUPERSEDED:
            assert store.supersede(obj.data_id, reason="newer_version_seen", by="submit")
        else:
            assert store.finish(obj.data_id, state, by="poll", reason="done")
        finished[state] = subject.get(obj.data_id)
    now = subject.clock.advance(LEASE + 1)

    for state, record in finished.items():
        obj, task = record.object_ref(), f"img-{state.value}"
        assert subject.claim(obj, by="poll") == Claim(claimed=False, existing=record), state
        assert not store.release(record.id, "any", retry_at=now, unsent=True), state
        assert not store.mark_pending(record.id, lease_token="any", task_id="img-9", due_at=now, url_expires_at=None,
                                      details=None, by="submit"), state
        assert not store.reserve_rescan(record.id, task_id=task, max_attempts=9, due_at=now), state
        assert not store.resubmitted(record.id, task_id="img-9", due_at=now, url_expires_at=None, reason="x",
                                     by="poll"), state
        assert not store.reschedule(record.id, task_id=task, due_at=now), state
        late = State.ERROR if state is State.FINAL else State.FINAL
        assert not store.finish(record.id, late, by="callback", reason="late"), state
        assert not store.supersede(record.id, reason="x", by="submit"), state
        assert not store.create_superseded(obj, reason="x", by="submit"), state
        assert subject.get(record.id) == record, state
    assert not store.finish(version("missing.png").data_id, State.ERROR, by="poll", reason="x")
    assert store.due(now + 10**6, 10) == []


def test_a_genuine_verdict_that_arrives_late_replaces_a_give_up_and_nothing_else(subject: Subject) -> None:
    # Given records that gave up waiting, and others that ended otherwise
    store = subject.store
    records = {}
    for name, reason in (("gave-up", "gave_up_after_3_scans_green_594"), ("access", "access_denied")):
        obj = version(f"{name}.png")
        subject.pending(obj, task_id="img-1")
        assert store.finish(obj.data_id, State.ERROR, by="poll", reason=reason)
        records[name] = subject.get(obj.data_id)
    skipped = version("skipped.png")
    subject.pending(skipped, task_id="img-1")
    assert store.finish(skipped.data_id, State.SKIPPED, by="poll", reason="green_589_too_large")
    now = subject.clock.advance(5)

    # When Green's verdict (of a task the record never recorded) arrives for each
    late = replace(REVIEW, task_id="img-2")
    taken = {name: store.finish(r.id, State.FINAL, by="callback", result=late) for name, r in records.items()}

    # Then only the give-up takes it; an ERROR with another reason, a SKIPPED and a FINAL without a
    # result (not Green's verdict) stay as they were
    assert taken == {"gave-up": True, "access": False}
    gave_up = subject.get(records["gave-up"].id)
    assert (gave_up.state, gave_up.suggestion, gave_up.task_id, gave_up.reason) == (
        State.FINAL, "review", "img-2", None)
    assert gave_up.history[-1] == history_entry(State.FINAL, now, "callback", task_id="img-2")
    assert subject.get(records["access"].id) == records["access"]
    assert not store.finish(skipped.data_id, State.FINAL, by="callback", result=late)
    assert not store.finish(version("another.png").data_id, State.FINAL, by="callback", result=late)
    again = subject.get(gave_up.id)
    assert not store.finish(gave_up.id, State.FINAL, by="poll", result=late)  # once FINAL, final
    assert subject.get(gave_up.id) == again


# -- what the poller reads --------------------------------------------------------------------------


def test_due_lists_records_in_flight_whose_time_came_oldest_first(subject: Subject) -> None:
    store, start = subject.store, subject.clock()
    received = version("received.png")
    subject.claim(received)  # due when its lease runs out: start + 90
    stranded = version("stranded.png")
    claim = subject.claim(stranded)
    assert claim.lease_token
    assert store.release(stranded.data_id, claim.lease_token, retry_at=start + 70, unsent=True)
    soon, later, not_yet = version("soon.png"), version("later.png"), version("not-yet.png")
    subject.pending(soon, task_id="img-soon", due_in=10)
    subject.pending(later, task_id="img-later", due_in=50)
    subject.pending(not_yet, task_id="img-not-yet", due_in=1000)
    finished, superseded = version("finished.png"), version("superseded.png")
    subject.pending(finished, task_id="img-finished", due_in=20)
    assert store.finish(finished.data_id, State.FINAL, by="callback", result=replace(REVIEW, task_id="img-finished"))
    assert store.create_superseded(superseded, reason="newer_version_seen", by="submit")

    due = store.due(start + 100, 10)

    assert due == [subject.get(o.data_id) for o in (soon, later, stranded, received)]
    assert store.due(start + 100, 2) == due[:2]
    assert store.due(start + 5, 10) == []


def test_history_stays_bounded_and_a_record_can_always_change(subject: Subject) -> None:
    # Given a pending record rescanned more than twice HISTORY_LIMIT times
    obj = version()
    subject.pending(obj, task_id="img-0")
    changes = 2 * HISTORY_LIMIT + 1
    for n in range(1, changes + 1):
        now = subject.clock.advance(1)
        assert subject.store.resubmitted(obj.data_id, task_id=f"img-{n}", due_at=now + 30, url_expires_at=None,
                                         reason="rescan", by="poll"), f"change {n} refused"
        if n == HISTORY_LIMIT - 1:  # the record's change number HISTORY_LIMIT + 1: its history was full
            first_fold = subject.get(obj.data_id)
            assert (first_fold.rev, len(first_fold.history)) == (HISTORY_LIMIT + 1, HISTORY_LIMIT // 2 + 1)
            assert first_fold.history_folded == HISTORY_LIMIT - HISTORY_LIMIT // 2

    # When it finally gives up
    now = subject.clock.advance(1)
    assert subject.store.finish(obj.data_id, State.ERROR, by="poll", reason="gave_up_after_3_scans")

    # Then it changed, every change is counted, and its history holds only the newest entries
    record = subject.get(obj.data_id)
    assert record.state is State.ERROR
    assert record.rev == 2 + changes + 1  # claim, submitted, the rescans, the error
    assert len(record.history) == kept_after(record.rev) <= HISTORY_LIMIT
    assert record.history_folded == record.rev - len(record.history)
    assert record.history[-1] == history_entry(State.ERROR, now, "poll", reason="gave_up_after_3_scans")
    kept = [entry["task"] for entry in record.history[:-1]]
    assert kept == [f"img-{n}" for n in range(changes - len(kept) + 1, changes + 1)]
    assert record.task_ids == {f"img-{n}" for n in range(changes + 1)}


def kept_after(changes: int) -> int:
    """History entries left after `changes` changes: a full history has its older half folded first."""
    kept = 0
    for _ in range(changes):
        if kept >= HISTORY_LIMIT:
            kept = HISTORY_LIMIT // 2
        kept += 1
    return kept
