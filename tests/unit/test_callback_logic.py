"""The callback's decisions, on fakes: which check answers first, what a genuine result changes,
and that nothing else (replays, forgeries, malformed content, late results) changes a record."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from callback_logic import Reply, handle_callback
from greenlight.aws.secret import CallbackSecret
from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.checksum import callback_checksum
from greenlight.green.errors import GreenTransientError
from greenlight.green.wire import SceneResult
from greenlight.runtime.batching import Deferred
from submit_logic import submit_batch
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
UID = "1234567890123456"
SEED = "unitTestSeed_0001"
TOKEN = "unit-test-callback-token-0000000000000001"
SECRET = CallbackSecret(uid=UID, seed=SEED, callback_token=TOKEN)
FORM = "application/x-www-form-urlencoded"
MAX_BYTES = 256 * 1024


def form(content: str, *, seed: str = SEED, checksum: str | None = None) -> bytes:
    """A callback body as Green posts it: the content and its checksum (genuine unless given)."""
    return urlencode({"checksum": checksum or callback_checksum(UID, seed, content), "content": content}).encode()


def call(world: World, body: bytes | None, *, token: str = TOKEN, content_type: str | None = FORM,
         secret: CallbackSecret = SECRET, max_bytes: int = MAX_BYTES) -> Reply:
    return handle_callback(token=token, content_type=content_type, body=body, secret=secret, store=world.store,
                           policy=world.policy, max_bytes=max_bytes, tally=world.tally, clock=world.clock)


def submitted(world: World, key: str = "photo.png", *, tally: Tally | None = None) -> ObjectRef:
    """A version submitted to Green (PENDING under its task), the verdict Green will push: block."""
    ref = world.objects.put(BUCKET, key, PNG + key.encode())
    world.green.verdicts[ref.data_id] = [SceneResult("porn", "porn", "block", 99.6),
                                         SceneResult("terrorism", "normal", "pass", 99.9)]
    assert submit_batch([Deferred("m1", [ref])], submission=world.submission(), settings=world.submit_settings(),
                        budget=world.budget(), tally=tally or Tally()) == {}
    return ref


def record(world: World, ref: ObjectRef) -> VerdictRecord:
    found = world.store.get(ref.data_id)
    assert found is not None
    return found


def result(world: World, task_id: str, **changes: Any) -> str:
    """The `content` Green pushes for `task_id` (its real result, with `changes`)."""
    return json.dumps({**world.green.result_for(task_id, world.green.tasks[task_id]).to_wire(), **changes})


def task_of(world: World, ref: ObjectRef) -> str:
    [task_id] = [t for t, task in world.green.tasks.items() if task.data_id == ref.data_id]
    return task_id


def test_a_genuine_callback_records_the_verdict_once(world: World) -> None:
    ref = submitted(world)
    body = form(result(world, task_of(world, ref)))

    reply = call(world, body)

    assert (reply.status, reply.body, reply.rejection) == (200, {"ok": True, "applied": True}, None)
    after = record(world, ref)
    assert (after.state, after.suggestion, after.source) == (State.FINAL, "block", "callback")
    assert after.scenes["porn"] == {"label": "porn", "suggestion": "block", "rate": 99.6}
    assert world.tally.as_dict() == {"CallbackRequests": 1, "CallbackApplied": 1, "VerdictBlock": 1}

    # Green retries (or an attacker replays): still 200, nothing changes
    writes = world.store.writes
    replay = call(world, body)

    assert (replay.status, replay.body) == (200, {"ok": True, "applied": False})
    assert record(world, ref) == after and world.store.writes == writes
    assert world.tally[Outcome.CALLBACK_NOOP] == 1 and world.tally[Outcome.CALLBACK_APPLIED] == 1


# -- the order of checks: each answers before anything after it is looked at --------------------------

GARBAGE = b"checksum=%zz&&content"
OVERSIZED = b"x" * (MAX_BYTES + 1)


@pytest.mark.parametrize(("case", "status", "reason"), [
    # a wrong token wins over every other fault: nothing about the request is revealed
    ({"token": "not-the-token", "body": OVERSIZED, "content_type": "application/json"}, 404, "bad_token"),
    ({"token": "", "body": None}, 404, "bad_token"),
    ({"body": None}, 400, "malformed_form"),  # the HTTP API's base64 body did not decode
    ({"body": OVERSIZED, "content_type": "application/json"}, 413, "too_large"),
    ({"body": GARBAGE, "content_type": "application/json"}, 415, "wrong_content_type"),
    ({"body": GARBAGE, "content_type": None}, 415, "wrong_content_type"),
    ({"body": GARBAGE}, 400, "malformed_form"),
    ({"body": b"\xff\xfe\x00garbage"}, 400, "malformed_form"),
    ({"body": b"checksum=abc"}, 400, "malformed_form"),  # no content field
    ({"body": b"content=a&content=b&checksum=c"}, 400, "malformed_form"),
    ({"body": b"content=not+json"}, 403, "missing_checksum"),
    ({"body": form("not json", checksum="0" * 64)}, 403, "bad_checksum"),
    ({"body": form("not json")}, 400, "malformed_content"),
    ({"body": form(json.dumps({"code": 200, "dataId": "v-x"}))}, 400, "malformed_content"),  # no taskId
])
def test_bad_callbacks_are_answered_by_the_first_failing_check_and_change_nothing(
        world: World, case: dict[str, Any], status: int, reason: str) -> None:
    ref = submitted(world)
    before, writes = record(world, ref), world.store.writes

    reply = call(world, **case)

    assert (reply.status, reply.rejection) == (status, reason)
    assert isinstance(reply.body.get("message"), str) and reply.body["message"]
    assert record(world, ref) == before and world.store.writes == writes
    assert world.tally.as_dict() == {"CallbackRequests": 1}


def test_a_body_at_the_cap_is_read(world: World) -> None:
    ref = submitted(world)
    body = form(result(world, task_of(world, ref)))

    assert call(world, body, max_bytes=len(body)).status == 200
    assert record(world, ref).state is State.FINAL


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded; charset=UTF-8",
                                          "Application/X-WWW-Form-Urlencoded"])
def test_the_form_content_type_is_recognised_with_parameters_and_any_case(world: World, content_type: str) -> None:
    ref = submitted(world)

    assert call(world, form(result(world, task_of(world, ref))), content_type=content_type).status == 200


# -- rotation: the previous seed and token work while an operator rotates them --------------------------


def test_the_previous_seed_is_accepted_during_a_rotation_and_not_after(world: World) -> None:
    first, second = submitted(world, "a.png"), submitted(world, "b.png")
    rotated = CallbackSecret(uid=UID, seed="aFreshSeed_000042", previous_seed=SEED, callback_token=TOKEN)

    # A callback signed with the old seed (a task submitted before the rotation) still counts
    assert call(world, form(result(world, task_of(world, first))), secret=rotated).status == 200
    assert record(world, first).state is State.FINAL

    # Once the rotation is over, only the new seed is accepted
    done = CallbackSecret(uid=UID, seed="aFreshSeed_000042", callback_token=TOKEN)
    content = result(world, task_of(world, second))
    assert call(world, form(content), secret=done).rejection == "bad_checksum"
    assert record(world, second).state is State.PENDING
    assert call(world, form(content, seed="aFreshSeed_000042"), secret=done).status == 200
    assert record(world, second).state is State.FINAL


def test_the_previous_path_token_works_during_a_rotation_and_not_after(world: World) -> None:
    ref = submitted(world)
    body = form(result(world, task_of(world, ref)))
    new_token = "a-new-unguessable-token-0000000000000002"

    rotating = CallbackSecret(uid=UID, seed=SEED, callback_token=new_token, previous_callback_token=TOKEN)
    assert call(world, body, token=TOKEN, secret=rotating).status == 200
    assert call(world, body, token=new_token, secret=rotating).status == 200

    done = CallbackSecret(uid=UID, seed=SEED, callback_token=new_token)
    assert call(world, body, token=TOKEN, secret=done).status == 404
    assert call(world, body, token=TOKEN, secret=CallbackSecret(uid=UID, seed=SEED)).status == 404  # no token set


# -- results that change nothing still get 200, so Green stops retrying ---------------------------------


def test_a_result_for_an_unknown_record_changes_nothing(world: World) -> None:
    content = json.dumps({"code": 200, "msg": "OK", "dataId": "v-nobody", "taskId": "img-nobody",
                          "results": [{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": 99.0}]})

    reply = call(world, form(content))

    assert (reply.status, reply.body) == (200, {"ok": True, "applied": False})
    assert world.store.writes == 0 and world.store.records == {}
    assert world.tally[Outcome.CALLBACK_NOOP] == 1


@pytest.mark.parametrize("state", [State.FINAL, State.SKIPPED, State.ERROR, State.SUPERSEDED])
def test_a_result_for_a_record_already_settled_changes_nothing(world: World, state: State) -> None:
    ref = submitted(world)
    if state is State.SUPERSEDED:
        assert world.store.supersede(ref.data_id, reason="newer_version", by="submit")
    else:
        assert world.store.finish(ref.data_id, state, by="poll", reason=f"test_{state.value.lower()}")
    before, writes = record(world, ref), world.store.writes

    reply = call(world, form(result(world, task_of(world, ref))))

    assert (reply.status, reply.body) == (200, {"ok": True, "applied": False})
    assert record(world, ref) == before and world.store.writes == writes
    assert world.tally[Outcome.CALLBACK_NOOP] == 1 and world.tally[Outcome.CALLBACK_APPLIED] == 0


def test_a_genuine_verdict_after_the_poller_gave_up_waiting_is_recorded(world: World) -> None:
    # Given the poller gave up on a version (the task it knew of expired; a rescan's task it never
    # recorded was still at Green)
    ref = submitted(world)
    assert world.store.finish(ref.data_id, State.ERROR, by="poll", reason="gave_up_after_3_scans_green_594")
    revision = record(world, ref).decision_rev

    reply = call(world, form(result(world, task_of(world, ref))))

    assert (reply.status, reply.body) == (200, {"ok": True, "applied": True})
    after = record(world, ref)
    assert (after.state, after.suggestion, after.reason) == (State.FINAL, "block", None)
    assert after.decision == "block" and after.decision_rev == revision + 1  # enforcement sees a new decision
    assert world.tally[Outcome.CALLBACK_APPLIED] == 1


def test_a_result_without_a_data_id_is_found_by_its_task(world: World) -> None:
    ref = submitted(world)
    task_id = task_of(world, ref)
    content = json.loads(result(world, task_id))
    del content["dataId"]

    assert call(world, form(json.dumps(content))).body == {"ok": True, "applied": True}
    assert record(world, ref).state is State.FINAL


# -- issue item 4: a genuine result is applied whichever of the record's tasks produced it --------------


def test_a_genuine_result_for_a_record_still_received_is_applied(world: World) -> None:
    # Given submit died after Green accepted the task (its answer was lost): the record is RECEIVED
    ref = world.objects.put(BUCKET, "early.png", PNG)
    world.green.accept_then_fail = [GreenTransientError("reset", maybe_accepted=True)]
    assert set(submit_batch([Deferred("m1", [ref])], submission=world.submission(), settings=world.submit_settings(),
                            budget=world.budget(), tally=Tally())) == {"m1"}
    assert record(world, ref).state is State.RECEIVED and record(world, ref).task_id is None

    reply = call(world, form(result(world, task_of(world, ref))))

    assert (reply.status, reply.body) == (200, {"ok": True, "applied": True})  # no more 409: Green need not retry
    after = record(world, ref)
    assert (after.state, after.source, after.task_id) == (State.FINAL, "callback", task_of(world, ref))
    assert after.lease_token is None and after.due_at is None
    assert world.tally[Outcome.CALLBACK_APPLIED] == 1


def test_a_genuine_result_from_an_older_task_of_the_record_is_applied(world: World) -> None:
    ref = submitted(world)
    old_task = task_of(world, ref)
    # Given the poller rescanned the version under a new task
    assert world.store.reserve_rescan(ref.data_id, task_id=old_task, max_attempts=3, due_at=world.clock())
    assert world.store.resubmitted(ref.data_id, task_id="img-rescan", due_at=world.clock() + 60, url_expires_at=None,
                                   reason="green_594", by="poll")

    reply = call(world, form(result(world, old_task)))

    assert reply.body == {"ok": True, "applied": True}
    after = record(world, ref)
    assert (after.state, after.suggestion, after.task_id) == (State.FINAL, "block", old_task)
    assert after.task_ids == {old_task, "img-rescan"}


# -- a genuine "could not download" or "expired" result makes the record due for the poller ---------------


@pytest.mark.parametrize(("code", "msg"), [(480, "DOWNLOAD_FAILED"), (594, "EXPIRED")])
def test_a_failed_task_makes_the_record_due_now_once_however_often_it_is_replayed(
        world: World, code: int, msg: str) -> None:
    ref = submitted(world)
    before = record(world, ref)
    assert (before.due_at or 0) > world.clock()
    body = form(result(world, task_of(world, ref), code=code, msg=msg, results=[]))
    writes = world.store.writes

    reply = call(world, body)

    assert (reply.status, reply.body) == (200, {"ok": True, "applied": False})
    after = record(world, ref)
    assert (after.state, after.task_id, after.attempts) == (State.PENDING, before.task_id, 1)
    assert after.due_at == world.clock() and after.last_code == code
    assert world.store.writes == writes + 1

    # Green retries it (or someone replays it) many times: the record is written once
    for _ in range(20):
        assert call(world, body).status == 200
    assert record(world, ref) == after and world.store.writes == writes + 1
    assert world.tally[Outcome.CALLBACK_NOOP] == 21


# -- issue item 11: content with a valid checksum that is not a task result --------------------------------

SCENE = {"scene": "porn", "label": "normal", "suggestion": "pass"}
NESTED = "[" * 50_000 + "]" * 50_000


def content_with(world: World, ref: ObjectRef, results: str, code: str = "200") -> str:
    return (f'{{"code": {code}, "msg": "OK", "dataId": "{ref.data_id}", "taskId": "{task_of(world, ref)}", '
            f'"results": {results}}}')


@pytest.mark.parametrize(("code", "results"), [
    ("200", NESTED),  # deep enough to exhaust the parser
    ("200", f"[{NESTED}]"),
    ("200", '[{"scene": "porn", "rate": ' + NESTED + "}]"),
    ("1e400", "[]"),  # a code that overflows an integer
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": 1e400}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": NaN}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": Infinity}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": -Infinity}]'),
    ("NaN", "[]"),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": "NaN"}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": 100.01}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": -0.5}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": "high"}]'),
    ("200", '[{"scene": "porn", "label": "normal", "suggestion": "pass", "rate": [1]}]'),
    ("200", '{"scene": "porn"}'),  # results is not a list
    ("200", '["porn"]'),  # results is not a list of objects
    ('"two hundred"', "[]"),
    ("null", "[]"),
])
def test_malformed_content_with_a_valid_checksum_is_refused_and_changes_nothing(
        world: World, code: str, results: str) -> None:
    ref = submitted(world)
    before, writes = record(world, ref), world.store.writes
    body = form(content_with(world, ref, results, code))

    reply = call(world, body, max_bytes=len(body))

    assert (reply.status, reply.rejection) == (400, "malformed_content")
    assert record(world, ref) == before and world.store.writes == writes


@pytest.mark.parametrize("content", ["[]", '"a string"', "null", "42", "{}", NESTED])
def test_content_that_is_not_an_object_is_refused(world: World, content: str) -> None:
    body = form(content)

    reply = call(world, body, max_bytes=len(body))

    assert (reply.status, reply.rejection) == (400, "malformed_content")
    assert world.store.writes == 0


@pytest.mark.parametrize("rate", ["0", "100", "0.0", "99.99"])
def test_rates_at_the_edges_of_the_range_are_accepted(world: World, rate: str) -> None:
    ref = submitted(world)
    scene = json.dumps({**SCENE, "suggestion": "review"})[:-1] + f', "rate": {rate}}}'

    assert call(world, form(content_with(world, ref, f"[{scene}]"))).body == {"ok": True, "applied": True}
    assert record(world, ref).scenes["porn"]["rate"] == float(rate)
    assert world.tally[Outcome.VERDICT_REVIEW] == 1
