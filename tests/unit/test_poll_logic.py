"""The poller's decisions, on fakes: results applied, tasks rechecked or rescanned, stranded records
recovered, and nothing left without a final state or dropped without a reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from fakes import FakeGreen, InMemoryObjects, Request
from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.record import VerdictRecord, iso
from greenlight.domain.states import State
from greenlight.green.errors import GreenError, GreenThrottled, GreenTransientError
from greenlight.green.wire import MAX_TASKS, MAX_URL_LENGTH, ScanTask, SceneResult, TaskResult
from greenlight.runtime.batching import Deferred
from poll_logic import Poller, PollSummary
from submit_logic import submit_batch
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
GRACE = 60  # POLL_GRACE_SECONDS in the unit tier's environment
RECHECK = 30  # POLL_RECHECK_SECONDS' default
LEASE = 90  # LEASE_SECONDS in the unit tier's environment


@dataclass
class ScriptedGreen(FakeGreen):
    """FakeGreen whose results can answer a per-task code, and whose scan requests can fail."""

    codes: dict[str, int] = field(default_factory=dict)  # data id -> the code its task's result carries
    scan_failures: list[GreenError] = field(default_factory=list)  # raised by the next scan requests, nothing accepted

    def result_for(self, task_id: str, task: ScanTask) -> TaskResult:
        code = self.codes.get(task.data_id)
        if code is None:
            return super().result_for(task_id, task)
        return TaskResult(code=code, msg=f"CODE_{code}", task_id=task_id, data_id=task.data_id, url=task.url)

    def image_async_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                         callback: str | None = None, seed: str | None = None,
                         budget: float | None = None) -> list[TaskResult]:
        if self.scan_failures:
            self.requests.append(Request("ImageAsyncScan", tuple(tasks), scenes=tuple(scenes)))
            raise self.scan_failures.pop(0)
        return super().image_async_scan(tasks, scenes, biz_type=biz_type, callback=callback, seed=seed, budget=budget)


@pytest.fixture
def green(world: World) -> ScriptedGreen:
    world.green = ScriptedGreen()
    return world.green


def submitted(world: World, *keys: str, **env: str) -> list[ObjectRef]:
    """Upload `keys` and submit them (PENDING), then let the clock reach their first poll."""
    refs = [world.objects.put(BUCKET, key, PNG + key.encode()) for key in keys]
    failures = submit_batch([Deferred(f"m-{ref.key}", [ref]) for ref in refs], submission=world.submission(**env),
                            settings=world.submit_settings(**env), budget=world.budget(), tally=Tally())
    assert failures == {}
    assert all(record(world, ref).state is State.PENDING for ref in refs)
    world.clock.advance(GRACE)
    return refs


def poll(world: World, seconds: float = 30.0, /, **env: str) -> PollSummary:
    return Poller(world.submission(by="poll", **env), world.poll_settings(**env)).run(
        budget=world.budget(seconds), tally=world.tally)


def record(world: World, ref: ObjectRef) -> VerdictRecord:
    found = world.store.get(ref.data_id)
    assert found is not None
    return found


def result_requests(world: World) -> list[tuple[str, ...]]:
    return [r.task_ids for r in world.green.sent("ImageAsyncScanResults")]


# -- results ---------------------------------------------------------------------------------------


def test_finished_results_are_recorded_in_one_request(world: World) -> None:
    clean, bad = submitted(world, "clean.png", "bad.png")
    world.green.verdicts[bad.data_id] = [SceneResult("porn", "porn", "block", 99.5)]

    summary = poll(world)

    assert (summary.due, summary.asked, summary.finished, summary.requests) == (2, 2, 2, 1)
    assert result_requests(world) == [(record(world, clean).task_id, record(world, bad).task_id)]
    assert (record(world, clean).state, record(world, clean).suggestion) == (State.FINAL, "pass")
    assert (record(world, bad).state, record(world, bad).suggestion) == (State.FINAL, "block")
    assert all(record(world, r).source == "poll" and record(world, r).due_at is None for r in (clean, bad))
    assert world.tally.as_dict() == {"PollRuns": 1, "ResultRequests": 1, "VerdictPass": 1, "VerdictBlock": 1}


def test_processing_tasks_stay_pending_then_the_verdict_is_recorded(world: World) -> None:
    refs = submitted(world, "p1.png", "p2.png")
    world.green.processing.update(r.data_id for r in refs)

    first = poll(world)

    assert (first.asked, first.finished) == (2, 0)
    for ref in refs:
        assert record(world, ref).state is State.PENDING
        assert record(world, ref).due_at == world.clock() + RECHECK and record(world, ref).last_code == 280
    assert world.tally[Outcome.STILL_PROCESSING] == 2

    # Not due again before the recheck interval: Green is not asked
    world.clock.advance(RECHECK - 1)
    assert poll(world).due == 0
    assert len(result_requests(world)) == 1

    # Green finishes; the next due run records both verdicts
    world.green.processing.clear()
    world.clock.advance(1)
    second = poll(world)

    assert second.finished == 2
    assert all(record(world, r).state is State.FINAL and record(world, r).source == "poll" for r in refs)
    assert world.tally[Outcome.VERDICT_PASS] == 2


@pytest.mark.parametrize("how", ["expired", "unknown_to_green"])
def test_a_task_green_lost_is_scanned_again_with_a_fresh_url(world: World, how: str) -> None:
    [ref] = submitted(world, "lost.png")
    original = record(world, ref)
    assert original.task_id
    if how == "expired":  # Green forgot it (its 1-hour retention)
        world.green.forgotten.add(original.task_id)
    else:  # Green never heard of it
        del world.green.tasks[original.task_id]

    summary = poll(world)

    assert summary.rescanned == 1
    again = record(world, ref)
    assert again.state is State.PENDING and again.reason == "green_594"
    assert again.attempts == 2 and again.task_id not in (None, original.task_id)
    assert again.task_ids == {original.task_id, again.task_id}
    assert [h["to"] for h in again.history] == ["RECEIVED", "PENDING", "PENDING"]
    assert again.history[-1]["by"] == "poll" and again.history[-1]["reason"] == "green_594"
    # a fresh URL: signed now, valid for the full expiry from now
    [_, rescan] = world.green.sent()
    assert [t.data_id for t in rescan.tasks] == [ref.data_id] and rescan.callback and rescan.seed
    assert again.url_expires_at == iso(world.clock() + world.objects.url_expiry)
    assert again.url_expires_at != original.url_expires_at
    assert again.due_at == world.clock() + GRACE
    assert world.tally[Outcome.RESUBMITTED] == 1

    # Green keeps it this time: the next due run records the verdict
    world.clock.advance(GRACE)
    poll(world)
    assert record(world, ref).state is State.FINAL


@pytest.mark.parametrize(("code", "max_attempts"), [(480, 2), (594, 3)])
def test_after_the_last_attempt_the_record_is_an_error_with_the_reason(
        world: World, green: ScriptedGreen, code: int, max_attempts: int) -> None:
    env = {"MAX_SCAN_ATTEMPTS": str(max_attempts)}
    [ref] = submitted(world, "never.png", **env)
    green.codes[ref.data_id] = code  # every task of this version fails the same way

    for _ in range(max_attempts - 1):
        assert poll(world, **env).rescanned == 1
        world.clock.advance(GRACE)
    last = poll(world, **env)

    after = record(world, ref)
    assert after.state is State.ERROR
    assert after.reason == f"gave_up_after_{max_attempts}_scans_green_{code}"
    assert after.attempts == max_attempts and green.tasks_for(ref.data_id) == max_attempts
    assert last.gave_up == 1 and last.rescanned == 0
    assert world.tally[Outcome.ERRORED] == 1 and world.tally[Outcome.RESUBMITTED] == max_attempts - 1


# -- bounded work ------------------------------------------------------------------------------------


def test_a_run_handles_at_most_its_batch_limit_and_the_rest_stay_due(world: World) -> None:
    refs = submitted(world, *[f"many/{i}.png" for i in range(5)])

    first = poll(world, POLL_BATCH_LIMIT="3")

    assert (first.due, first.finished) == (3, 3)
    assert [len(ids) for ids in result_requests(world)] == [3]
    waiting = [r for r in refs if record(world, r).state is State.PENDING]
    assert len(waiting) == 2 and all((record(world, r).due_at or 0) <= world.clock() for r in waiting)

    second = poll(world, POLL_BATCH_LIMIT="3")

    assert (second.due, second.finished) == (2, 2)
    assert all(record(world, r).state is State.FINAL for r in refs)


def test_with_no_time_left_the_run_stops_without_asking_green(world: World) -> None:
    [ref] = submitted(world, "budget.png")

    summary = poll(world, 1.5)  # 0.5 s after the 1 s reserve

    assert summary.stopped_early is True
    assert result_requests(world) == []
    assert record(world, ref).state is State.PENDING and (record(world, ref).due_at or 0) <= world.clock()


def test_a_partial_request_waits_for_the_batch_window(world: World) -> None:
    refs = submitted(world, "w1.png", "w2.png", "w3.png")
    due_at = record(world, refs[0]).due_at

    waiting = poll(world, POLL_BATCH_WINDOW_SECONDS="60")

    # Three due records are fewer than a full request of 100: they wait, and Green is not asked
    assert (waiting.deferred, waiting.asked, waiting.requests) == (3, 0, 0)
    assert result_requests(world) == []
    assert all(record(world, r).state is State.PENDING and record(world, r).due_at == due_at for r in refs)

    # Once the oldest has been due for the window, one request asks for all three
    world.clock.advance(60)
    asked = poll(world, POLL_BATCH_WINDOW_SECONDS="60")

    assert (asked.deferred, asked.asked, asked.requests) == (0, 3, 1)
    assert all(record(world, r).state is State.FINAL for r in refs)


def test_a_full_request_does_not_wait_for_the_batch_window(world: World) -> None:
    refs = submitted(world, *[f"full/{i}.png" for i in range(MAX_TASKS + 1)])

    summary = poll(world, POLL_BATCH_WINDOW_SECONDS="60")

    assert (summary.asked, summary.requests, summary.deferred) == (MAX_TASKS, 1, 1)
    assert sum(record(world, r).state is State.FINAL for r in refs) == MAX_TASKS


# -- issue item 1: a record Green refused for longer than the queue retried --------------------------


def stranded(world: World, key: str) -> ObjectRef:
    """A version whose submission Green refused until its message was gone (moved to the DLQ)."""
    ref = world.objects.put(BUCKET, key, PNG)
    world.green.fail_next = [GreenThrottled("588", code=588)]
    failures = submit_batch([Deferred("m1", [ref])], submission=world.submission(),
                            settings=world.submit_settings(), budget=world.budget(), tally=Tally())
    assert set(failures) == {"m1"}  # retried by the queue... until the queue gives up; nobody submits it again
    left = record(world, ref)
    assert (left.state, left.attempts, left.due_at) == (State.RECEIVED, 0, world.clock() + LEASE)
    return ref


def test_a_record_green_refused_beyond_the_queue_retries_is_recovered_by_the_poller(world: World) -> None:
    ref = stranded(world, "stranded.png")

    # Not yet due: the poller leaves it alone
    world.clock.advance(LEASE - 1)
    poll(world)
    assert world.tally[Outcome.RECOVERED] == 0 and len(world.green.sent()) == 1

    # Due, and Green still refuses: each recovery backs off longer
    world.clock.advance(1)
    waits = []
    for _ in range(3):
        world.green.fail_next = [GreenThrottled("588", code=588)]
        summary = poll(world)
        after = record(world, ref)
        assert after.state is State.RECEIVED and summary.recovered == 0
        assert after.attempts == 0 and after.lease_until == 0  # nothing reached Green: the attempt is given back
        waits.append((after.due_at or 0) - world.clock())
        world.clock.advance(waits[-1])
    assert waits == [60, 120, 240]  # RECOVERY_BACKOFF_SECONDS, doubling
    assert record(world, ref).recoveries == 3

    # Green is back: the record reaches PENDING, then FINAL
    summary = poll(world)

    pending = record(world, ref)
    assert summary.recovered == 1
    assert (pending.state, pending.attempts, pending.recoveries) == (State.PENDING, 1, 4)
    assert pending.history[-1]["by"] == "poll" and pending.history[-1]["task"] == pending.task_id
    world.clock.advance(GRACE)
    poll(world)
    assert record(world, ref).state is State.FINAL
    assert world.green.tasks_for(ref.data_id) == 1
    assert world.tally[Outcome.RECOVERED] == 4
    assert world.tally[Outcome.GREEN_THROTTLED] == 3 and world.tally[Outcome.VERDICT_PASS] == 1


def test_a_stranded_record_whose_task_green_refuses_backs_off_and_is_recovered_later(world: World) -> None:
    ref = stranded(world, "refused-later.png")
    world.clock.advance(LEASE)
    world.green.refuse[ref.data_id] = (588, "EXCEED_QUOTA")  # this one task, not the request

    summary = poll(world)

    after = record(world, ref)
    assert summary.recovered == 0
    assert (after.state, after.attempts, after.lease_until) == (State.RECEIVED, 0, 0)
    assert after.due_at == world.clock() + 60
    assert world.tally[Outcome.GREEN_REFUSED_TASK] == 1 and world.tally[Outcome.RECOVERED] == 1

    del world.green.refuse[ref.data_id]
    world.clock.advance(60)
    assert poll(world).recovered == 1
    assert record(world, ref).state is State.PENDING


def test_after_max_recoveries_a_stranded_record_becomes_an_error(world: World) -> None:
    env = {"MAX_RECOVERIES": "2"}
    ref = stranded(world, "hopeless.png")
    world.clock.advance(LEASE)

    for _ in range(2):
        world.green.fail_next = [GreenTransientError("503", code=503)]
        poll(world, **env)
        world.clock.advance((record(world, ref).due_at or 0) - world.clock())
    scans_before = len(world.green.sent())
    summary = poll(world, **env)

    after = record(world, ref)
    assert (after.state, after.reason) == (State.ERROR, "not_submitted_after_2_recoveries")
    assert after.due_at is None and summary.gave_up == 1
    assert len(world.green.sent()) == scans_before  # given up without another scan request
    assert world.tally[Outcome.RECOVERED] == 2 and world.tally[Outcome.ERRORED] == 1


# -- issue item 2: every per-item answer of a rescan is handled ----------------------------------------


def test_a_rescan_group_handles_a_refused_task_per_item(world: World) -> None:
    refused, fine = submitted(world, "refused.png", "fine.png")
    before = {r.data_id: record(world, r) for r in (refused, fine)}
    world.green.forgotten.update(r.task_id or "" for r in before.values())  # both must be scanned again
    world.green.refuse[refused.data_id] = (588, "EXCEED_QUOTA")

    summary = poll(world)

    [_, rescan] = world.green.sent()
    assert sorted(t.data_id for t in rescan.tasks) == sorted([refused.data_id, fine.data_id])  # due together: any order
    waiting = record(world, refused)
    assert (waiting.state, waiting.task_id, waiting.attempts) == (State.PENDING, before[refused.data_id].task_id, 1)
    assert waiting.last_code == 588 and waiting.due_at == world.clock() + RECHECK
    rescanned = record(world, fine)
    assert (rescanned.state, rescanned.attempts) == (State.PENDING, 2)
    assert rescanned.task_id != before[fine.data_id].task_id
    assert summary.rescanned == 1
    assert world.tally[Outcome.GREEN_REFUSED_TASK] == 1 and world.tally[Outcome.RESUBMITTED] == 1

    # The refused one is tried again when due, and Green takes it
    del world.green.refuse[refused.data_id]
    world.clock.advance(RECHECK)
    assert poll(world).rescanned == 1
    assert record(world, refused).task_id != before[refused.data_id].task_id


def test_a_rescan_group_skips_the_one_whose_fresh_url_is_too_long(world: World) -> None:
    long, refused, fine = submitted(world, "long/" + "x" * 900 + ".png", "refused.png", "fine.png")
    before = {r.data_id: record(world, r) for r in (long, refused, fine)}
    world.green.forgotten.update(r.task_id or "" for r in before.values())  # all three must be scanned again
    # The poller's presigned URLs are longer (a longer session token): too long for one key only
    world.objects.url_padding = 1500
    assert len(world.objects.presign(long).url) > MAX_URL_LENGTH >= len(world.objects.presign(fine).url)
    world.green.refuse[refused.data_id] = (588, "EXCEED_QUOTA")

    summary = poll(world)

    [_, rescan] = world.green.sent()
    assert sorted(t.data_id for t in rescan.tasks) == sorted([refused.data_id, fine.data_id])  # due together: any order
    skipped = record(world, long)
    assert (skipped.state, skipped.reason) == (State.SKIPPED, "url_too_long")
    waiting = record(world, refused)
    assert (waiting.state, waiting.task_id, waiting.attempts) == (State.PENDING, before[refused.data_id].task_id, 1)
    assert waiting.last_code == 588 and waiting.due_at == world.clock() + RECHECK
    rescanned = record(world, fine)
    assert (rescanned.state, rescanned.attempts) == (State.PENDING, 2)
    assert summary.rescanned == 1
    assert world.tally[Outcome.GREEN_REFUSED_TASK] == 1
    assert world.tally[Outcome.RESUBMITTED] == 1 and world.tally[Outcome.SKIPPED] == 1


@pytest.mark.parametrize(("failure", "attempts"), [
    (GreenThrottled("588", code=588), 1),  # surely sent nothing: the attempt is given back
    (GreenTransientError("reset", maybe_accepted=True), 2),  # Green may hold a task: the attempt counts
])
def test_a_failed_rescan_request_leaves_the_record_pending_and_due(
        world: World, green: ScriptedGreen, failure: GreenError, attempts: int) -> None:
    [ref] = submitted(world, "retry.png")
    task_id = record(world, ref).task_id
    green.forgotten.add(task_id or "")
    green.scan_failures.append(failure)

    summary = poll(world)

    after = record(world, ref)
    assert summary.rescanned == 0
    assert (after.state, after.task_id, after.attempts) == (State.PENDING, task_id, attempts)
    assert after.due_at == world.clock() + RECHECK


# -- issue item 3: a task left out of Green's results ---------------------------------------------------


def test_a_task_left_out_of_the_results_is_rechecked_then_rescanned(world: World) -> None:
    env = {"RESUBMIT_AFTER_SECONDS": "600"}
    [ref] = submitted(world, "omitted.png")
    original = record(world, ref)
    world.green.omitted.add(original.task_id or "")

    poll(world, **env)

    rechecked = record(world, ref)
    assert (rechecked.state, rechecked.task_id, rechecked.attempts) == (State.PENDING, original.task_id, 1)
    assert rechecked.due_at == world.clock() + RECHECK
    assert world.tally[Outcome.RESULT_MISSING] == 1

    # Still left out once the task is older than RESUBMIT_AFTER_SECONDS: scanned again, not rechecked for ever
    world.clock.advance(600 - (world.clock() - (original.submitted_epoch or 0)))
    summary = poll(world, **env)

    again = record(world, ref)
    assert summary.rescanned == 1
    assert (again.reason, again.attempts) == ("result_missing", 2)
    assert again.task_id != original.task_id
    assert world.tally[Outcome.RESULT_MISSING] == 1 and world.tally[Outcome.RESUBMITTED] == 1
    world.clock.advance(GRACE)
    poll(world, **env)
    assert record(world, ref).state is State.FINAL


def test_a_task_still_processing_near_green_retention_is_scanned_again(world: World) -> None:
    env = {"RESUBMIT_AFTER_SECONDS": "600"}
    [ref] = submitted(world, "slow.png")
    world.green.processing.add(ref.data_id)

    world.clock.advance(600 - GRACE)
    summary = poll(world, **env)

    assert summary.rescanned == 1
    assert record(world, ref).reason == "result_not_ready_before_retention"
    assert world.tally[Outcome.STILL_PROCESSING] == 0


# -- issue item 6: Green could not download the version ---------------------------------------------


@pytest.mark.parametrize("code", [403, 404, 480, 592])
def test_a_version_deleted_before_green_fetched_it_is_skipped_without_a_rescan(
        world: World, green: ScriptedGreen, code: int) -> None:
    deleted, kept = submitted(world, "deleted.png", "kept.png")
    green.codes.update({deleted.data_id: code, kept.data_id: code})
    world.objects.delete(deleted)

    summary = poll(world)

    gone = record(world, deleted)
    assert (gone.state, gone.reason, gone.attempts) == (State.SKIPPED, "object_missing", 1)
    assert green.tasks_for(deleted.data_id) == 1
    still = record(world, kept)
    assert (still.state, still.reason, still.attempts) == (State.PENDING, f"green_{code}", 2)
    assert green.tasks_for(kept.data_id) == 2
    assert summary.rescanned == 1
    assert world.tally[Outcome.SKIPPED] == 1 and world.tally[Outcome.RESUBMITTED] == 1


def test_an_unversioned_object_overwritten_before_green_fetched_it_is_superseded(
        world: World, green: ScriptedGreen) -> None:
    world.objects = InMemoryObjects(world.clock, versioned=False)
    [ref] = submitted(world, "overwritten.png")
    green.codes[ref.data_id] = 404
    world.objects.put(BUCKET, "overwritten.png", PNG + b"other bytes")

    summary = poll(world)

    after = record(world, ref)
    assert (after.state, after.reason) == (State.SUPERSEDED, "overwritten_before_scan")
    assert summary.rescanned == 0 and green.tasks_for(ref.data_id) == 1
    assert world.tally[Outcome.SUPERSEDED] == 1
