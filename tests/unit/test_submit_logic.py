"""Submit's decisions, on fakes: what is sent, recorded, acknowledged and retried.

Messages are built as S3 and EventBridge put them on the queue and read with the real parser
(`read_message`), so a case about keys or event shapes runs the same code as production; only the
bucket, the verdict table and Green are in-memory fakes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import submit_handler
from callback_logic import handle_callback
from fakes import InMemoryObjects
from greenlight.aws.s3_events import Ignored, parse_message
from greenlight.aws.secret import CallbackSecret
from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.states import State
from greenlight.green.checksum import callback_checksum
from greenlight.green.errors import GreenThrottled, GreenTransientError
from greenlight.green.wire import MAX_URL_LENGTH, SceneResult
from greenlight.runtime.batching import Deferred
from greenlight.scanning.dispatch import Sent
from greenlight.scanning.results import apply_result
from greenlight.scanning.submission import Prepared
from greenlight_local.context import LambdaContext
from submit_handler import SubmitDependencies
from submit_logic import announced, read_message, submit_batch
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\0" * 54
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 60
BLOCK = [SceneResult("porn", "porn", "block", 99.1)]


# -- helpers ----------------------------------------------------------------------------------------


def run(world: World, messages: Sequence[Deferred], *, budget: float = 30.0, **env: str) -> dict[str, Exception]:
    """One submit invocation's flush over `messages`, with `budget` seconds left."""
    return submit_batch(messages, submission=world.submission(**env), settings=world.submit_settings(**env),
                        budget=world.budget(budget), tally=world.tally)


def eventbridge_body(ref: ObjectRef, time: str = "2026-11-12T00:00:00Z") -> str:
    """What the stack's EventBridge rule puts on the queue for `ref` (key URL-encoded, as S3 sends it)."""
    obj: dict[str, Any] = {"key": quote_plus(ref.key, safe="/"), "size": ref.size, "etag": ref.etag,
                           "sequencer": ref.sequencer}
    if ref.versioned:
        obj["version-id"] = ref.version_id
    return json.dumps({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
        "source": "aws.s3", "account": "111122223333", "time": time, "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{ref.bucket}"],
        "detail": {"version": "0", "bucket": {"name": ref.bucket}, "object": obj, "request-id": "N4N7GDK58NMKJ12R",
                   "requester": "111122223333", "source-ip-address": "1.2.3.4", "reason": "PutObject"},
    })


def notification_body(ref: ObjectRef, time: str = "2026-11-12T00:00:00.123Z") -> str:
    """An S3 event notification for `ref` (what a bucket notification to SQS delivers)."""
    obj: dict[str, Any] = {"key": quote_plus(ref.key, safe="/"), "size": ref.size, "eTag": ref.etag,
                           "sequencer": ref.sequencer}
    if ref.versioned:
        obj["versionId"] = ref.version_id
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": time,
        "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": ref.bucket},
                                                 "object": obj}}]})


def read(world: World, message_id: str, body: str) -> Deferred:
    deferred = read_message(message_id, body, world.tally)
    assert deferred is not None, f"{message_id} was ignored"
    return deferred


def message(world: World, message_id: str, ref: ObjectRef) -> Deferred:
    """`ref` announced the way the stack's rule announces it, read by the real parser."""
    return read(world, message_id, eventbridge_body(ref))


def record_of(world: World, ref: ObjectRef) -> Any:
    record = world.store.get(ref.data_id)
    assert record is not None, f"no record for {ref.key}"
    return record


def task_ids_for(world: World, data_id: str) -> set[str]:
    return {task_id for task_id, task in world.green.tasks.items() if task.data_id == data_id}


# -- one batch, one request -------------------------------------------------------------------------


def test_images_go_in_one_request_and_become_pending(world: World) -> None:
    # Given three uploads announced by three messages
    refs = [world.objects.put(BUCKET, "a.png", PNG), world.objects.put(BUCKET, "dir/b c.jpg", JPEG, "image/jpeg"),
            world.objects.put(BUCKET, "ünï côde.png", PNG)]

    # When one invocation handles the batch
    failures = run(world, [message(world, f"m{i}", ref) for i, ref in enumerate(refs)])

    # Then nothing is retried, Green got one async request with the three tasks, and each is PENDING
    assert failures == {}
    [request] = world.green.sent()
    assert [t.data_id for t in request.tasks] == [r.data_id for r in refs]
    assert world.callback is not None
    assert (request.callback, request.seed) == (world.callback.url, world.callback.seed)
    assert request.scenes == ("porn", "terrorism")
    for ref in refs:
        record = record_of(world, ref)
        assert record.state is State.PENDING and record.attempts == 1
        assert record.task_id in record.task_ids and world.green.tasks[record.task_id].data_id == ref.data_id
        assert record.size == ref.size and record.content_type and record.url_expires_at
        assert [h["to"] for h in record.history] == ["RECEIVED", "PENDING"]
        assert record.lease_token is None and record.due_at == world.clock() + 60  # the poll grace
    assert world.tally[Outcome.SCAN_SUBMITTED] == 3 and world.tally[Outcome.SCAN_REQUEST] == 1


def test_more_than_100_images_take_two_requests(world: World) -> None:
    refs = [world.objects.put(BUCKET, f"bulk/{i:03d}.png", PNG) for i in range(130)]

    failures = run(world, [message(world, f"m{i}", ref) for i, ref in enumerate(refs)])

    assert failures == {}
    assert [len(r.tasks) for r in world.green.sent()] == [100, 30]
    assert {t.data_id for r in world.green.sent() for t in r.tasks} == {r.data_id for r in refs}
    assert all(record_of(world, ref).state is State.PENDING for ref in refs)
    assert world.tally[Outcome.SCAN_SUBMITTED] == 130


@pytest.mark.parametrize("max_frames", [None, "7"])
def test_every_task_asks_for_every_frame_of_a_gif(world: World, max_frames: str | None) -> None:
    # Given a GIF and a PNG, and GREEN_MAX_FRAMES left at its default or set
    if max_frames:
        world.env["GREEN_MAX_FRAMES"] = max_frames
    gif = world.objects.put(BUCKET, "anim.gif", GIF, "image/gif")
    png = world.objects.put(BUCKET, "still.png", PNG)

    assert run(world, [message(world, "m1", gif), message(world, "m2", png)]) == {}

    # Then every task carries interval=1 and maxFrames, on the wire too
    expected = int(max_frames or 100)
    [request] = world.green.sent()
    for task in request.tasks:
        assert (task.interval, task.max_frames) == (1, expected)
        assert task.to_wire()["interval"] == 1 and task.to_wire()["maxFrames"] == expected
    assert record_of(world, gif).image_format == "gif"


# -- what is not sent -------------------------------------------------------------------------------


def test_objects_green_cannot_take_are_skipped_with_a_reason_and_not_sent(world: World) -> None:
    refs = {
        "notes.txt": world.objects.put(BUCKET, "notes.txt", b"plain text", "text/plain"),
        "fake.jpg": world.objects.put(BUCKET, "fake.jpg", b"<html>not a jpeg</html>", "image/jpeg"),
        "empty.png": world.objects.put(BUCKET, "empty.png", b"", "image/png"),
        "folder/": world.objects.put(BUCKET, "folder/", b"", "application/x-directory"),
    }

    failures = run(world, [message(world, key, ref) for key, ref in refs.items()])

    assert failures == {}
    assert world.green.requests == []
    reasons = {key: (record_of(world, ref).state, record_of(world, ref).reason) for key, ref in refs.items()}
    assert reasons == {
        "notes.txt": (State.SKIPPED, "not_an_image"),
        "fake.jpg": (State.SKIPPED, "not_an_image"),
        "empty.png": (State.SKIPPED, "zero_bytes"),
        "folder/": (State.SKIPPED, "folder_marker"),
    }
    notes = record_of(world, refs["notes.txt"])
    assert (notes.size, notes.content_type, notes.source) == (10, "text/plain", "submit")
    assert world.tally[Outcome.SKIPPED] == 4


def test_the_content_decides_not_the_declared_type(world: World) -> None:
    # A real PNG uploaded as text/plain is an image: it is scanned
    ref = world.objects.put(BUCKET, "file.bin", PNG, "text/plain")

    assert run(world, [message(world, "m1", ref)]) == {}

    record = record_of(world, ref)
    assert (record.state, record.image_format, record.content_type) == (State.PENDING, "png", "text/plain")
    assert world.green.tasks_for(ref.data_id) == 1


def test_an_object_over_20_mb_is_skipped_without_reading_it(world: World) -> None:
    # The event's size alone decides: the object is never read, nor sent
    ref = replace(world.objects.put(BUCKET, "huge.png", PNG), size=20 * 1024 * 1024 + 1)

    assert run(world, [message(world, "m1", ref)]) == {}

    record = record_of(world, ref)
    assert (record.state, record.reason, record.size) == (State.SKIPPED, "too_large", 20 * 1024 * 1024 + 1)
    assert world.objects.reads == 0 and world.green.requests == []


def test_the_size_is_checked_from_the_object_when_the_event_has_none(world: World) -> None:
    ref = replace(world.objects.put(BUCKET, "big.png", PNG + b"\0" * 5000), size=None)

    assert run(world, [Deferred("m1", [ref])], MAX_OBJECT_BYTES="4096") == {}

    record = record_of(world, ref)
    assert (record.state, record.reason, record.size) == (State.SKIPPED, "too_large", len(PNG) + 5000)
    assert world.green.requests == []


def test_a_version_deleted_before_submit_is_skipped_as_missing(world: World) -> None:
    ref = world.objects.put(BUCKET, "gone.png", PNG)
    world.objects.delete(ref)

    assert run(world, [message(world, "m1", ref)]) == {}

    assert (record_of(world, ref).state, record_of(world, ref).reason) == (State.SKIPPED, "object_missing")
    assert world.green.requests == []


def test_a_url_over_2048_characters_is_skipped_and_one_of_2048_is_sent(world: World) -> None:
    # Given presigned URLs (padded as a session token pads them in Lambda) of 2048 and 2049 characters
    fits = world.objects.put(BUCKET, "long.png", PNG)
    world.objects.url_padding = MAX_URL_LENGTH - len(world.objects.presign(fits).url)
    too_long = world.objects.put(BUCKET, "longer.png", PNG)
    assert [len(world.objects.presign(r).url) for r in (fits, too_long)] == [MAX_URL_LENGTH, MAX_URL_LENGTH + 2]

    assert run(world, [message(world, "m1", fits), message(world, "m2", too_long)]) == {}

    # Then the 2048-character URL went to Green; the longer one is SKIPPED url_too_long, never sent
    assert record_of(world, fits).state is State.PENDING and world.green.tasks_for(fits.data_id) == 1
    record = record_of(world, too_long)
    assert (record.state, record.reason) == (State.SKIPPED, "url_too_long")
    assert record.image_format == "png"  # what the check found is kept with the reason
    assert world.green.tasks_for(too_long.data_id) == 0
    assert world.tally[Outcome.SKIPPED] == 1


# -- duplicates, order and versions -----------------------------------------------------------------


def test_a_duplicate_event_submits_nothing_new(world: World) -> None:
    ref = world.objects.put(BUCKET, "once.png", PNG)
    assert run(world, [message(world, "m1", ref)]) == {}
    before = record_of(world, ref)

    # S3 delivers the same event again (at-least-once)
    failures = run(world, [message(world, "m1", ref)])

    assert failures == {}
    assert world.green.tasks_for(ref.data_id) == 1
    after = record_of(world, ref)
    assert (after.rev, after.task_id, after.state) == (before.rev, before.task_id, State.PENDING)
    assert world.tally[Outcome.DUPLICATE_EVENT] == 1


def test_the_same_version_twice_in_one_batch_is_handled_once_and_both_messages_acknowledged(world: World) -> None:
    ref = world.objects.put(BUCKET, "twice.png", PNG)
    messages = [message(world, "m1", ref), message(world, "m2", ref)]

    failures = run(world, messages)

    assert failures == {}
    assert [len(r.tasks) for r in world.green.sent()] == [1]
    assert record_of(world, ref).state is State.PENDING and record_of(world, ref).attempts == 1
    assert announced(messages)[0].message_ids == ("m1", "m2")


def test_the_same_version_twice_in_one_batch_is_retried_with_both_messages(world: World) -> None:
    ref = world.objects.put(BUCKET, "twice.png", PNG)
    world.green.fail_next = [GreenThrottled("588", code=588)]

    failures = run(world, [message(world, "m1", ref), message(world, "m2", ref)])

    assert set(failures) == {"m1", "m2"}  # neither message may be acknowledged while the version is not sent
    assert [len(r.tasks) for r in world.green.sent()] == [1]
    assert world.tally[Outcome.MESSAGE_RETRIED] == 2


@pytest.mark.parametrize("versioned", [True, False])
@pytest.mark.parametrize("order", ["eventbridge first", "notification first", "one batch"])
def test_one_write_announced_as_a_notification_and_an_eventbridge_event_never_supersedes_itself(
        world: World, versioned: bool, order: str) -> None:
    # Given one write, announced by EventBridge (time to the second) and by an S3 notification
    # (time to the millisecond): same sequencer, different event times
    world.objects = InMemoryObjects(world.clock, versioned=versioned)
    ref = world.objects.put(BUCKET, "photos/red flower+1.jpg", JPEG, "image/jpeg")
    bridge = read(world, "eb", eventbridge_body(ref, time="2026-11-12T00:00:00Z"))
    note = read(world, "s3", notification_body(ref, time="2026-11-12T00:00:00.987Z"))
    [from_bridge], [from_note] = bridge.payload, note.payload
    assert from_bridge.event_time != from_note.event_time and from_bridge.data_id == from_note.data_id

    # When both are handled
    if order == "one batch":
        assert run(world, [bridge, note]) == {}
    else:
        first, second = (bridge, note) if order == "eventbridge first" else (note, bridge)
        assert run(world, [first]) == {}
        assert run(world, [second]) == {}

    # Then there is one record, PENDING, with one task: the write did not supersede itself
    assert list(world.store.records) == [ref.data_id]
    assert record_of(world, ref).state is State.PENDING
    assert world.green.tasks_for(ref.data_id) == 1
    assert world.tally[Outcome.SUPERSEDED] == 0


def test_a_newer_version_supersedes_the_pending_older_one(world: World) -> None:
    first = world.objects.put(BUCKET, "same.png", PNG)
    assert run(world, [message(world, "m1", first)]) == {}
    second = world.objects.put(BUCKET, "same.png", PNG + b"new")

    assert run(world, [message(world, "m2", second)]) == {}

    older, newer = record_of(world, first), record_of(world, second)
    assert (older.state, older.reason) == (State.SUPERSEDED, "newer_version_uploaded")
    assert newer.state is State.PENDING and world.green.tasks_for(second.data_id) == 1
    assert world.tally[Outcome.SUPERSEDED] == 1


def test_an_older_event_arriving_late_is_recorded_superseded_and_not_sent(world: World) -> None:
    older = world.objects.put(BUCKET, "order.png", PNG)
    newer = world.objects.put(BUCKET, "order.png", PNG + b"new")

    # The newer event is handled first, the older one after it
    assert run(world, [message(world, "m2", newer)]) == {}
    assert run(world, [message(world, "m1", older)]) == {}

    late = record_of(world, older)
    assert (late.state, late.reason) == (State.SUPERSEDED, "newer_version_seen")
    assert record_of(world, newer).state is State.PENDING
    assert [t.data_id for r in world.green.sent() for t in r.tasks] == [newer.data_id]


def test_in_an_unversioned_bucket_bytes_uploaded_again_get_a_scan_of_their_own(world: World) -> None:
    # Given an unversioned bucket: BAD is uploaded and submitted...
    world.objects = InMemoryObjects(world.clock, versioned=False)
    bad = b"\x89PNG\r\n\x1a\n" + b"BAD" * 20
    benign = b"\x89PNG\r\n\x1a\n" + b"BENIGN" * 10
    first = world.objects.put(BUCKET, "avatar.png", bad)
    assert run(world, [message(world, "m1", first)]) == {}
    # ...overwritten with BENIGN before Green fetched it (the first task may judge BENIGN's bytes)...
    second = world.objects.put(BUCKET, "avatar.png", benign)
    assert run(world, [message(world, "m2", second)]) == {}
    # ...and BAD is uploaded again: same bytes, same ETag, a later write
    third = world.objects.put(BUCKET, "avatar.png", bad)
    assert third.etag == first.etag

    assert run(world, [message(world, "m3", third)]) == {}

    # Then three records; the first two SUPERSEDED, the live BAD one scanned by a task of its own
    assert len({first.data_id, second.data_id, third.data_id}) == 3
    assert [record_of(world, r).state for r in (first, second, third)] == [State.SUPERSEDED, State.SUPERSEDED,
                                                                          State.PENDING]
    live = record_of(world, third)
    assert task_ids_for(world, third.data_id) == {live.task_id}
    assert live.task_id not in record_of(world, first).task_ids
    assert world.tally[Outcome.DUPLICATE_EVENT] == 0


# -- keys the stack moderates -----------------------------------------------------------------------


def test_key_prefix_and_suffix_match_the_decoded_key(world: World) -> None:
    # Given KEY_PREFIX and KEY_SUFFIX with a space and accents; S3 sends keys URL-encoded
    world.env.update(KEY_PREFIX="photos à trier/", KEY_SUFFIX=" été.png")
    wanted = world.objects.put(BUCKET, "photos à trier/plage été.png", PNG)
    others = [world.objects.put(BUCKET, "photos/plage été.png", PNG),
              world.objects.put(BUCKET, "photos à trier/plage.png", PNG),
              world.objects.put(BUCKET, "photos+%C3%A0+trier/plage+%C3%A9t%C3%A9.png", PNG)]
    assert "photos+%C3%A0+trier/" in eventbridge_body(wanted)  # the raw key the message carries

    failures = run(world, [message(world, "w", wanted)] + [message(world, f"o{i}", r) for i, r in enumerate(others)])

    # Then the decoded key matches and is scanned; the others are acknowledged and left alone
    assert failures == {}
    assert record_of(world, wanted).state is State.PENDING
    assert [world.store.get(r.data_id) for r in others] == [None, None, None]
    assert [t.data_id for r in world.green.sent() for t in r.tasks] == [wanted.data_id]
    assert world.tally[Outcome.MESSAGE_IGNORED] == 3


def test_a_bucket_the_stack_does_not_moderate_is_acknowledged_and_not_recorded(world: World) -> None:
    ref = world.objects.put("someone-elses", "a.png", PNG)

    assert run(world, [message(world, "m1", ref)]) == {}

    assert world.store.records == {} and world.green.requests == []
    assert world.tally[Outcome.MESSAGE_IGNORED] == 1


# -- failures and retries ---------------------------------------------------------------------------


def test_throttling_retries_only_the_scannable_message_and_gives_the_attempt_back(world: World) -> None:
    image = world.objects.put(BUCKET, "ok.png", PNG)
    text = world.objects.put(BUCKET, "text.txt", b"words", "text/plain")
    world.green.fail_next = [GreenThrottled("588", code=588)]

    failures = run(world, [message(world, "m-image", image), message(world, "m-text", text)])

    # The image's message comes back; the text file is final and acknowledged
    assert set(failures) == {"m-image"}
    assert record_of(world, text).state is State.SKIPPED
    record = record_of(world, image)
    assert record.state is State.RECEIVED
    assert record.attempts == 0 and record.lease_until == 0  # nothing reached Green; claimable at once
    assert world.tally[Outcome.GREEN_THROTTLED] == 1 and world.tally[Outcome.MESSAGE_RETRIED] == 1

    # When Green recovers, the redelivered message gets the image scanned
    assert run(world, [message(world, "m-image", image)]) == {}
    assert (record_of(world, image).state, record_of(world, image).attempts) == (State.PENDING, 1)
    assert world.green.tasks_for(image.data_id) == 1


def test_a_task_green_refuses_retries_only_its_message(world: World) -> None:
    # Given Green refuses one image of the request for now (per-task 588), and accepts the other
    refused = world.objects.put(BUCKET, "refused.png", PNG)
    accepted = world.objects.put(BUCKET, "accepted.png", PNG)
    world.green.refuse[refused.data_id] = (588, "throttled for this image")

    failures = run(world, [message(world, "m-refused", refused), message(world, "m-accepted", accepted)])

    # Then only the refused image's message comes back, with its attempt given back and its lease released
    assert set(failures) == {"m-refused"}
    record = record_of(world, refused)
    assert (record.state, record.attempts, record.lease_until) == (State.RECEIVED, 0, 0)
    assert record_of(world, accepted).state is State.PENDING
    assert world.tally[Outcome.GREEN_REFUSED_TASK] == 1


def test_no_time_left_leaves_every_message_for_redelivery_untouched(world: World) -> None:
    ref = world.objects.put(BUCKET, "late.png", PNG)

    # Less time left than the reserves for sending and recording (2 x TIME_RESERVE_SECONDS)
    failures = run(world, [message(world, "m1", ref)], budget=2.0)

    assert set(failures) == {"m1"}
    assert world.store.records == {} and world.store.writes == 0
    assert world.objects.reads == 0 and world.green.requests == []


def test_an_object_another_invocation_holds_comes_back_later(world: World) -> None:
    # Given another invocation holds the claim (its lease is live) on the version
    ref = world.objects.put(BUCKET, "busy.png", PNG)
    assert world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit").claimed

    failures = run(world, [message(world, "m1", ref)])

    # Then the message is not acknowledged as a duplicate: if the other invocation fails, this one
    # must still be there to take over once the lease runs out
    assert set(failures) == {"m1"}
    assert world.tally[Outcome.LEASE_BUSY] == 1
    assert (record_of(world, ref).state, record_of(world, ref).attempts) == (State.RECEIVED, 1)
    assert world.green.requests == []

    # When the holder died and its lease ran out, the redelivery takes over and sends it
    world.clock.advance(91)
    assert run(world, [message(world, "m1", ref)]) == {}
    assert (record_of(world, ref).state, record_of(world, ref).attempts) == (State.PENDING, 2)
    assert world.tally[Outcome.LEASE_TAKEOVER] == 1


def test_a_record_out_of_attempts_gives_up_on_redelivery(world: World) -> None:
    # Given every request's answer is lost after Green accepted it (each may have created a task)
    ref = world.objects.put(BUCKET, "unlucky.png", PNG)
    world.green.accept_then_fail = [GreenTransientError("reset", maybe_accepted=True) for _ in range(3)]
    for _ in range(3):
        assert set(run(world, [message(world, "m1", ref)])) == {"m1"}
    assert (record_of(world, ref).state, record_of(world, ref).attempts) == (State.RECEIVED, 3)

    # When the message comes back once more (MAX_SCAN_ATTEMPTS=3 used, lease released)
    failures = run(world, [message(world, "m1", ref)])

    # Then the record is an ERROR with the reason, the message is acknowledged and Green not paid again
    assert failures == {}
    record = record_of(world, ref)
    assert (record.state, record.reason) == (State.ERROR, "gave_up_after_3_scans")
    assert world.green.tasks_for(ref.data_id) == 3 and len(world.green.sent()) == 3
    assert world.tally[Outcome.ERRORED] == 1


# -- Green accepted, the invocation did not record it ("do not pay Green twice") ---------------------


def test_an_answer_lost_after_green_accepted_keeps_the_attempt_and_a_result_finishes_the_record(
        world: World) -> None:
    # Given Green accepted the task but its answer was lost on the way back
    ref = world.objects.put(BUCKET, "lost.png", PNG)
    world.green.accept_then_fail = [GreenTransientError("reset", maybe_accepted=True)]

    failures = run(world, [message(world, "m1", ref)])

    assert set(failures) == {"m1"}
    record = record_of(world, ref)
    assert (record.state, record.attempts, record.task_id) == (State.RECEIVED, 1, None)
    assert world.green.tasks_for(ref.data_id) == 1

    # When the genuine result for that task is applied by its dataId (the callback, or the poller)
    [task_id] = task_ids_for(world, ref.data_id)
    result = world.green.result_for(task_id, world.green.tasks[task_id])
    applied = apply_result(world.store, world.policy, result, record_id=ref.data_id, by="callback")

    # Then the record is final, and the message's redelivery finds it so and sends nothing
    assert applied.changed and record_of(world, ref).state is State.FINAL
    assert run(world, [message(world, "m1", ref)]) == {}
    assert world.green.tasks_for(ref.data_id) == 1
    assert world.tally[Outcome.DUPLICATE_EVENT] == 1


def test_a_sender_that_died_after_green_accepted_is_finished_by_the_callback_and_not_sent_again(
        world: World) -> None:
    # Given an invocation that claimed and sent the version, then died before recording PENDING
    ref = world.objects.put(BUCKET, "orphan.png", PNG)
    world.green.verdicts[ref.data_id] = BLOCK
    submission = world.submission()
    prepared = submission.prepare(ref, Tally())
    assert isinstance(prepared, Prepared)
    [answer] = submission.dispatcher.send([prepared.task], budget=world.budget(), tally=Tally()).values()
    assert isinstance(answer, Sent)
    assert (record_of(world, ref).state, record_of(world, ref).attempts) == (State.RECEIVED, 1)

    # When Green's callback for that task arrives (a genuine checksum)
    secret = CallbackSecret(uid="1234567890", seed="s33dForUnitTests_1", callback_token="t" * 40)
    content = json.dumps(world.green.result_for(answer.task_id, prepared.task).to_wire())
    body = urlencode({"checksum": callback_checksum(secret.uid, secret.seed, content), "content": content})
    reply = handle_callback(token="t" * 40, content_type="application/x-www-form-urlencoded", body=body.encode(),
                            secret=secret, store=world.store, policy=world.policy, max_bytes=256 * 1024, tally=Tally(),
                            clock=world.clock)

    # Then the RECEIVED record takes the verdict...
    assert (reply.status, reply.body.get("applied")) == (200, True)
    record = record_of(world, ref)
    assert (record.state, record.suggestion, record.source) == (State.FINAL, "block", "callback")

    # ...and the message, redelivered once its visibility timeout (and the lease) ran out, sends nothing
    world.clock.advance(120)
    assert run(world, [message(world, "m1", ref)]) == {}
    assert world.green.tasks_for(ref.data_id) == 1 and len(world.green.sent()) == 1


# -- sync mode --------------------------------------------------------------------------------------


def test_sync_mode_records_the_verdict_at_once(world: World) -> None:
    ref = world.objects.put(BUCKET, "now.png", PNG)
    world.green.verdicts[ref.data_id] = BLOCK

    assert run(world, [message(world, "m1", ref)], SCAN_MODE="sync") == {}

    record = record_of(world, ref)
    assert (record.state, record.suggestion, record.source) == (State.FINAL, "block", "sync")
    assert record.scenes["porn"] == {"label": "porn", "suggestion": "block", "rate": 99.1}
    assert [len(r.tasks) for r in world.green.sent("ImageSyncScan")] == [1] and world.green.sent() == []
    assert world.tally[Outcome.VERDICT_BLOCK] == 1


def test_sync_mode_skips_what_green_cannot_decode(world: World) -> None:
    # Starts like a GIF, is not one: Green answers 590 for the task, the record is SKIPPED with it
    ref = world.objects.put(BUCKET, "broken.gif", b"GIF89a" + b"\0" * 40, "image/gif")
    world.green.refuse[ref.data_id] = (590, "bad format")

    assert run(world, [message(world, "m1", ref)], SCAN_MODE="sync") == {}

    assert (record_of(world, ref).state, record_of(world, ref).reason) == (State.SKIPPED, "green_590_bad_format")


# -- the handler, with fakes injected ---------------------------------------------------------------


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {"messageId": message_id, "receiptHandle": f"r-{message_id}", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:scan", "awsRegion": "us-east-1"}


@pytest.fixture
def handler(world: World) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """submit_handler.lambda_handler on the world's fakes."""
    submit_handler.dependencies.override(SubmitDependencies(world.submit_settings(), world.submission()))

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = submit_handler.lambda_handler(event, LambdaContext("submit", 30))
        return response

    yield invoke
    submit_handler.dependencies.override(None)


def test_garbage_among_good_messages_does_not_poison_the_batch(
        world: World, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    good = world.objects.put(BUCKET, "good.png", PNG)
    garbage = ["", "null", "{]", json.dumps({"Records": "nope"}),
               json.dumps({"detail-type": "Object Created", "source": "aws.s3"}),
               json.dumps({"Type": "Notification", "Message": "{]"})]
    event = {"Records": [sqs_record("good", eventbridge_body(good))]
             + [sqs_record(f"garbage-{i}", body) for i, body in enumerate(garbage)]}

    response = handler(event)

    assert response == {"batchItemFailures": []}
    assert list(world.store.records) == [good.data_id] and record_of(world, good).state is State.PENDING
    assert world.green.tasks_for(good.data_id) == 1


@pytest.mark.parametrize("versioned", [True, False])
@pytest.mark.parametrize("sequencer", [5, ["0A1B"], "not-hex!"])
def test_a_malformed_sequencer_is_acknowledged_and_does_not_poison_the_batch(
        world: World, handler: Callable[[dict[str, Any]], dict[str, Any]], versioned: bool, sequencer: Any) -> None:
    # Given a good message and one whose sequencer is not S3's hex string (parse_message: never an exception)
    world.objects.versioned = versioned
    good = world.objects.put(BUCKET, "good.png", PNG)
    bad = json.loads(eventbridge_body(world.objects.put(BUCKET, "bad.png", PNG)))
    bad["detail"]["object"]["sequencer"] = sequencer

    response = handler({"Records": [sqs_record("good", eventbridge_body(good)),
                                    sqs_record("bad", json.dumps(bad))]})

    # Then the malformed one is acknowledged and left alone (it can never succeed); the good one is scanned
    assert response == {"batchItemFailures": []}
    assert list(world.store.records) == [good.data_id]
    assert record_of(world, good).state is State.PENDING


def test_a_message_to_retry_comes_back_as_a_batch_item_failure(
        world: World, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    ref = world.objects.put(BUCKET, "busy.png", PNG)
    world.green.fail_next = [GreenThrottled("588", code=588)]

    response = handler({"Records": [sqs_record("m1", eventbridge_body(ref))]})

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def s3ish_bodies(draw: st.DrawFn, bucket: str) -> str:
    """Bodies that look more or less like what S3, EventBridge or SNS put on the queue."""
    key = draw(st.text(min_size=0, max_size=60))
    kind = draw(st.sampled_from(["eventbridge", "notification", "sns", "json", "text"]))
    if kind == "eventbridge":
        obj = draw(st.dictionaries(st.sampled_from(["key", "size", "etag", "eTag", "version-id", "sequencer"]),
                                   json_values, max_size=6))
        obj.setdefault("key", key)
        body: Any = {"detail-type": draw(st.sampled_from(["Object Created", "Object Deleted", "x"])),
                     "source": draw(st.sampled_from(["aws.s3", "aws.ec2"])), "time": draw(json_values),
                     "detail": {"bucket": {"name": draw(st.sampled_from([bucket, "other"]))}, "object": obj}}
    elif kind == "notification":
        body = {"Records": [{"eventSource": "aws:s3", "eventName": draw(st.sampled_from(
            ["ObjectCreated:Put", "ObjectRemoved:Delete", ""])), "eventTime": draw(json_values),
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": draw(json_values)}}}]}
    elif kind == "sns":
        body = {"Type": "Notification", "Message": draw(st.text(max_size=80))}
    elif kind == "json":
        body = draw(json_values)
    else:
        return draw(st.text(max_size=200))
    return json.dumps(body)


@PROPERTIES
@given(data=st.data())
def test_submit_never_raises_on_random_messages(data: st.DataObject, world: World,
                                                handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    bodies = data.draw(st.lists(s3ish_bodies(BUCKET), min_size=1, max_size=5))
    event = {"Records": [sqs_record(f"m-{i}", body) for i, body in enumerate(bodies)]}

    response = handler(event)

    # Only messages that announced something can come back; a message the parser ignores never does
    assert set(response) == {"batchItemFailures"}
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    announcing = {f"m-{i}" for i, body in enumerate(bodies) if not isinstance(parse_message(body), Ignored)}
    assert failed <= announcing


@PROPERTIES
@given(event=st.dictionaries(st.sampled_from(["Records", "detail-type", "source", "body", "x"]), json_values,
                             max_size=3))
def test_submit_accepts_any_direct_invocation_payload(event: dict[str, Any],
                                                      handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    response = handler(event)

    assert set(response) == {"batchItemFailures"}
    assert all(set(f) == {"itemIdentifier"} for f in response["batchItemFailures"])
