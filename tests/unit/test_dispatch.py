"""The Dispatcher on a scripted Green: groups of at most 100, answers by dataId, nothing dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from fakes import FakeGreen
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.green.errors import GreenAuthError, GreenError, GreenInvalidRequest, GreenThrottled, GreenTransientError
from greenlight.green.wire import ScanTask, SceneResult, TaskResult
from greenlight.scanning.dispatch import Answered, Dispatcher, NotSent, Sent
from unit.conftest import World


@dataclass
class ShuffledGreen(FakeGreen):
    """Answers an async scan in reverse order, leaving out the tasks whose dataId is in `leave_out`."""

    leave_out: set[str] = field(default_factory=set)

    def image_async_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                         callback: str | None = None, seed: str | None = None,
                         budget: float | None = None) -> list[TaskResult]:
        answers = super().image_async_scan(tasks, scenes, biz_type=biz_type, callback=callback, seed=seed,
                                           budget=budget)
        return [a for a in reversed(answers) if a.data_id not in self.leave_out]


@dataclass
class FailingGreen(FakeGreen):
    """Raises `error` for the `fail_request`-th async scan request (1-based)."""

    fail_request: int = 1
    error: GreenError = field(default_factory=lambda: GreenTransientError("down"))

    def image_async_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                         callback: str | None = None, seed: str | None = None,
                         budget: float | None = None) -> list[TaskResult]:
        if len(self.sent()) + 1 == self.fail_request:
            self.fail_next = [self.error]
        return super().image_async_scan(tasks, scenes, biz_type=biz_type, callback=callback, seed=seed,
                                        budget=budget)


def tasks(count: int) -> list[ScanTask]:
    return [ScanTask(f"v-{i:04d}", f"https://uploads.s3.amazonaws.com/{i}.png", interval=1, max_frames=100)
            for i in range(count)]


def dispatcher(world: World, green: FakeGreen | None = None, mode: str = "async", **env: str) -> Dispatcher:
    return Dispatcher(green or world.green, world.submission(**env).settings.green, mode=mode,
                      callback=lambda: world.callback)


def test_answers_are_mapped_by_data_id_whatever_order_green_answers_in(world: World) -> None:
    green = ShuffledGreen()
    batch = tasks(5)

    answers = dispatcher(world, green).send(batch, budget=world.budget(), tally=world.tally)

    assert set(answers) == {t.data_id for t in batch}
    for data_id, answer in answers.items():
        assert isinstance(answer, Sent)
        assert green.tasks[answer.task_id].data_id == data_id  # the task Green holds for this very version
    assert world.tally[Outcome.SCAN_REQUEST] == 1


def test_a_task_left_out_of_greens_answer_may_exist_and_is_not_sent_maybe_accepted(world: World) -> None:
    batch = tasks(3)
    green = ShuffledGreen(leave_out={batch[1].data_id})

    answers = dispatcher(world, green).send(batch, budget=world.budget(), tally=world.tally)

    assert answers[batch[1].data_id] == NotSent("green_answer_left_it_out", maybe_accepted=True)
    assert isinstance(answers[batch[0].data_id], Sent) and isinstance(answers[batch[2].data_id], Sent)


def test_tasks_go_in_groups_of_at_most_100_with_the_callback_and_seed(world: World) -> None:
    batch = tasks(250)

    answers = dispatcher(world).send(batch, budget=world.budget(), tally=world.tally)

    assert [len(r.tasks) for r in world.green.sent()] == [100, 100, 50]
    assert world.callback is not None
    assert {(r.callback, r.seed) for r in world.green.sent()} == {(world.callback.url, world.callback.seed)}
    assert all(isinstance(a, Sent) for a in answers.values()) and len(answers) == 250
    assert world.tally[Outcome.SCAN_REQUEST] == 3


def test_without_a_callback_target_green_is_asked_for_no_callback(world: World) -> None:
    world.callback = None

    dispatcher(world).send(tasks(1), budget=world.budget(), tally=world.tally)

    [request] = world.green.sent()
    assert (request.callback, request.seed) == (None, None)


@pytest.mark.parametrize(("error", "outcome", "maybe_accepted"), [
    (GreenAuthError("denied", code="InvalidAccessKeyId"), Outcome.GREEN_AUTH_FAILED, False),
    (GreenThrottled("slow down", code=588), Outcome.GREEN_THROTTLED, False),
    (GreenTransientError("refused", code=503), Outcome.GREEN_FAILED, False),
    (GreenTransientError("reset after sending", maybe_accepted=True), Outcome.GREEN_FAILED, True),
    (GreenInvalidRequest("bad", code=400), Outcome.GREEN_FAILED, False),
])
def test_a_failed_request_gives_every_task_of_its_group_a_not_sent(
        world: World, error: GreenError, outcome: Outcome, maybe_accepted: bool) -> None:
    # Given 150 tasks (two requests) and a Green whose second request fails
    batch = tasks(150)
    green = FailingGreen(fail_request=2, error=error)

    answers = dispatcher(world, green).send(batch, budget=world.budget(), tally=world.tally)

    # Then the first group is sent, every task of the second is NotSent with the error, counted by kind
    assert all(isinstance(answers[t.data_id], Sent) for t in batch[:100])
    failed = {answers[t.data_id] for t in batch[100:]}
    assert len(failed) == 1
    [not_sent] = failed
    assert isinstance(not_sent, NotSent) and not_sent.maybe_accepted is maybe_accepted
    assert not_sent.reason.startswith(f"green_{type(error).__name__.lower()}")
    assert world.tally[outcome] == 1 and world.tally[Outcome.SCAN_REQUEST] == 1


def test_no_time_left_sends_nothing_and_says_so(world: World) -> None:
    batch = tasks(3)

    answers = dispatcher(world).send(batch, budget=lambda: 1.0, tally=world.tally)

    assert world.green.requests == []
    assert set(answers.values()) == {NotSent("no_time_left")}


def test_per_task_refusals_and_sync_verdicts_are_answered_with_greens_result(world: World) -> None:
    batch = tasks(2)
    world.green.refuse[batch[0].data_id] = (588, "throttled for this image")
    world.green.verdicts[batch[1].data_id] = [SceneResult("porn", "porn", "block", 99.1)]

    refused = dispatcher(world).send(batch[:1], budget=world.budget(), tally=Tally())
    judged = dispatcher(world, mode="sync").send(batch[1:], budget=world.budget(), tally=Tally())

    answer = refused[batch[0].data_id]
    assert isinstance(answer, Answered) and answer.result.code == 588
    verdict = judged[batch[1].data_id]
    assert isinstance(verdict, Answered) and verdict.result.suggestion == "block"
    assert [len(r.tasks) for r in world.green.sent("ImageSyncScan")] == [1]


def test_an_empty_batch_asks_green_nothing(world: World) -> None:
    assert dispatcher(world).send([], budget=world.budget(), tally=world.tally) == {}
    assert world.green.requests == []
