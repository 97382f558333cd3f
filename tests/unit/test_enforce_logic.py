"""Acting on decisions, on fakes: what enforcement does to the exact version, once, reversibly, and
what it announces."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

import enforce_handler
from enforce_logic import Enforcer, Work, plan, work_from_message, work_from_stream
from fakes.known_content import InMemoryKnownContent
from fakes.object_actions import InMemoryObjectActions
from fakes.objects import StoredObject
from fakes.reviews import InMemoryReviews
from fakes.verdict_events import RecordingVerdictEvents
from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.policy import initial_policy_json, parse_policy
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.errors import GreenThrottled
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.review.overrides import OverrideRequest, apply_override
from greenlight.runtime.config import EnforceSettings
from greenlight.scanning.results import apply_result, settle
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
QUARANTINE = "quarantine-bucket"
ENV = {"TABLE_NAME": "verdicts", "POLICY_PARAMETER": "/p", "QUARANTINE_BUCKET": QUARANTINE,
       "ENFORCEMENT_RETRY_QUEUE_URL": "https://sqs.example/retry"}
BLOCK = [SceneResult("porn", "porn", "block", 99.0)]
PASS = [SceneResult("porn", "normal", "pass", 99.0)]


class Retries:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []

    def later(self, message: Any, delay_seconds: int) -> None:
        self.sent.append((dict(message), delay_seconds))


class Bench:
    """The world's fakes, plus what enforcement acts through."""

    def __init__(self, world: World, **env: str) -> None:
        self.world = world
        self.actions = InMemoryObjectActions(world.objects)
        self.events = RecordingVerdictEvents()
        self.known: InMemoryKnownContent = world.known
        self.settings = EnforceSettings.from_env({**ENV, **env})
        self.enforcer = Enforcer(store=world.store, actions=self.actions, events=self.events, known=self.known,
                                 settings=self.settings, block_identical=lambda: True,
                                 pass_identical_sha256=lambda: False, clock=world.clock)

    def judged(self, key: str, scenes: list[SceneResult], body: bytes = PNG, *, mode: str = "enforce") -> VerdictRecord:
        """An upload claimed, sent, and finished with `scenes`, decided by the world's policy in `mode`."""
        world = self.world
        world.policy.policy = replace(world.policy.policy, mode=mode)
        ref = world.objects.put(BUCKET, key, body)
        claim = world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        world.store.mark_pending(ref.data_id, lease_token=claim.lease_token, task_id=f"t-{key}", due_at=0,
                                 url_expires_at=None, details={"size": len(body)}, by="submit")
        result = TaskResult(code=200, msg="OK", task_id=f"t-{key}", data_id=ref.data_id, results=tuple(scenes))
        assert apply_result(world.store, world.policy, result, record_id=ref.data_id, by="callback").changed
        return self.record(ref)

    def record(self, ref: ObjectRef | VerdictRecord) -> VerdictRecord:
        record = self.world.store.get(ref.data_id if isinstance(ref, ObjectRef) else ref.id)
        assert record is not None
        return record

    def enforce(self, record: VerdictRecord) -> VerdictRecord:
        self.enforcer.enforce(Work(record.id, record.decision_rev), self.world.tally)
        return self.record(record)

    def redecide(self, record: VerdictRecord, decision: str) -> VerdictRecord:
        """A later decision on the record (what an override does), as the store would write it."""
        store = self.world.store
        store.records[record.id] = replace(store.records[record.id], decision=decision,
                                           decision_rev=record.decision_rev + 1)
        return self.record(record)

    def tags(self, ref: ObjectRef) -> dict[str, str]:
        found = self.world.objects.find(ref)
        assert isinstance(found, StoredObject)
        return dict(found.tags)


@pytest.fixture
def bench(world: World) -> Bench:
    return Bench(world)


def test_a_pass_is_tagged_on_its_version_and_announced_once(bench: Bench) -> None:
    record = bench.judged("ok.png", PASS)

    after = bench.enforce(record)
    bench.enforce(after)  # a redelivered stream record changes nothing

    assert bench.tags(record.object_ref()) == {"greenlight-decision": "pass", "greenlight-policy": "default-1"}
    [event] = bench.events.details
    assert (event["record_id"], event["decision"], event["enforced"], event["decision_rev"]) == (record.id, "pass",
                                                                                                 True, 1)
    assert after.enforcement["decision_rev"] == 1 and after.enforcement["actions"] == ["tagged pass"]
    assert [e["action"] for e in after.history if "action" in e] == ["tagged pass", "event published"]
    assert bench.world.tally[Outcome.ENFORCED] == 1


def test_a_block_is_quarantined_so_its_key_no_longer_serves_it(bench: Bench) -> None:
    record = bench.judged("bad.png", BLOCK)

    after = bench.enforce(record)

    assert bench.world.objects.current(BUCKET, "bad.png") is None
    copy = bench.world.objects.current(QUARANTINE, f"quarantine/{BUCKET}/bad.png/{record.id}")
    assert copy is not None and copy.tags["greenlight-decision"] == "block" and copy.body == PNG
    assert after.quarantine["bucket"] == QUARANTINE
    assert after.enforcement["actions"][-1].startswith("quarantined to s3://")


def test_a_later_approval_puts_a_quarantined_version_back_and_retags_it(bench: Bench) -> None:
    blocked = bench.enforce(bench.judged("fp.png", BLOCK))

    approved = bench.enforce(bench.redecide(blocked, "pass"))

    back = bench.world.objects.current(BUCKET, "fp.png")
    assert back is not None and back.body == PNG and back.tags["greenlight-decision"] == "pass"
    assert approved.quarantine == {}
    assert bench.world.objects.current(QUARANTINE, f"quarantine/{BUCKET}/fp.png/{blocked.id}") is None
    assert [e["decision"] for e in bench.events.details] == ["block", "pass"]
    assert bench.events.details[1]["previous_decision"] == "block"
    # the restored write's own S3 event will find its decision made (no new scan, no new block)
    assert f"restored:{BUCKET}/fp.png:{blocked.etag}" in bench.known.entries
    # and identical uploads are no longer blocked
    assert not any(key.startswith("etag:") for key in bench.known.entries)


def test_shadow_mode_decides_records_and_announces_but_changes_nothing(bench: Bench) -> None:
    record = bench.judged("bad.png", BLOCK, mode="shadow")

    after = bench.enforce(record)

    stored = bench.world.objects.current(BUCKET, "bad.png")
    assert stored is not None and stored.tags == {}
    assert bench.actions.calls == []
    assert after.enforcement["actions"] == ["would tag block", "would quarantine"]
    [event] = bench.events.details
    assert (event["decision"], event["enforced"], event["mode"]) == ("block", False, "shadow")
    assert bench.world.tally[Outcome.SHADOW_DECIDED] == 1


def test_a_version_overwritten_between_verdict_and_action_is_the_only_one_touched(bench: Bench) -> None:
    record = bench.judged("same.png", BLOCK)
    newer = bench.world.objects.put(BUCKET, "same.png", PNG + b"newer")  # a new version at the key

    bench.enforce(record)

    # The judged version left the key for quarantine; the newer version is untouched, and still served.
    current = bench.world.objects.current(BUCKET, "same.png")
    assert current is not None and current.version_id == newer.version_id and current.tags == {}


def test_an_unversioned_object_overwritten_since_its_verdict_is_left_alone(world: World) -> None:
    world.objects.versioned = False
    bench = Bench(world)
    record = bench.judged("plain.png", BLOCK)
    world.objects.put(BUCKET, "plain.png", PNG + b"someone else's")

    after = bench.enforce(record)

    current = world.objects.current(BUCKET, "plain.png")
    assert current is not None and current.body == PNG + b"someone else's" and current.tags == {}
    assert after.enforcement["actions"] == ["skipped: the version judged is no longer there"]


def test_a_failed_action_raises_for_a_retry_and_the_retry_finishes_the_job(bench: Bench) -> None:
    record = bench.judged("flaky.png", BLOCK)
    bench.actions.failures = [RuntimeError("S3 was unavailable")]

    with pytest.raises(RuntimeError):
        bench.enforce(record)
    assert bench.events.details == []  # nothing announced before it is done

    after = bench.enforce(record)
    assert bench.world.objects.current(BUCKET, "flaky.png") is None
    assert len(bench.events.details) == 1 and after.enforcement["decision_rev"] == record.decision_rev


def test_a_stale_decision_is_not_enforced(bench: Bench) -> None:
    record = bench.judged("twice.png", BLOCK)
    bench.redecide(record, "pass")

    bench.enforcer.enforce(Work(record.id, record.decision_rev), bench.world.tally)  # the old one

    assert bench.events.details == [] and bench.world.tally[Outcome.ENFORCEMENT_STALE] == 1


def test_delete_happens_only_when_chosen(world: World) -> None:
    bench = Bench(world, BLOCK_ACTION="delete")
    record = bench.judged("gone.png", BLOCK)

    bench.enforce(record)

    assert world.objects.current(BUCKET, "gone.png") is None
    assert world.objects.current(QUARANTINE, f"quarantine/{BUCKET}/gone.png/{record.id}") is None


def test_unscanned_objects_are_enforced_by_their_fail_mode(bench: Bench) -> None:
    world = bench.world
    world.policy.policy = parse_policy(json.dumps({**json.loads(initial_policy_json("enforce")), "unscanned": {
        "skipped": "block", "error": "review", "superseded": "pass"}}))
    ref = world.objects.put(BUCKET, "notes.txt", b"text")
    world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
    settle(world.store, world.policy, ref.data_id, State.SKIPPED, by="submit", reason="not_an_image")

    after = bench.enforce(bench.record(ref))

    assert (after.decision, after.decision_reasons) == ("block", ("skipped not_an_image: block",))
    assert world.objects.current(BUCKET, "notes.txt") is None


def test_blocked_content_is_remembered_by_etag_and_size_never_as_a_pass(bench: Bench) -> None:
    blocked = bench.enforce(bench.judged("bad.png", BLOCK))
    passed = bench.enforce(bench.judged("ok.png", PASS, body=PNG + b"fine"))

    assert bench.known.entries[f"etag:{blocked.etag}:{blocked.size}"].decision == "block"
    assert not any(entry.decision == "pass" for entry in bench.known.entries.values())
    assert passed.sha256 is None  # no hashing: no pass can ever be reused


def test_the_plan_for_each_decision(bench: Bench) -> None:
    settings = bench.settings
    base = VerdictRecord(id="v-1", bucket=BUCKET, key="k", state=State.FINAL, etag="e", size=3, decision="block",
                         policy_version="p1", decision_rev=1)
    assert plan(base, settings, block_identical=True, pass_identical_sha256=False).steps() == ["tag block",
                                                                                                "quarantine"]
    quarantined = replace(base, quarantine={"bucket": QUARANTINE, "key": "q"})
    assert plan(quarantined, settings, block_identical=True, pass_identical_sha256=False).steps() == []
    assert plan(replace(quarantined, decision="review"), settings, block_identical=True,
                pass_identical_sha256=False).steps() == ["tag review", "restore"]
    untagged = EnforceSettings.from_env({**ENV, "TAG_OBJECTS": "false", "BLOCK_ACTION": "none"})
    assert plan(base, untagged, block_identical=False, pass_identical_sha256=False).steps() == []


def test_the_event_detail_follows_the_schema(bench: Bench) -> None:
    record = bench.judged("schema.png", BLOCK)
    bench.enforce(record)

    [event] = bench.events.details
    assert set(event) == {"schema", "record_id", "decision_rev", "bucket", "key", "version_id", "etag", "state",
                          "decision", "previous_decision", "policy_version", "mode", "enforced", "reasons", "scenes",
                          "reason", "source", "actions", "decided_at"}
    assert event["schema"] == "greenlight.verdict/1" and event["version_id"] == record.version_id
    assert event["reasons"] == ["porn/porn: Green suggests block (scene not in policy)"]
    json.dumps(event)  # serialisable as it is


def test_stream_records_bring_work_only_when_the_decision_changed() -> None:
    def change(new_rev: int | None, old_rev: int | None, record_id: str = "v-1") -> dict[str, Any]:
        image = {"id": {"S": record_id}}
        new = {**image, **({"decision_rev": {"N": str(new_rev)}} if new_rev is not None else {})}
        old = {**image, **({"decision_rev": {"N": str(old_rev)}} if old_rev is not None else {})}
        return {"eventSource": "aws:dynamodb", "dynamodb": {"NewImage": new, "OldImage": old}}

    assert work_from_stream(change(1, None)) == Work("v-1", 1)
    assert work_from_stream(change(2, 1)) == Work("v-1", 2)
    assert work_from_stream(change(1, 1)) is None  # what enforcement itself wrote
    assert work_from_stream(change(1, None, "k-1")) is None  # a head record
    assert work_from_message(json.dumps({"record_id": "v-1", "decision_rev": 3})) == Work("v-1", 3)
    assert work_from_message("not json") is None


def test_the_handler_retries_a_failure_through_its_queue_without_failing_the_stream(
        bench: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    record = bench.judged("later.png", BLOCK)
    bench.actions.failures = [RuntimeError("S3 was unavailable")]
    retries = Retries()
    enforce_handler.dependencies.override(enforce_handler.EnforceDependencies(
        bench.settings, bench.enforcer, retries, bench.world.policy))
    stream_record = {"eventSource": "aws:dynamodb", "dynamodb": {
        "SequenceNumber": "100", "NewImage": {"id": {"S": record.id}, "decision_rev": {"N": "1"}}}}
    try:
        from greenlight_local.context import LambdaContext

        response = enforce_handler.lambda_handler({"Records": [stream_record]}, LambdaContext("enforce", 30))
        assert response == {"batchItemFailures": []}
        assert retries.sent == [({"record_id": record.id, "decision_rev": 1}, 60)]

        retry = {"eventSource": "aws:sqs", "messageId": "m1", "body": json.dumps(retries.sent[0][0])}
        assert enforce_handler.lambda_handler({"Records": [retry]}, LambdaContext("enforce", 30)) == {
            "batchItemFailures": []}
    finally:
        enforce_handler.dependencies.override(None)
    assert bench.world.objects.current(BUCKET, "later.png") is None


def test_tally_names_every_enforcement_outcome_as_a_metric() -> None:
    tally = Tally()
    tally.add(Outcome.ENFORCED)
    assert tally.as_dict() == {"DecisionEnforced": 1}


def overridden(bench: Bench, record: VerdictRecord, decision: str,
               reason: str = "a cat, not a threat") -> VerdictRecord:
    reviews = InMemoryReviews(bench.world.store, bench.world.clock)
    request = OverrideRequest(record.id, decision, reason, "arn:aws:iam::1:user/ana")
    return apply_override(bench.world.store, reviews, bench.world.policy.policy, request).record


@pytest.fixture
def with_feedback(world: World) -> Bench:
    bench = Bench(world)
    bench.enforcer.reviews = InMemoryReviews(world.store, world.clock)
    bench.enforcer.green = world.green
    return bench


def test_an_override_is_enforced_announced_and_reported_to_green(with_feedback: Bench) -> None:
    bench = with_feedback
    blocked = bench.enforce(bench.judged("fp.png", BLOCK))

    approved = bench.enforce(overridden(bench, blocked, "pass"))

    assert (approved.state, approved.decision, approved.override["by"]) == (State.OVERRIDDEN, "pass",
                                                                           "arn:aws:iam::1:user/ana")
    back = bench.world.objects.current(BUCKET, "fp.png")
    assert back is not None and back.tags["greenlight-decision"] == "pass"  # put back and retagged
    [sent] = bench.world.green.sent("ImageScanFeedback")
    assert sent.feedback is not None
    assert (sent.feedback.task_id, sent.feedback.suggestion, sent.feedback.scenes, sent.feedback.label) == (
        blocked.task_id, "pass", ("porn",), "normal")
    assert approved.feedback["sent"] is True and approved.feedback["decision_rev"] == approved.decision_rev
    assert [e["decision"] for e in bench.events.details] == ["block", "pass"]
    assert bench.world.tally[Outcome.FEEDBACK_SENT] == 1


def test_feedback_green_refused_is_recorded_raised_for_a_retry_and_sent_once_it_works(with_feedback: Bench) -> None:
    bench = with_feedback
    passed = bench.enforce(bench.judged("missed.png", [SceneResult("porn", "sexy", "pass", 70.0)]))
    blocked = overridden(bench, passed, "block", "it is porn")
    bench.world.green.fail_next = [GreenThrottled("588", code=588)]

    with pytest.raises(GreenThrottled):
        bench.enforce(blocked)
    failed = bench.record(blocked)
    assert failed.feedback["sent"] is False and failed.feedback["status"].startswith("failed: GreenThrottled")
    assert failed.enforcement["decision_rev"] == blocked.decision_rev  # the object was acted on already

    retried = bench.enforce(failed)  # the retry queue brings it back
    assert retried.feedback["sent"] is True and retried.feedback["attempts"] == 2
    [_, sent] = bench.world.green.sent("ImageScanFeedback")  # refused once, then taken
    assert sent.feedback is not None and (sent.feedback.suggestion, sent.feedback.label) == ("block", "sexy")
    assert len(bench.events.details) == 2  # the retry did not announce the decision again


def test_no_feedback_for_a_machine_decision_or_a_review(with_feedback: Bench) -> None:
    bench = with_feedback
    record = bench.enforce(bench.judged("plain.png", PASS))
    reviewed = bench.enforce(overridden(bench, record, "review", "not sure"))

    assert bench.world.green.sent("ImageScanFeedback") == []
    assert reviewed.feedback["sent"] is False and reviewed.feedback["status"] == "nothing Green can take"
