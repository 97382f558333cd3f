"""The spend guard, on fakes: a stack-wide daily image budget after which new scans wait for the next
UTC day, losing nothing, and counting only what may have reached Green."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from fakes.image_budget import InMemoryImageBudget
from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.errors import GreenAuthError, GreenThrottled, GreenTransientError
from greenlight.runtime.batching import Deferred
from greenlight.runtime.config import ScanSettings
from greenlight.scanning.spend import SpendGuard, next_utc_day, utc_day
from greenlight.scanning.submission import Submission
from poll_logic import Poller, PollSummary
from submit_logic import submit_batch
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
LEASE = 90  # LEASE_SECONDS in the unit tier's environment
DAY = 86400


@pytest.fixture
def budget() -> InMemoryImageBudget:
    return InMemoryImageBudget()


def submission(world: World, budget: InMemoryImageBudget, limit: int, *, by: str = "submit") -> Submission:
    env = {**world.env, "DAILY_IMAGE_BUDGET": str(limit)}
    return Submission(replace(world.ports, image_budget=budget), ScanSettings.from_env(env), by=by)


def upload(world: World, *keys: str, body: bytes = PNG) -> list[ObjectRef]:
    return [world.objects.put(BUCKET, key, body + key.encode()) for key in keys]


def submit(world: World, budget: InMemoryImageBudget, limit: int, refs: list[ObjectRef]) -> dict[str, Exception]:
    """One submit invocation over one message per version."""
    return submit_batch([Deferred(f"m-{ref.key}", [ref]) for ref in refs], submission=submission(world, budget, limit),
                        settings=world.submit_settings(DAILY_IMAGE_BUDGET=str(limit)), budget=world.budget(),
                        tally=world.tally)


def poll(world: World, budget: InMemoryImageBudget, limit: int) -> PollSummary:
    return Poller(submission(world, budget, limit, by="poll"),
                  world.poll_settings(DAILY_IMAGE_BUDGET=str(limit))).run(budget=world.budget(), tally=world.tally)


def record(world: World, ref: ObjectRef) -> VerdictRecord:
    found = world.store.get(ref.data_id)
    assert found is not None
    return found


def images_sent(world: World) -> list[str]:
    return [task.data_id for request in world.green.sent() for task in request.tasks]


def midnight_after(epoch: float) -> float:
    day = datetime.fromtimestamp(epoch, UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + DAY


# -- the day -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "day", "next_day"), [
    ("2026-12-03T00:00:00+00:00", "2026-12-03", "2026-12-04T00:00:00+00:00"),
    ("2026-12-03T23:59:59.900+00:00", "2026-12-03", "2026-12-04T00:00:00+00:00"),
    ("2026-12-31T12:00:00+00:00", "2026-12-31", "2027-01-01T00:00:00+00:00"),
    ("2026-12-04T07:30:00+08:00", "2026-12-03", "2026-12-04T00:00:00+00:00"),  # a UTC day, wherever one is
])
def test_the_budget_is_per_utc_day_and_opens_again_at_utc_midnight(moment: str, day: str, next_day: str) -> None:
    epoch = datetime.fromisoformat(moment).timestamp()
    assert utc_day(epoch) == day
    assert next_utc_day(epoch) == datetime.fromisoformat(next_day).timestamp()


def test_a_guard_needs_a_positive_limit(world: World, budget: InMemoryImageBudget) -> None:
    with pytest.raises(ValueError, match="positive"):
        SpendGuard(budget, 0, world.clock)


# -- submit ----------------------------------------------------------------------------------------------


def test_a_batch_within_the_budget_is_sent_whole_for_one_write_to_the_counter(world: World,
                                                                               budget: InMemoryImageBudget) -> None:
    refs = upload(world, *(f"uploads/{i}.png" for i in range(30)))

    failures = submit(world, budget, 100, refs)

    assert failures == {}
    assert sorted(images_sent(world)) == sorted(ref.data_id for ref in refs)
    assert all(record(world, ref).state is State.PENDING for ref in refs)
    assert budget.used(utc_day(world.clock())) == 30
    assert budget.writes == 1  # one conditional write for the batch, not one per image
    assert world.tally[Outcome.BUDGET_EXHAUSTED] == 0


def test_past_the_budget_images_wait_for_the_next_utc_day_and_their_messages_are_acknowledged(
        world: World, budget: InMemoryImageBudget) -> None:
    # Given a budget of 5 images a day, 3 of them spent already
    budget.take(utc_day(world.clock()), 3, limit=5)
    refs = upload(world, *(f"uploads/{i}.png" for i in range(6)))

    # When submit takes a batch of 6
    failures = submit(world, budget, 5, refs)

    # Then 2 are sent and 4 wait: released, due at the next UTC midnight, their scan attempt given back
    assert failures == {}  # every message acknowledged: nothing for SQS to redeliver or dead-letter
    sent = set(images_sent(world))
    assert len(sent) == 2
    waiting = [ref for ref in refs if ref.data_id not in sent]
    for ref in waiting:
        held = record(world, ref)
        assert held.state is State.RECEIVED
        assert held.due_at == midnight_after(world.clock())
        assert held.lease_until == 0 and held.attempts == 0
    assert world.tally[Outcome.BUDGET_EXHAUSTED] == 4
    assert budget.used(utc_day(world.clock())) == 5


def test_objects_not_worth_a_scan_cost_nothing_from_the_budget(world: World, budget: InMemoryImageBudget) -> None:
    [image] = upload(world, "uploads/photo.png")
    [text] = upload(world, "uploads/notes.txt", body=b"just some text, not an image at all")

    submit(world, budget, 1, [text, image])

    assert images_sent(world) == [image.data_id]
    assert record(world, text).state is State.SKIPPED
    assert world.tally[Outcome.BUDGET_EXHAUSTED] == 0


@pytest.mark.parametrize("failure", [GreenThrottled("slow down", code="Throttling.User"),
                                     GreenAuthError("refused", code="InvalidAccessKeyId.NotFound")])
def test_images_surely_not_sent_are_given_back_to_the_budget(world: World, budget: InMemoryImageBudget,
                                                             failure: Exception) -> None:
    # Given Green refusing the request before taking anything
    world.green.fail_next.append(failure)  # type: ignore[arg-type]
    refs = upload(world, "uploads/a.png", "uploads/b.png")

    failures = submit(world, budget, 10, refs)

    # Then the messages come back, and the day's budget is as if nothing had been asked
    assert set(failures) == {f"m-{ref.key}" for ref in refs}
    assert budget.used(utc_day(world.clock())) == 0


def test_images_that_may_have_reached_green_stay_counted(world: World, budget: InMemoryImageBudget) -> None:
    # Given a request whose answer is lost on the way back (Green may have taken and billed it)
    world.green.accept_then_fail.append(GreenTransientError("reset", maybe_accepted=True))
    refs = upload(world, "uploads/a.png", "uploads/b.png")

    submit(world, budget, 10, refs)

    assert budget.used(utc_day(world.clock())) == 2


def test_a_counter_that_cannot_be_read_sends_nothing_and_retries_the_messages(world: World,
                                                                              budget: InMemoryImageBudget) -> None:
    budget.fail_next = RuntimeError("table unreachable")
    refs = upload(world, "uploads/a.png", "uploads/b.png")

    failures = submit(world, budget, 10, refs)

    assert set(failures) == {f"m-{ref.key}" for ref in refs}
    assert images_sent(world) == []
    # the leases are given up, so the redelivered messages take the records over at once
    assert all(record(world, ref).lease_until == 0 and record(world, ref).attempts == 0 for ref in refs)


def test_without_a_budget_nothing_is_counted(world: World, budget: InMemoryImageBudget) -> None:
    refs = upload(world, "uploads/a.png")

    submit(world, budget, 0, refs)

    assert images_sent(world) == [refs[0].data_id]
    assert budget.writes == 0


# -- the poller: the next day, and recovery under the budget ---------------------------------------


def test_waiting_images_are_submitted_the_next_day_within_that_days_budget(world: World,
                                                                            budget: InMemoryImageBudget) -> None:
    # Given 5 uploads against a budget of 2 a day: 2 sent today, 3 waiting
    refs = upload(world, *(f"uploads/{i}.png" for i in range(5)))
    submit(world, budget, 2, refs)
    waiting = [ref for ref in refs if ref.data_id not in images_sent(world)]
    assert len(waiting) == 3

    # When the poller runs before midnight, nothing of them is due
    world.clock.now = midnight_after(world.clock()) - 1
    poll(world, budget, 2)
    assert len(images_sent(world)) == 2

    # And when it runs after midnight, it recovers them: 2 sent (the new day's budget), 1 waits again
    world.clock.now = midnight_after(world.clock()) + 30
    summary = poll(world, budget, 2)

    states = [record(world, ref).state for ref in waiting]
    assert states.count(State.PENDING) == 2 and states.count(State.RECEIVED) == 1
    assert summary.recovered == 2 and summary.waiting_for_budget == 1
    assert budget.used(utc_day(world.clock())) == 2
    [still] = [record(world, ref) for ref in waiting if record(world, ref).state is State.RECEIVED]
    assert still.due_at == midnight_after(world.clock())

    # And the day after, the last one goes too: nothing was lost
    world.clock.now = midnight_after(world.clock()) + 30
    poll(world, budget, 2)
    assert all(record(world, ref).state in (State.PENDING, State.FINAL) for ref in refs)
    assert sorted(images_sent(world)) == sorted(ref.data_id for ref in refs)


def test_stranded_records_wait_untouched_while_the_days_budget_is_spent(world: World,
                                                                         budget: InMemoryImageBudget) -> None:
    # Given two records whose submission failed (Green throttled), due for recovery after the lease
    world.green.fail_next.append(GreenThrottled("slow down"))
    refs = upload(world, "uploads/a.png", "uploads/b.png")
    submit(world, budget, 10, refs)
    world.clock.advance(LEASE + 1)
    # and the day's budget spent meanwhile by other uploads
    budget.take(utc_day(world.clock()), 10, limit=10)
    requests_before = len(world.green.requests)

    # When the poller finds them due
    summary = poll(world, budget, 10)

    # Then it sends nothing and takes neither over (waiting is no failed recovery): due at the next UTC day
    assert len(world.green.requests) == requests_before
    for ref in refs:
        held = record(world, ref)
        assert held.state is State.RECEIVED and held.recoveries == 0
        assert held.due_at == midnight_after(world.clock())
    assert summary.waiting_for_budget == 2
    assert world.tally[Outcome.BUDGET_EXHAUSTED] == 2


def test_recovery_takes_from_the_same_budget_as_submit(world: World, budget: InMemoryImageBudget) -> None:
    # Given two stranded records and one image of the day's budget left
    world.green.fail_next.append(GreenThrottled("slow down"))
    refs = upload(world, "uploads/a.png", "uploads/b.png")
    submit(world, budget, 3, refs)
    budget.take(utc_day(world.clock()), 2, limit=3)
    world.clock.advance(LEASE + 1)

    # When the poller recovers them
    summary = poll(world, budget, 3)

    # Then one is sent and one waits for the next day; the budget is spent exactly
    assert summary.recovered == 1 and summary.waiting_for_budget == 1
    assert sorted(record(world, ref).state for ref in refs) == sorted([State.PENDING, State.RECEIVED])
    assert budget.used(utc_day(world.clock())) == 3
    assert sum(1 for _ in images_sent(world)) == 3  # the first, refused request's two, and the recovered one


def test_each_image_held_back_counts_once_as_budget_exhausted(world: World, budget: InMemoryImageBudget) -> None:
    budget.take(utc_day(world.clock()), 1, limit=1)
    refs = upload(world, "uploads/a.png", "uploads/b.png", "uploads/c.png")
    tally = Tally()

    submit_batch([Deferred("m-1", refs)], submission=submission(world, budget, 1),
                 settings=world.submit_settings(DAILY_IMAGE_BUDGET="1"), budget=world.budget(), tally=tally)

    assert tally[Outcome.BUDGET_EXHAUSTED] == 3
    assert tally[Outcome.SCAN_SUBMITTED] == 0
