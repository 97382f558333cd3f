"""Content already judged, at submit: identical bytes are decided without paying Green again, and a
pass is only ever reused on a hash nobody can collide."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import ObjectInfo
from greenlight.domain.outcomes import Outcome
from greenlight.domain.policy import initial_policy_json, parse_policy
from greenlight.domain.record import KnownContent
from greenlight.domain.states import State
from greenlight.runtime.batching import Deferred
from greenlight.scanning.known import match
from submit_logic import submit_batch
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def submit(world: World, *refs: ObjectRef) -> None:
    assert submit_batch([Deferred(f"m{i}", [ref]) for i, ref in enumerate(refs)], submission=world.submission(),
                        settings=world.submit_settings(), budget=world.budget(), tally=world.tally) == {}


def etag_of(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()  # noqa: S324 - what S3 uses as a single-part ETag


def test_an_upload_identical_to_blocked_content_is_blocked_without_a_green_call(world: World) -> None:
    world.known.put(KnownContent(f"etag:{etag_of(PNG)}:{len(PNG)}", "block", "v-earlier", "default-1"))
    ref = world.objects.put(BUCKET, "again.png", PNG)

    submit(world, ref)

    record = world.store.get(ref.data_id)
    assert record is not None
    assert (record.state, record.source, record.decision) == (State.FINAL, "known_content", "block")
    assert record.reason == "identical to blocked v-earlier"
    assert world.green.requests == []
    assert world.tally[Outcome.KNOWN_CONTENT] == 1 and world.tally[Outcome.VERDICT_BLOCK] == 1


def test_blocking_identical_content_can_be_turned_off_by_the_policy(world: World) -> None:
    document = json.loads(initial_policy_json("enforce"))
    world.policy.policy = parse_policy({**document, "known_content": {"block_identical": False}})
    world.known.put(KnownContent(f"etag:{etag_of(PNG)}:{len(PNG)}", "block", "v-earlier"))
    ref = world.objects.put(BUCKET, "again.png", PNG)

    submit(world, ref)

    assert len(world.green.sent()) == 1


def test_a_matching_etag_never_reuses_a_pass() -> None:
    # Even an entry that claims a pass under an MD5/ETag key (which enforcement never writes) is ignored:
    # two different images can share an MD5 on purpose.
    policy = parse_policy({**json.loads(initial_policy_json("enforce")),
                           "known_content": {"pass_identical_sha256": True}})
    obj = ObjectRef("b", "k.png", etag="e" * 32, version_id="v1")
    info = ObjectInfo(size=10, content_type="image/png", image_format="png")
    entries = {f"etag:{'e' * 32}:10": KnownContent(f"etag:{'e' * 32}:10", "pass", "v-other")}

    assert match(obj, info, entries, policy) is None


def test_a_pass_is_reused_only_on_an_identical_sha256_when_the_policy_says_so(world: World) -> None:
    document = json.loads(initial_policy_json("enforce"))
    world.policy.policy = parse_policy({**document, "known_content": {"pass_identical_sha256": True}})
    digest = hashlib.sha256(PNG).hexdigest()
    scenes = {"porn": {"label": "normal", "suggestion": "pass", "rate": 99.0}}
    world.known.put(KnownContent(f"sha256:{digest}", "pass", "v-first", "default-1", scenes))
    same = world.objects.put(BUCKET, "same.png", PNG)
    other = world.objects.put(BUCKET, "other.png", PNG + b"different")

    submit(world, same, other)

    reused = world.store.get(same.data_id)
    assert reused is not None and (reused.state, reused.source, reused.decision) == (State.FINAL, "known_content",
                                                                                     "pass")
    assert reused.sha256 == digest and reused.scenes == scenes
    [request] = world.green.sent()
    assert [t.data_id for t in request.tasks] == [other.data_id]  # only the new bytes are scanned


def test_without_the_policy_nothing_is_read_whole_and_no_pass_is_reused(world: World) -> None:
    digest = hashlib.sha256(PNG).hexdigest()
    world.known.put(KnownContent(f"sha256:{digest}", "pass", "v-first"))
    ref = world.objects.put(BUCKET, "same.png", PNG)

    submit(world, ref)

    record = world.store.get(ref.data_id)
    assert record is not None and record.state is State.PENDING and record.sha256 is None
    assert len(world.green.sent()) == 1


def test_bytes_enforcement_put_back_keep_the_decision_a_person_made(world: World) -> None:
    etag = etag_of(PNG)
    world.known.put(KnownContent(f"restored:{BUCKET}/back.png:{etag}", "pass", "v-quarantined", "default-1"))
    ref = world.objects.put(BUCKET, "back.png", PNG)

    submit(world, ref)

    record = world.store.get(ref.data_id)
    assert record is not None and (record.decision, record.reason) == ("pass",
                                                                       "restored after a decision on v-quarantined")
    assert world.green.requests == []
    # the same bytes uploaded under another key are judged as usual
    elsewhere = world.objects.put(BUCKET, "elsewhere.png", PNG)
    submit(world, replace(elsewhere))
    assert len(world.green.sent()) == 1
