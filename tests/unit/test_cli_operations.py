"""`greenlight setup`, `rescan`, `redrive` and `backfill` on fakes (tests/fakes/operations.py): what each step
does and says, that each is safe to run again, and every failure as one line. The boto3 adapters behind them
are run on moto and the emulator by tests/integration/test_cli_operations.py."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import enforce_logic
from fakes.operations import QUEUES, SECRETS, FakeOperations
from fakes.policy import StaticPolicySource
from greenlight.aws.s3_events import parse_message
from greenlight.aws.secret import TOKEN_PATTERN
from greenlight.domain.identity import ObjectRef
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.errors import GreenAuthError
from greenlight.green.pacing import TokenBucket
from greenlight.green.signer import Credentials
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.scanning.results import apply_result, settle
from greenlight_cli.commands import backfill as backfill_command
from greenlight_cli.main import app
from greenlight_cli.ops.backfill import Backfill, Listing, ResumeState, Summary, message_for
from greenlight_cli.ops.ports import Listed, Operations
from greenlight_cli.session import Invocation, Options
from unit.conftest import BUCKET, World

DAY = 86_400.0
OPERATOR = "arn:aws:iam::123456789012:user/operator"
KEY_ID, KEY_SECRET, UID = "LTAI5tExampleKeyId", "example-access-key-secret-value", "1234567890123456"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
SCAN, SCAN_DLQ, EVENT_DLQ = QUEUES["QueueUrl"], QUEUES["DeadLetterQueueUrl"], QUEUES["EventDeliveryDeadLetterQueueUrl"]
RETRIES, ENFORCEMENT_DLQ = QUEUES["EnforcementRetryQueueUrl"], QUEUES["EnforcementDeadLetterQueueUrl"]


class OperatorStack:
    """A stack whose AWS side is FakeOperations (greenlight_cli.session.Stack, and `ops()`)."""

    name, region, table, endpoint_url = "greenlight", "us-east-1", "greenlight-VerdictTable-XYZ", None
    reviewer_policy_arn = lookup_policy_arn = None

    def __init__(self, world: World, fake: FakeOperations) -> None:
        self.world, self.fake = world, fake
        self.bucket = fake.bucket
        self.store, self.reviews = fake.store, fake.reviews

    @property
    def policy(self) -> StaticPolicySource:
        return self.world.policy

    def caller(self) -> str:
        return self.fake.actor

    def ops(self) -> Operations:
        return self.fake.operations()


class Operator:
    """Runs `greenlight` in-process against the fakes, as an operator would type it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.fake = FakeOperations(world.store, world.clock)
        self.stack = OperatorStack(world, self.fake)

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        environment: dict[str, str | None] = {
            "COLUMNS": "250", "AWS_SAM_STACK_NAME": None, "GREENLIGHT_DEBUG": None, "GREEN_ACCESS_KEY_ID": None,
            "GREEN_ACCESS_KEY_SECRET": None, "ALIBABA_CLOUD_UID": None, **(env or {})}
        result = CliRunner().invoke(app, list(args), obj=Invocation(connect=self.connect), env=environment)
        assert "Traceback" not in result.output, result.output
        return result

    def connect(self, _: Options) -> OperatorStack:
        return self.stack

    # -- verdict records ------------------------------------------------------------------------------

    def pending(self, key: str, *, versioned: bool = True) -> VerdictRecord:
        self.world.clock.advance(60)
        ref = self.world.objects.put(BUCKET, key, PNG)
        if not versioned:
            ref = ObjectRef(ref.bucket, ref.key, ref.size, ref.etag, None, ref.sequencer)
        claim = self.world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        assert self.world.store.mark_pending(ref.data_id, lease_token=claim.lease_token, task_id=f"t-{ref.data_id}",
                                             due_at=0, url_expires_at=None, details=None, by="submit")
        return self.get(ref.data_id)

    def finished(self, key: str, state: State, reason: str | None = None) -> VerdictRecord:
        record = self.pending(key)
        if state is State.FINAL:
            result = TaskResult(code=200, msg="OK", task_id=record.task_id, data_id=record.id,
                                results=(SceneResult("porn", "normal", "pass", 99.9),))
            assert apply_result(self.world.store, self.world.policy, result, record_id=record.id, by="callback").changed
        else:
            assert settle(self.world.store, self.world.policy, record.id, state, by="poll", reason=reason).changed
        return self.get(record.id)

    def get(self, record_id: str) -> VerdictRecord:
        record = self.world.store.get(record_id)
        assert record is not None
        return record


@pytest.fixture
def operator(world: World) -> Operator:
    return Operator(world)


def one_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("greenlight: "), result.stderr
    return result.stderr[len("greenlight: "):-1]


def lines(result: Result) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in result.stdout.splitlines() if line.strip()]


# -- setup ----------------------------------------------------------------------------------------------


def test_setup_checks_the_keys_fills_the_secrets_merges_the_notifications_and_then_lets_uploads_flow(
        operator: Operator) -> None:
    # Given a stack just deployed: empty keys, a generated seed, no token, a bucket with a queue notification
    # of its own, processing off and three uploads waiting in the scan queue
    fake = operator.fake
    seed = fake.secrets.values[SECRETS["CallbackSecretArn"]]["seed"]
    theirs = {"QueueConfigurations": [{"Id": "theirs", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:theirs",
                                       "Events": ["s3:ObjectCreated:*"]}]}
    fake.storage.configurations[BUCKET] = theirs
    for n in range(3):
        fake.queues.put(SCAN, f"upload {n}")

    result = operator("setup", "--access-key-id", KEY_ID, "--uid", UID, env={"GREEN_ACCESS_KEY_SECRET": KEY_SECRET})

    # Then every step is done, in order
    assert result.exit_code == 0, result.output
    assert [line.split(" ", 3)[1:3] for line in lines(result)[:4]] == [
        ["keys", "done"], ["secrets", "done"], ["bucket", "done"], ["uploads", "done"]]
    assert "3 upload events waiting" in lines(result)[3]
    # the keys were checked with Green (one results call, nothing scanned) with exactly those keys
    assert fake.green_keys == [Credentials(KEY_ID, KEY_SECRET)]
    assert [r.action for r in fake.green.requests] == ["ImageAsyncScanResults"]
    # the secrets hold the keys and uid, the seed kept, a token generated
    callback = fake.secrets.values[SECRETS["CallbackSecretArn"]]
    assert fake.secrets.values[SECRETS["GreenSecretArn"]] == {"access_key_id": KEY_ID, "access_key_secret": KEY_SECRET}
    assert (callback["uid"], callback["seed"]) == (UID, seed)
    assert TOKEN_PATTERN.match(callback["callback_token"])
    # the bucket's own configuration is kept beside EventBridge's
    assert fake.storage.configurations[BUCKET] == {**theirs, "EventBridgeConfiguration": {}}
    assert fake.processing.on
    # and no secret value is ever printed
    assert not any(value in result.output for value in (KEY_SECRET, seed, callback["callback_token"]))


def test_setup_again_checks_the_keys_and_changes_nothing_else(operator: Operator) -> None:
    fake = operator.fake
    assert operator("setup", "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET, "--uid", UID).exit_code == 0
    token = fake.secrets.values[SECRETS["CallbackSecretArn"]]["callback_token"]
    writes, puts = fake.secrets.writes, fake.storage.puts

    # the second run takes the keys from the secrets
    again = operator("setup")

    assert again.exit_code == 0, again.output
    assert [line.split(" ", 3)[1:] for line in lines(again)[:4]][1:] == [
        ["secrets", "already", "done the keys, uid, seed and callback token are in the secrets"],
        ["bucket", "already", f"done s3://{BUCKET} sends its events to EventBridge"],
        ["uploads", "already", "done submit takes uploads from the scan queue (stack 'greenlight', parameter "
                               "ProcessUploads)"]]
    assert lines(again)[0].startswith("✓ keys done")
    assert len(fake.green.requests) == 2  # the keys are checked at every run
    assert (fake.secrets.writes, fake.storage.puts, fake.processing.turned_on) == (writes, puts, 1)
    assert fake.secrets.values[SECRETS["CallbackSecretArn"]]["callback_token"] == token


def test_keys_green_refuses_stop_setup_before_anything_is_written(operator: Operator) -> None:
    fake = operator.fake
    fake.green.fail_next.append(GreenAuthError("InvalidAccessKeyId.NotFound: Specified access key is not found.",
                                               code="InvalidAccessKeyId.NotFound"))

    result = operator("setup", "--access-key-id", "LTAIwrong", "--access-key-secret", "wrong", "--uid", UID)

    assert one_line(result, 2) == "Green refused the keys: InvalidAccessKeyId.NotFound"
    assert lines(result) == ["✗ keys failed Green refused the keys: InvalidAccessKeyId.NotFound"]
    assert (fake.secrets.writes, fake.storage.puts, fake.processing.on) == (0, 0, False)


@pytest.mark.parametrize(("args", "line"), [
    ((), "no Green AccessKey id: give --access-key-id or set GREEN_ACCESS_KEY_ID"),
    (("--access-key-id", KEY_ID), "no Green AccessKey secret: give --access-key-secret or set GREEN_ACCESS_KEY_SECRET"),
    (("--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET),
     "no Alibaba Cloud account uid: give --uid or set ALIBABA_CLOUD_UID"),
    (("--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET, "--uid", "my-account"),
     "the uid must be the Alibaba Cloud main account's numeric id (6 to 32 digits)"),
])
def test_missing_or_bad_keys_without_a_terminal_are_one_line(operator: Operator, args: tuple[str, ...],
                                                             line: str) -> None:
    result = operator("setup", *args)

    assert one_line(result, 2) == line
    assert operator.fake.green.requests == [] and operator.fake.secrets.writes == 0


def test_a_new_key_drops_the_old_sts_token_and_keeps_the_seed_and_callback_token(operator: Operator) -> None:
    fake = operator.fake
    fake.secrets.values[SECRETS["GreenSecretArn"]] = {"access_key_id": "STS.old", "access_key_secret": "old",
                                                      "security_token": "CAIS-old", "url_signing_access_key_id": "AK"}
    callback = {"uid": UID, "seed": "s" * 40, "callback_token": "t" * 40, "previous_seed": "p" * 40}
    fake.secrets.values[SECRETS["CallbackSecretArn"]] = dict(callback)

    result = operator("setup", "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET)

    assert result.exit_code == 0, result.output
    assert fake.secrets.values[SECRETS["GreenSecretArn"]] == {
        "access_key_id": KEY_ID, "access_key_secret": KEY_SECRET, "url_signing_access_key_id": "AK"}
    assert fake.secrets.values[SECRETS["CallbackSecretArn"]] == callback
    assert "the Green keys written (the seed and callback token kept)" in lines(result)[1]


def test_a_callback_token_that_the_functions_would_refuse_stops_setup(operator: Operator) -> None:
    operator.fake.secrets.values[SECRETS["CallbackSecretArn"]].update(callback_token="short")

    result = operator("setup", "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET, "--uid", UID)

    assert one_line(result, 2).startswith("the callback secret's callback_token is not 32 to 128 letters")
    assert operator.fake.secrets.writes == 0 and not operator.fake.processing.on


# -- rescan ---------------------------------------------------------------------------------------------


def test_rescan_of_an_object_reopens_its_unscanned_version_for_the_poller(operator: Operator) -> None:
    failed = operator.finished("dir/broken one.png", State.ERROR, "gave_up_after_3_scans")
    now = operator.world.clock.advance(30)

    result = operator("rescan", f"s3://{BUCKET}/dir/broken one.png", "--reason", "Green was down")

    assert result.exit_code == 0, result.output
    after = operator.get(failed.id)
    assert (after.state, after.attempts, after.recoveries, after.due_at) == (State.RECEIVED, 0, 0, now)
    assert after.history[-1] == {"to": "RECEIVED", "at": after.updated_at, "by": OPERATOR, "reason": "Green was down"}
    assert operator.world.store.due(now, 10) == [after]
    assert lines(result)[-1].startswith(f"reopened 1 version by {OPERATOR}: the poller submits them within a run")


def test_rescan_by_state_dry_run_lists_what_would_be_reopened_and_changes_nothing(operator: Operator) -> None:
    failed = operator.finished("a.png", State.ERROR, "gave_up_after_3_scans")
    skipped = operator.finished("b.png", State.SKIPPED, "too_large")
    operator.finished("c.png", State.FINAL)
    before = dict(operator.world.store.records)

    result = operator("rescan", "--state", "ERROR", "--state", "skipped", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would reopen 2 versions" in result.stdout
    assert failed.id in result.stdout and skipped.id in result.stdout
    assert lines(result)[-1] == ("dry run: 2 versions would be scanned again (about $0.004 at Green's list price); "
                                 "nothing changed")
    assert operator.world.store.records == before


def test_rescan_of_a_prefix_reopens_the_current_versions_under_it_that_were_not_scanned(operator: Operator) -> None:
    fake = operator.fake
    old = operator.finished("p/over.png", State.ERROR, "gave_up_after_3_scans")  # then overwritten
    current = operator.finished("p/over.png", State.SKIPPED, "too_large")
    failed = operator.finished("p/failed.png", State.ERROR, "gave_up_after_3_scans")
    passed = operator.finished("p/passed.png", State.FINAL)
    outside = operator.finished("q/failed.png", State.ERROR, "gave_up_after_3_scans")
    for record in (current, failed, passed, outside):
        fake.storage.add(BUCKET, record.key, etag=record.etag, version_id=record.version_id)

    result = operator("rescan", "--prefix", "p/", "--yes")

    assert result.exit_code == 0, result.output
    assert {r.id for r in operator.world.store.records.values() if r.state is State.RECEIVED} == {current.id, failed.id}
    assert (operator.get(old.id), operator.get(passed.id), operator.get(outside.id)) == (old, passed, outside)


def test_rescan_refuses_a_scanned_version_and_asks_before_reopening_many(operator: Operator) -> None:
    operator.finished("passed.png", State.FINAL)
    operator.finished("a.png", State.ERROR, "x")
    operator.finished("b.png", State.ERROR, "x")
    before = dict(operator.world.store.records)

    scanned = operator("rescan", f"s3://{BUCKET}/passed.png")
    many = operator("rescan", "--state", "ERROR")
    nothing = operator("rescan")
    both = operator("rescan", f"s3://{BUCKET}/a.png", "--prefix", "p/")

    assert one_line(scanned, 1).startswith(f"s3://{BUCKET}/passed.png (version ") and one_line(scanned, 1).endswith(
        "is FINAL: only ERROR and SKIPPED versions are rescanned (a decision is changed with `greenlight override`)")
    assert one_line(many, 2) == "reopening 2 versions needs --yes (or a terminal to confirm it)"
    assert one_line(nothing, 2) == one_line(both, 2) == (
        "name what to rescan: s3://bucket/key, or --prefix P, or --state ERROR|SKIPPED")
    assert operator.world.store.records == before


# -- redrive --------------------------------------------------------------------------------------------


def stream_failure(start: str) -> str:
    return json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {
        "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1", "batchSize": 2,
        "startSequenceNumber": start, "endSequenceNumber": str(int(start) + 1)}})


def test_redrive_moves_every_dlq_back_and_turns_failed_stream_batches_into_retries(operator: Operator) -> None:
    fake = operator.fake
    # Given: two messages in the scan DLQ, one undelivered S3 event, and in the enforcement DLQ a retry
    # that failed five times, a stream batch still in the stream, one past its 24 hours and a stranger's message
    fake.queues.put(SCAN_DLQ, "scan message 1")
    fake.queues.put(SCAN_DLQ, "scan message 2")
    fake.queues.put(EVENT_DLQ, json.dumps({"detail-type": "Object Created", "source": "aws.s3"}))
    unenforced = operator.finished("block.png", State.FINAL)
    enforced = operator.finished("done.png", State.FINAL)
    assert operator.world.store.record_enforcement(enforced.id, decision_rev=enforced.decision_rev, enforcement={
        "decision_rev": enforced.decision_rev}, entries=[])
    late = operator.finished("late.png", State.ERROR, "gave_up_after_3_scans")
    retry = json.dumps({"record_id": "v-" + "0" * 32, "decision_rev": 2})
    fake.queues.put(ENFORCEMENT_DLQ, retry)
    fake.queues.put(ENFORCEMENT_DLQ, stream_failure("100"))
    fake.streams.batches["100"] = [unenforced.id, enforced.id]
    fake.queues.put(ENFORCEMENT_DLQ, stream_failure("900"))
    fake.queues.put(ENFORCEMENT_DLQ, "not greenlight's")

    result = operator("redrive")

    assert result.exit_code == 0, result.output
    assert fake.queues.bodies(SCAN) == ["scan message 1", "scan message 2",
                                        json.dumps({"detail-type": "Object Created", "source": "aws.s3"})]
    work = [enforce_logic.work_from_message(body) for body in fake.queues.bodies(RETRIES)]
    assert work[0] == enforce_logic.Work("v-" + "0" * 32, 2)
    assert set(work[1:]) == {enforce_logic.Work(unenforced.id, unenforced.decision_rev),
                             enforce_logic.Work(late.id, late.decision_rev)}  # each decision once
    assert len(work) == 3
    assert fake.queues.depth(SCAN_DLQ) == fake.queues.depth(EVENT_DLQ) == 0
    assert [m.body for m in fake.queues.hidden[ENFORCEMENT_DLQ]] == ["not greenlight's"]  # left, not deleted
    assert lines(result) == [
        "scan DLQ -> scan queue: 2 messages moved",
        "event delivery DLQ -> scan queue: 1 message moved",
        "enforcement DLQ -> enforcement retry queue: 1 retry moved back; 2 failed stream batches: 2 decisions to "
        "enforce sent (found by a Scan of the table: the stream no longer held some batches); 1 left in the DLQ "
        "(not greenlight's)"]


def test_redrive_dry_run_counts_and_takes_nothing(operator: Operator) -> None:
    fake = operator.fake
    fake.queues.put(SCAN_DLQ, "scan message")
    fake.queues.put(ENFORCEMENT_DLQ, json.dumps({"record_id": "v-1", "decision_rev": 1}))
    fake.queues.put(ENFORCEMENT_DLQ, stream_failure("100"))

    result = operator("redrive", "--dry-run", "--queue", "all")
    scan_only = operator("redrive", "--queue", "scan", "--limit", "5")

    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "scan DLQ -> scan queue: 1 message would be moved",
        "event delivery DLQ -> scan queue: nothing to move",
        "enforcement DLQ -> enforcement retry queue: 1 retry to move back; 1 failed stream batch (each becomes a "
        "retry per decision not yet enforced)"]
    assert lines(scan_only) == ["scan DLQ -> scan queue: 1 message moved"]
    assert fake.queues.depth(ENFORCEMENT_DLQ) == 2 and fake.queues.bodies(RETRIES) == []


# -- backfill -------------------------------------------------------------------------------------------


def backfill_objects(operator: Operator, count: int, prefix: str = "old/") -> list[Listed]:
    return [operator.fake.storage.add(BUCKET, f"{prefix}{n:03d} ünï.png", version_id=f"ver-{n}") for n in range(count)]


def sent(operator: Operator) -> list[ObjectRef]:
    refs = []
    for body in operator.fake.queues.bodies(SCAN):
        parsed = parse_message(body)
        assert isinstance(parsed, list)
        refs.extend(parsed)
    return refs


def test_a_backfill_message_is_an_s3_event_submit_reads_as_the_same_version(operator: Operator) -> None:
    listed = Listed(BUCKET, "dir/a b+c ünï.png", 1234, "0123456789abcdef0123456789abcdef", "ver-1",
                    "2026-11-01T10:00:00.000Z")
    real = ObjectRef(BUCKET, listed.key, 1234, listed.etag, "ver-1", sequencer="0055AED6DCD90281E5",
                     event_time="2026-11-01T10:00:00.000000Z")

    parsed = parse_message(message_for(listed, "us-east-1"))

    assert isinstance(parsed, list) and len(parsed) == 1
    ref = parsed[0]
    assert (ref.bucket, ref.key, ref.size, ref.etag, ref.version_id, ref.sequencer) == (
        BUCKET, listed.key, 1234, listed.etag, "ver-1", None)
    assert ref.data_id == real.data_id  # a real event of the same write is the same record (a duplicate)
    assert ref.order < real.order  # and never supersedes it
    # unversioned: the ETag and LastModified, the same at every run; a real event (with S3's sequencer) differs
    plain = parse_message(message_for(Listed(BUCKET, "k.png", 1, "e" * 32, None, "2026-11-01T10:00:00.000Z"), "x"))
    again = parse_message(message_for(Listed(BUCKET, "k.png", 1, "e" * 32, None, "2026-11-01T10:00:00Z"), "x"))
    assert isinstance(plain, list) and isinstance(again, list)
    assert plain[0].data_id == again[0].data_id
    assert plain[0].data_id != ObjectRef(BUCKET, "k.png", 1, "e" * 32, None, "00A1").data_id


def test_backfill_dry_run_prints_the_count_and_greens_cost_and_sends_nothing(operator: Operator,
                                                                            tmp_path: Path) -> None:
    fake = operator.fake
    fake.parameters["KeySuffix"] = ".png"
    objects = backfill_objects(operator, 4)
    fake.storage.add(BUCKET, "old/readme.txt")  # outside the key filter
    fake.storage.add(BUCKET, "old/folder/", size=0)  # a console folder
    recorded = operator.pending("old/recorded.png")
    fake.storage.add(BUCKET, "old/recorded.png", etag=recorded.etag, version_id=recorded.version_id)
    resume = tmp_path / "resume.json"

    result = operator("backfill", "--prefix", "old/", "--dry-run", "--resume-file", str(resume), "--daily-cap", "3")

    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"dry run: {len(objects)} objects of s3://{BUCKET}/old/ would be sent (1 already with a verdict, 2 outside the "
        "key filter or not current objects); estimated Green cost $0.008 (4 images x 2 scenes at $1.00 per 1,000 "
        "image-scenes, README 'Spend'); 2 days at --daily-cap 3; nothing sent"]
    assert fake.queues.bodies(SCAN) == [] and not resume.exists()


def test_backfill_stops_at_its_daily_cap_and_goes_on_the_next_day(operator: Operator, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    objects = backfill_objects(operator, 25)
    monkeypatch.setattr(backfill_command, "clock", operator.world.clock)
    args = ("backfill", "--resume-file", str(tmp_path / "resume.json"), "--daily-cap", "12", "--rate", "1000", "--yes")

    first = operator(*args)
    same_day = operator(*args)
    operator.world.clock.advance(DAY)
    second = operator(*args)
    operator.world.clock.advance(DAY)
    third = operator(*args)
    done = operator(*args)

    assert [len(sent(operator))] == [25]
    assert [r.key for r in sent(operator)] == [o.key for o in objects]  # each once, in key order
    assert [r.version_id for r in sent(operator)] == [o.version_id for o in objects]
    assert lines(first)[-1].startswith("sent 12 objects (0 already with a verdict, 0 outside the key filter or not "
                                       "current objects); today 12 of 12; daily cap reached")
    assert lines(same_day)[-1].startswith("sent 0 objects")
    assert lines(second)[-1].startswith("sent 12 objects")
    assert lines(third)[-1] == ("sent 1 objects (0 already with a verdict, 0 outside the key filter or not current "
                                f"objects); today 1 of 12; done: every object of s3://{BUCKET}/ was sent (25 in all)")
    assert lines(done) == [f"already done: 25 objects of s3://{BUCKET}/ were sent ({tmp_path / 'resume.json'}; "
                           "delete it to start over)"]


def test_an_interrupted_backfill_goes_on_where_it_stopped_without_sending_anything_twice(
        operator: Operator, tmp_path: Path) -> None:
    objects = backfill_objects(operator, 23)
    operator.fake.queues.fail_sends_after = 10  # the second batch fails (SQS unavailable, Ctrl-C...)
    args = ("backfill", "--resume-file", str(tmp_path / "resume.json"), "--rate", "1000", "--yes")

    interrupted = operator(*args)
    operator.fake.queues.fail_sends_after = None
    resumed = operator(*args)

    assert one_line(interrupted, 1) == "SQS refused 10 of 10 messages (InternalError)"
    assert lines(interrupted) == [
        f"stopped after 10 sent in all: run the same command again to continue ({tmp_path / 'resume.json'})"]
    assert resumed.exit_code == 0, resumed.output
    assert [r.key for r in sent(operator)] == [o.key for o in objects]


def test_a_resume_file_of_another_backfill_is_refused(operator: Operator, tmp_path: Path) -> None:
    resume = tmp_path / "resume.json"
    ResumeState("s3://other-bucket/").save(resume)

    result = operator("backfill", "--resume-file", str(resume), "--yes")

    assert one_line(result, 2) == (f"the resume file {resume} is for a backfill of s3://other-bucket/, not "
                                   f"s3://{BUCKET}/: name another with --resume-file, or delete it to start over")


def inventory(operator: Operator, rows: list[list[str]], *, files: int = 2) -> str:
    """An S3 Inventory report of the bucket in bucket `inventories`: its manifest's URI."""
    schema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag"
    keys = []
    per_file = -(-len(rows) // files)
    for index in range(files):
        text = "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows[index * per_file:(index + 1) * per_file])
        key = f"uploads/inventory/data/{index}.csv.gz"
        operator.fake.storage.files[("inventories", key)] = gzip.compress(text.encode())
        keys.append({"key": key, "size": 1, "MD5checksum": "x"})
    manifest = {"sourceBucket": BUCKET, "destinationBucket": "arn:aws:s3:::inventories", "fileFormat": "CSV",
                "fileSchema": schema, "files": keys}
    operator.fake.storage.files[("inventories", "uploads/inventory/manifest.json")] = json.dumps(manifest).encode()
    return "s3://inventories/uploads/inventory/manifest.json"


def test_backfill_reads_an_s3_inventory_report_latest_versions_only(operator: Operator, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backfill_command, "clock", operator.world.clock)
    rows = [[BUCKET, f"inv/{n:02d}+%C3%BCn%C3%AF.png", f"ver-{n}", "true", "false", "100",
             "2026-10-01T00:00:00.000Z", f"{n:032x}"] for n in range(5)]
    rows.insert(2, [BUCKET, "inv/older.png", "ver-old", "false", "false", "1", "2026-01-01T00:00:00.000Z", "e"])
    rows.insert(4, [BUCKET, "inv/deleted.png", "ver-dm", "true", "true", "", "2026-01-01T00:00:00.000Z", ""])
    uri = inventory(operator, rows)
    args = ("backfill", "--inventory", uri, "--resume-file", str(tmp_path / "r.json"), "--daily-cap", "3", "--yes")

    first = operator(*args)
    operator.world.clock.advance(DAY)
    second = operator(*args)

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert [(r.key, r.version_id, r.etag) for r in sent(operator)] == [
        (f"inv/{n:02d} ünï.png", f"ver-{n}", f"{n:032x}") for n in range(5)]
    assert lines(second)[-1].endswith(f"done: every object of {uri} was sent (5 in all)")


def test_the_rate_limit_spaces_batches_out_with_bounded_sleeps(operator: Operator, tmp_path: Path) -> None:
    backfill_objects(operator, 20)
    clock = operator.world.clock
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    bucket = TokenBucket(5, burst=5, clock=clock, sleep=sleep)
    ops = operator.fake.operations()
    run = Backfill(ops, Listing(ops.storage, BUCKET, ""), daily_cap=100, pace=bucket.acquire, clock=clock,
                   progress=lambda _: None)

    summary = run.run(ResumeState(f"s3://{BUCKET}/"), tmp_path / "r.json")

    assert summary == Summary(eligible=20, sent_today=20)
    assert sleeps == [1.0, 2.0]  # 20 objects at 5 a second with a burst of 5: 3 seconds, in two waits


# -- the identity of a backfilled object, through submit --------------------------------------------------


def submit(world: World, body: str) -> None:
    from submit_logic import read_message, submit_batch

    message = read_message(f"m-{len(world.store.records)}", body, world.tally)
    assert message is not None
    assert submit_batch([message], submission=world.submission(), settings=world.submit_settings(),
                        budget=world.budget(), tally=world.tally) == {}


def s3_event(ref: ObjectRef) -> str:
    """What S3's own notification of the write says (with its sequencer)."""
    obj: dict[str, Any] = {"key": ref.key, "size": ref.size, "eTag": ref.etag, "sequencer": ref.sequencer}
    if ref.versioned:
        obj["versionId"] = ref.version_id
    return json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                    "eventTime": "2026-11-01T10:00:00.000Z",
                                    "s3": {"bucket": {"name": ref.bucket}, "object": obj}}]})


def test_a_real_event_of_a_backfilled_version_is_a_duplicate_in_a_versioned_bucket(world: World) -> None:
    ref = world.objects.put(BUCKET, "a.png", PNG)
    submit(world, message_for(Listed(BUCKET, ref.key, ref.size, ref.etag, ref.version_id,
                                     "2026-11-01T10:00:00.000Z"), "us-east-1"))

    submit(world, s3_event(ref))

    assert [r.state for r in world.store.records.values()] == [State.PENDING]
    assert len(world.green.sent()) == 1  # Green was asked once


def test_in_an_unversioned_bucket_a_backfill_of_a_write_already_announced_is_superseded_unscanned(
        world: World) -> None:
    from fakes import InMemoryObjects

    world.objects = InMemoryObjects(world.clock, versioned=False)
    ref = world.objects.put(BUCKET, "a.png", PNG)
    ref = ObjectRef(ref.bucket, ref.key, ref.size, ref.etag, None, ref.sequencer)
    submit(world, s3_event(ref))

    submit(world, message_for(Listed(BUCKET, ref.key, ref.size, ref.etag, None, "2026-11-01T10:00:00.000Z"), "x"))

    states = sorted((r.state, r.reason or "") for r in world.store.records.values())
    assert states == [(State.PENDING, ""), (State.SUPERSEDED, "newer_version_seen")]
    assert len(world.green.sent()) == 1


# -- failures ---------------------------------------------------------------------------------------------


def test_an_operator_without_permission_is_told_what_the_command_needs(operator: Operator,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    def denied(_: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue")

    monkeypatch.setattr(operator.fake.secrets, "read", denied)

    result = operator("setup", "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET, "--uid", UID)

    assert one_line(result, 2) == (
        "not allowed to call GetSecretValue (secretsmanager:GetSecretValue): setup, rescan, redrive and backfill need "
        "an administrator's permissions on the resources of stack 'greenlight' (the Reviewer and Lookup policies do "
        "not grant them)")
