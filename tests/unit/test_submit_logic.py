"""Submit's decisions, on fakes: what is sent, recorded, acknowledged and retried."""

from __future__ import annotations

from conftest import BUCKET, World

from greenlight.domain.outcomes import Outcome
from greenlight.domain.states import State
from greenlight.green.errors import GreenThrottled, GreenTransientError
from greenlight.runtime.batching import Deferred
from submit_logic import announced, submit_batch

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def run(world: World, messages: list[Deferred], **env: str) -> dict[str, Exception]:
    return submit_batch(messages, submission=world.submission(**env), settings=world.submit_settings(**env),
                        budget=world.budget(), tally=world.tally)


def test_images_go_in_one_request_and_become_pending(world: World) -> None:
    refs = [world.objects.put(BUCKET, f"a{i}.png", PNG) for i in range(3)]

    failures = run(world, [Deferred(f"m{i}", [ref]) for i, ref in enumerate(refs)])

    assert failures == {}
    [request] = world.green.sent()
    assert [t.data_id for t in request.tasks] == [r.data_id for r in refs]
    assert all(t.interval == 1 and t.max_frames == 100 for t in request.tasks)  # every frame of a GIF
    assert request.callback and request.seed
    for ref in refs:
        record = world.store.get(ref.data_id)
        assert record is not None and record.state is State.PENDING and record.attempts == 1
    assert world.tally[Outcome.SCAN_SUBMITTED] == 3


def test_the_same_version_twice_in_one_batch_is_handled_once_and_both_messages_acknowledged(world: World) -> None:
    ref = world.objects.put(BUCKET, "twice.png", PNG)

    failures = run(world, [Deferred("m1", [ref]), Deferred("m2", [ref])])

    assert failures == {}
    assert len(world.green.sent()[0].tasks) == 1
    assert announced([Deferred("m1", [ref]), Deferred("m2", [ref])])[0].message_ids == ("m1", "m2")


def test_throttling_retries_the_message_and_gives_the_attempt_back(world: World) -> None:
    ref = world.objects.put(BUCKET, "busy.png", PNG)
    world.green.fail_next = [GreenThrottled("588", code=588)]

    failures = run(world, [Deferred("m1", [ref])])

    assert set(failures) == {"m1"}
    record = world.store.get(ref.data_id)
    assert record is not None and record.state is State.RECEIVED
    assert record.attempts == 0 and record.lease_until == 0  # nothing reached Green; claimable at once


def test_an_answer_lost_after_green_accepted_keeps_the_attempt_counted(world: World) -> None:
    ref = world.objects.put(BUCKET, "lost.png", PNG)
    world.green.accept_then_fail = [GreenTransientError("reset", maybe_accepted=True)]

    failures = run(world, [Deferred("m1", [ref])])

    assert set(failures) == {"m1"}
    record = world.store.get(ref.data_id)
    assert record is not None and record.attempts == 1
    assert world.green.tasks_for(ref.data_id) == 1
