"""Submission (claim, check, presign, send, record) on fakes: attempts, leases and what is recorded."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fakes import InMemoryObjects
from greenlight.domain.outcomes import Outcome
from greenlight.domain.record import Claim
from greenlight.domain.states import State
from greenlight.green.errors import GreenAuthError, GreenTransientError
from greenlight.green.wire import ScanTask, TaskResult
from greenlight.scanning.submission import Prepared, RetryLater, Settled
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def prepared(world: World, key: str = "a.png", by: str = "submit") -> Prepared:
    ref = world.objects.put(BUCKET, key, PNG)
    item = world.submission(by=by).prepare(ref, world.tally)
    assert isinstance(item, Prepared)
    return item


def test_a_failure_to_read_the_object_gives_the_attempt_back_and_releases_the_lease(world: World) -> None:
    ref = world.objects.put(BUCKET, "flaky.png", PNG)
    world.objects.failures = [ConnectionError("S3 reset the connection")]

    with pytest.raises(RetryLater):
        world.submission().prepare(ref, world.tally, retry_after=30)

    record = world.store.get(ref.data_id)
    assert record is not None and record.state is State.RECEIVED
    assert (record.attempts, record.lease_until, record.due_at) == (0, 0, world.clock() + 30)
    assert world.green.requests == []


@pytest.mark.parametrize(("error", "attempts"), [
    (GreenAuthError("denied", code="InvalidAccessKeyId"), 0),  # surely nothing reached Green
    (GreenTransientError("reset", maybe_accepted=True), 1),  # Green may hold a task: the attempt counts
])
def test_a_failed_request_releases_the_lease_and_counts_the_attempt_only_if_green_may_hold_a_task(
        world: World, error: Exception, attempts: int) -> None:
    item = prepared(world)
    world.green.fail_next = [error]  # type: ignore[list-item]

    sent = world.submission().send([item], budget=world.budget(), tally=world.tally)

    assert isinstance(sent[item.obj.data_id], RetryLater)
    record = world.store.get(item.obj.data_id)
    assert record is not None and record.state is State.RECEIVED
    assert (record.attempts, record.lease_until, record.lease_token) == (attempts, 0, item.lease_token)


def test_no_time_left_to_send_gives_the_attempt_back(world: World) -> None:
    item = prepared(world)

    sent = world.submission().send([item], budget=lambda: 0.5, tally=world.tally)

    assert isinstance(sent[item.obj.data_id], RetryLater)
    record = world.store.get(item.obj.data_id)
    assert record is not None and (record.state, record.attempts, record.lease_until) == (State.RECEIVED, 0, 0)
    assert world.green.requests == []


@pytest.mark.parametrize("code", [588, 403, 480, 280])
def test_a_task_green_refuses_for_now_is_retried_with_its_attempt_back(world: World, code: int) -> None:
    item = prepared(world)
    world.green.refuse[item.obj.data_id] = (code, "not now")

    sent = world.submission().send([item], budget=world.budget(), tally=world.tally, retry_after={
        item.obj.data_id: 45})

    assert isinstance(sent[item.obj.data_id], RetryLater)
    record = world.store.get(item.obj.data_id)
    assert record is not None and (record.state, record.attempts) == (State.RECEIVED, 0)
    assert record.due_at == world.clock() + 45
    assert world.tally[Outcome.GREEN_REFUSED_TASK] == 1


def test_a_task_green_cannot_take_is_skipped_with_its_code(world: World) -> None:
    item = prepared(world)
    world.green.refuse[item.obj.data_id] = (590, "bad format")

    sent = world.submission().send([item], budget=world.budget(), tally=world.tally)

    assert sent[item.obj.data_id] == Settled(Outcome.SKIPPED, "green_590")
    record = world.store.get(item.obj.data_id)
    assert record is not None and (record.state, record.reason) == (State.SKIPPED, "green_590_bad_format")


def test_an_unversioned_object_overwritten_before_submit_is_superseded(world: World) -> None:
    world.objects = InMemoryObjects(world.clock, versioned=False)
    first = world.objects.put(BUCKET, "photo.png", PNG)
    world.objects.put(BUCKET, "photo.png", PNG + b"other bytes")

    settled = world.submission().prepare(first, world.tally)

    assert settled == Settled(Outcome.SUPERSEDED, "overwritten_before_scan")
    record = world.store.get(first.data_id)
    assert record is not None and (record.state, record.reason) == (State.SUPERSEDED, "overwritten_before_scan")


def test_the_poller_taking_over_a_stranded_record_counts_a_recovery(world: World) -> None:
    ref = world.objects.put(BUCKET, "stranded.png", PNG)
    claim = world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
    assert claim.lease_token and world.store.release(ref.data_id, claim.lease_token, retry_at=world.clock(),
                                                     unsent=True)

    item = world.submission(by="poll").prepare(ref, world.tally)
    assert isinstance(item, Prepared)
    sent = world.submission(by="poll").send([item], budget=world.budget(), tally=world.tally)

    assert isinstance(sent[ref.data_id], Settled)
    record = world.store.get(ref.data_id)
    assert record is not None and (record.state, record.attempts, record.recoveries) == (State.PENDING, 1, 1)
    assert record.history[-1]["by"] == "poll"
    assert world.tally[Outcome.RECOVERED] == 1 and world.tally[Outcome.LEASE_TAKEOVER] == 0


def test_a_task_accepted_after_the_lease_was_lost_still_reaches_the_record_by_its_data_id(world: World) -> None:
    # Given a holder that prepared a version and stalled past its lease while another took it over
    item = prepared(world)
    world.clock.advance(91)
    other = world.store.claim(item.obj, lease_seconds=90, max_attempts=3, by="submit")
    assert other.claimed and other.takeover

    # When the stalled holder's request goes through after all
    sent = world.submission().send([item], budget=world.budget(), tally=world.tally)

    # Then it does not overwrite the new holder's claim, and its task's result still finishes the record
    assert sent[item.obj.data_id] == Settled(None, "lease_lost")
    record = world.store.get(item.obj.data_id)
    assert record is not None and (record.state, record.lease_token, record.attempts) == (
        State.RECEIVED, other.lease_token, 2)
    assert world.tally[Outcome.SCAN_SUBMITTED] == 0




def test_an_accepted_answer_without_a_task_id_is_retried_with_the_attempt_counted(world: World) -> None:
    item = prepared(world)
    scan = world.green.image_async_scan

    def without_task_ids(tasks: Sequence[ScanTask], scenes: Sequence[str], **options: object) -> list[TaskResult]:
        answers = scan(tasks, scenes, **options)  # type: ignore[arg-type]
        return [TaskResult(code=a.code, msg=a.msg, data_id=a.data_id, url=a.url) for a in answers]

    world.green.image_async_scan = without_task_ids  # type: ignore[method-assign]

    sent = world.submission().send([item], budget=world.budget(), tally=world.tally)

    record = world.store.get(item.obj.data_id)
    assert record is not None and (record.state, record.attempts) == (State.RECEIVED, 1)
    assert isinstance(sent[item.obj.data_id], RetryLater)


def test_a_takeover_that_loses_a_race_tries_again_instead_of_giving_up(world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a stranded record with attempts left, whose takeover write loses a race (the lease was
    # released or taken between the read and the write: the store answers "not claimed")
    ref = world.objects.put(BUCKET, "raced.png", PNG)
    claim = world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
    assert claim.lease_token and world.store.release(ref.data_id, claim.lease_token, retry_at=world.clock(),
                                                     unsent=False)
    existing = world.store.get(ref.data_id)
    monkeypatch.setattr(world.store, "claim", lambda *_, **__: Claim(claimed=False, existing=existing))

    with pytest.raises(RetryLater):
        world.submission(by="poll").prepare(ref, world.tally)

    record = world.store.get(ref.data_id)
    assert record is not None and (record.state, record.attempts) == (State.RECEIVED, 1)
    assert world.tally[Outcome.LEASE_BUSY] == 1 and world.tally[Outcome.ERRORED] == 0


def test_a_record_out_of_attempts_and_unleased_is_given_up(world: World) -> None:
    ref = world.objects.put(BUCKET, "spent.png", PNG)
    for _ in range(3):
        claim = world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token and world.store.release(ref.data_id, claim.lease_token, retry_at=world.clock(),
                                                         unsent=False)

    settled = world.submission().prepare(ref, world.tally)

    assert settled == Settled(Outcome.ERRORED, "gave_up_after_3_scans")
    record = world.store.get(ref.data_id)
    assert record is not None and (record.state, record.reason) == (State.ERROR, "gave_up_after_3_scans")
