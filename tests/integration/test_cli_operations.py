"""`greenlight setup`, `rescan`, `redrive` and `backfill` on the local stack: the boto3 adapters on moto, Green's
part played by the emulator, the functions' handlers (or the whole local pipeline, where uploads must flow).
What each command decides is tested on fakes in tests/unit/test_cli_operations.py."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import enforce_logic
import poll_handler
import submit_handler
from fakes.policy import StaticPolicySource
from green_emulator import RunningEmulator, make_image
from greenlight.aws.s3_events import parse_message
from greenlight.aws.secret import TOKEN_PATTERN
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.domain.identity import ObjectRef
from greenlight.domain.policy import initial_policy_json, parse_policy
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import TERMINAL, State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.scanning.results import apply_result, settle
from greenlight_cli.main import app
from greenlight_cli.ops.aws import DynamoStreamBatches
from greenlight_local.functions import function_environment
from greenlight_local.lambda_host import sqs_event
from greenlight_local.pipeline import LocalPipeline, PipelineOptions
from greenlight_local.processes import wait_until
from greenlight_local.stack import LocalStack, all_records, create_stack
from integration.aws_helpers import load_event, receive_sqs_event, upload

pytestmark = pytest.mark.integration
ACTOR = "local:"  # the local stack's caller: local:<user>
SCHEDULE = load_event("poll/sam-scheduled-event.json")


def state_file(stack: LocalStack, emulator: RunningEmulator, path: Path) -> Path:
    """The local stack's state file as the pipeline writes it: the functions pointed at the emulator."""
    state = stack.to_json()
    for name, function in state["functions"].items():
        function["environment"] = function_environment(stack, name, green_endpoint=emulator.url)
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def greenlight(state: Path, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--state-file", str(state), *args],
                                env={"COLUMNS": "250", "AWS_SAM_STACK_NAME": None, "GREENLIGHT_DEBUG": None})
    assert "Traceback" not in result.output, result.output
    return result


def steps(result: Result) -> dict[str, str]:
    """`setup`'s step lines: name -> status."""
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] in "✓✗":
            found[parts[1]] = "already done" if parts[2] == "already" else parts[2]
    return found


def submit_enabled(path: Path) -> bool:
    return bool(json.loads(path.read_text())["functions"]["submit"]["events"]["Uploads"]["Properties"]["Enabled"])


def drain(stack: LocalStack, url: str) -> list[dict[str, Any]]:
    """Every message on a queue now (received and deleted)."""
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60,
                                    AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return found
        found.extend(batch)
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])


def depth(stack: LocalStack, url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


# -- setup ----------------------------------------------------------------------------------------------


def test_setup_of_an_existing_bucket_fills_the_secrets_and_merges_its_notifications(
        aws: str, emulator: RunningEmulator, tmp_path: Path) -> None:
    # Given an existing bucket that sends its uploads to a queue of its own, and a stack just deployed for it
    bucket = f"their-uploads-{uuid.uuid4().hex[:8]}"
    bare = create_stack(aws)
    s3, sqs = bare.client("s3"), bare.client("sqs")
    s3.create_bucket(Bucket=bucket)
    theirs = sqs.create_queue(QueueName=f"theirs-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    theirs_arn = sqs.get_queue_attributes(QueueUrl=theirs, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_configuration = [{"Id": "their-thumbnails", "QueueArn": theirs_arn, "Events": ["s3:ObjectCreated:*"]}]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": queue_configuration})
    stack = create_stack(aws, parameters={"ExistingBucketName": bucket})
    generated = stack.secret()["seed"]
    path = state_file(stack, emulator, tmp_path / "state.json")
    keys = ("--access-key-id", emulator.config.access_key_id, "--access-key-secret", emulator.config.access_key_secret,
            "--uid", emulator.config.uid)

    first = greenlight(path, "setup", *keys)

    # Then the keys were checked with Green (one results call, nothing scanned) and are in the secrets
    assert first.exit_code == 0, first.output
    assert steps(first) == {"keys": "done", "secrets": "done", "bucket": "done", "uploads": "done"}
    assert emulator.stats()["calls"]["results"] == 1 and emulator.stats()["calls"].get("asyncscan", 0) == 0
    secret = stack.secret()
    assert (secret["access_key_id"], secret["access_key_secret"], secret["uid"]) == (
        emulator.config.access_key_id, emulator.config.access_key_secret, emulator.config.uid)
    assert secret["seed"] == generated and TOKEN_PATTERN.match(secret["callback_token"])
    # the bucket's own queue configuration survived, and its uploads now reach the stack through EventBridge
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert configuration["QueueConfigurations"] == queue_configuration
    s3.put_object(Bucket=bucket, Key="after set-up.png", Body=make_image())
    announced = parse_message(receive_sqs_event(stack, 1)["Records"][0]["body"])
    assert isinstance(announced, list) and [(r.bucket, r.key) for r in announced] == [(bucket, "after set-up.png")]
    # and the submit trigger is on
    assert submit_enabled(path)

    # When it runs again (the keys taken from the secrets), nothing changes but the check
    again = greenlight(path, "setup")

    assert again.exit_code == 0, again.output
    assert (steps(again)["secrets"], steps(again)["uploads"]) == ("already done", "already done")
    assert stack.secret() == secret
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"] == queue_configuration
    assert emulator.stats()["calls"]["results"] == 2


def test_setup_of_a_deployed_stack_turns_process_uploads_on_with_a_stack_update(
        stack: LocalStack, emulator: RunningEmulator) -> None:
    # Given a stack on CloudFormation (moto) deployed with ProcessUploads=false, whose outputs are the local stack's
    name = f"greenlight-{uuid.uuid4().hex[:8]}"
    outputs = {"TableName": stack.table, "BucketName": stack.bucket, "PolicyParameterName": stack.policy_parameter,
               "QueueUrl": stack.queue_url, "GreenSecretArn": stack.secret_ids["GreenSecret"],
               "CallbackSecretArn": stack.secret_ids["CallbackSecret"]}
    template = {"Parameters": {"ProcessUploads": {"Type": "String", "Default": "false"},
                               "GreenRegion": {"Type": "String", "Default": "cn-shanghai"},
                               "GreenEndpoint": {"Type": "String", "Default": ""},
                               "KeyPrefix": {"Type": "String", "Default": ""}},
                "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    cloudformation = stack.client("cloudformation")
    # (every parameter named: moto 5.2 cannot take UsePreviousValue for one that kept its default)
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template), Parameters=[
        {"ParameterKey": "GreenEndpoint", "ParameterValue": emulator.url},
        {"ParameterKey": "KeyPrefix", "ParameterValue": "uploads/"},
        {"ParameterKey": "GreenRegion", "ParameterValue": "cn-shanghai"}])
    keys = ("--access-key-id", emulator.config.access_key_id, "--access-key-secret", emulator.config.access_key_secret,
            "--uid", emulator.config.uid)

    first = CliRunner().invoke(app, ["--stack", name, "--region", "us-east-1", "setup", *keys])
    again = CliRunner().invoke(app, ["--stack", name, "--region", "us-east-1", "setup"])

    # Then one update changed ProcessUploads only, and the second run found it on
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert (steps(first)["uploads"], steps(again)["uploads"]) == ("done", "already done")
    found = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert found["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in found["Parameters"]} == {
        "ProcessUploads": "true", "GreenRegion": "cn-shanghai", "GreenEndpoint": emulator.url, "KeyPrefix": "uploads/"}
    assert stack.secret()["access_key_id"] == emulator.config.access_key_id
    assert emulator.stats()["calls"]["results"] == 2


def test_setup_with_keys_green_refuses_changes_nothing(stack: LocalStack, emulator: RunningEmulator,
                                                      tmp_path: Path) -> None:
    path = state_file(stack, emulator, tmp_path / "state.json")
    before = stack.secret()

    result = greenlight(path, "setup", "--access-key-id", "LTAInobodysKey", "--access-key-secret", "wrong",
                        "--uid", emulator.config.uid)

    assert result.exit_code == 2, result.output
    assert result.stderr == "greenlight: Green refused the keys: InvalidAccessKeyId.NotFound\n"
    assert stack.secret() == before and not submit_enabled(path)


def test_uploads_wait_in_the_queue_until_setup_lets_them_through(tmp_path: Path) -> None:
    options = PipelineOptions(workdir=tmp_path / "run", parameters={"ProcessUploads": "false"}, submit_instances=1,
                              callback_instances=1)
    with LocalPipeline(options) as pipeline:
        assert pipeline.stack is not None
        # Given a stack deployed with processing off: uploads are announced and wait in the scan queue
        for n in range(3):
            pipeline.upload(f"waiting/{n}.png", make_image(seed=n), "image/png")
        wait_until(lambda: pipeline.queue_depths()["queue"] >= 3, timeout=15, what="three events waiting")
        # ... and stay there while the rest of the stack runs (the poller has run twice meanwhile)
        wait_until(lambda: pipeline.metric_totals().get("PollRuns", 0) >= 2, timeout=20, what="two poll runs")
        assert pipeline.records() == [] and pipeline.queue_depths()["queue"] == 3
        assert any("is disabled" in line for name, line in pipeline.logs() if name.startswith("submit"))

        # When the operator sets it up
        result = greenlight(pipeline.state_file, "setup", "--access-key-id", pipeline.secret_values["access_key_id"],
                            "--access-key-secret", pipeline.secret_values["access_key_secret"],
                            "--uid", pipeline.secret_values["uid"])

        # Then the waiting uploads are scanned and decided
        assert result.exit_code == 0, result.output
        assert steps(result)["uploads"] == "done"
        records = pipeline.wait_for(lambda rs: len(rs) == 3 and all(r.state in TERMINAL for r in rs), timeout=60,
                                    what="the waiting uploads' verdicts")
        assert {r.key for r in records} == {"waiting/0.png", "waiting/1.png", "waiting/2.png"}
        assert all(r.state is State.FINAL for r in records)
        assert any("is enabled" in line for name, line in pipeline.logs() if name.startswith("submit"))


# -- rescan ---------------------------------------------------------------------------------------------


def failed_upload(stack: LocalStack, key: str) -> VerdictRecord:
    """An upload whose scan gave up (ERROR), recorded by the production store as the functions record it."""
    response = upload(stack, key, make_image(seed=7))
    obj = ObjectRef(stack.bucket, key, size=None, etag=response["ETag"].strip('"'), version_id=response["VersionId"])
    store = DynamoVerdictStore(stack.client("dynamodb"), stack.table)
    claim = store.claim(obj, lease_seconds=90, max_attempts=3, by="submit")
    assert claim.lease_token
    policy = StaticPolicySource(parse_policy(initial_policy_json("enforce")))
    assert settle(store, policy, obj.data_id, State.ERROR, by="poll", reason="gave_up_after_3_scans").changed
    record = store.get(obj.data_id)
    assert record is not None
    return record


def test_an_error_version_rescanned_is_scanned_again_by_the_poller(
        stack: LocalStack, emulator: RunningEmulator, function_env: Callable[..., None],
        context: Callable[..., Any], tmp_path: Path) -> None:
    failed = failed_upload(stack, "dir/broken one.png")
    path = state_file(stack, emulator, tmp_path / "state.json")

    # A dry run lists it and changes nothing
    dry = greenlight(path, "rescan", "--state", "ERROR", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert failed.id in dry.stdout and "1 version would be scanned again" in dry.stdout
    assert DynamoVerdictStore(stack.client("dynamodb"), stack.table).get(failed.id) == failed

    result = greenlight(path, "rescan", f"s3://{stack.bucket}/dir/broken one.png", "--reason", "Green was down")

    assert result.exit_code == 0, result.output
    reopened = next(r for r in all_records(stack) if r.id == failed.id)
    assert (reopened.state, reopened.attempts) == (State.RECEIVED, 0)
    assert reopened.history[-1]["by"].startswith(ACTOR) and reopened.history[-1]["reason"] == "Green was down"

    # The poller takes it over and sends it to Green; its verdict follows
    function_env("poll", POLL_RECHECK_SECONDS="1", POLL_GRACE_SECONDS="0", POLL_BATCH_WINDOW_SECONDS="0")

    def scanned() -> bool:
        poll_handler.lambda_handler(SCHEDULE, context(seconds=30))
        return next(r for r in all_records(stack) if r.id == failed.id).state is State.FINAL

    wait_until(scanned, timeout=20, interval=0.5, what="the rescanned version's verdict")
    final = next(r for r in all_records(stack) if r.id == failed.id)
    assert final.recoveries == 1 and final.attempts == 1 and final.source == "poll"
    assert emulator.stats()["calls"]["asyncscan"] == 1


# -- redrive --------------------------------------------------------------------------------------------


def decided(stack: LocalStack, key: str) -> VerdictRecord:
    """A version Green answered and the policy decided (a decision the enforce function has not acted on)."""
    store = DynamoVerdictStore(stack.client("dynamodb"), stack.table)
    obj = ObjectRef(stack.bucket, key, size=10, etag=uuid.uuid4().hex, version_id=uuid.uuid4().hex)
    claim = store.claim(obj, lease_seconds=90, max_attempts=3, by="submit")
    assert claim.lease_token
    assert store.mark_pending(obj.data_id, lease_token=claim.lease_token, task_id=f"t-{key}", due_at=0,
                              url_expires_at=None, details=None, by="submit")
    result = TaskResult(code=200, msg="OK", task_id=f"t-{key}", data_id=obj.data_id,
                        results=(SceneResult("porn", "porn", "block", 99.5),))
    policy = StaticPolicySource(parse_policy(initial_policy_json("enforce")))
    assert apply_result(store, policy, result, record_id=obj.data_id, by="callback").changed
    record = store.get(obj.data_id)
    assert record is not None
    return record


def stream_range(stack: LocalStack, record_id: str) -> tuple[str, str]:
    """The first and last sequence numbers of `record_id`'s changes in the table's stream."""
    streams = stack.client("dynamodbstreams")
    arn = stack.table_stream_arn()
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    mine = [r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["id"]["S"] == record_id]
    return mine[0], mine[-1]


def test_redrive_moves_each_dlq_back(stack: LocalStack, emulator: RunningEmulator, tmp_path: Path) -> None:
    path = state_file(stack, emulator, tmp_path / "state.json")
    state = json.loads(path.read_text())
    enforce = state["functions"]["enforce"]
    retry_url = enforce["environment"]["ENFORCEMENT_RETRY_QUEUE_URL"]
    failure_url = state["queue_urls"][enforce["events"]["Decisions"]["Properties"]["DestinationConfig"]["OnFailure"][
        "Destination"]]
    sqs = stack.client("sqs")
    # Given two scan messages that failed, an S3 event EventBridge could not deliver, and in the enforcement DLQ
    # a retry that failed five times, a stream batch the function gave up on (still in the stream) and one the
    # stream no longer holds
    scan_bodies = [json.dumps(load_event("submit/eventbridge-object-created.json")), "a message never claimed"]
    for body in scan_bodies:
        sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=body)
    undelivered = json.dumps({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                              "detail": {"bucket": {"name": stack.bucket}, "object": {"key": "late.png"}}})
    sqs.send_message(QueueUrl=stack.event_dlq_url, MessageBody=undelivered)
    in_stream, trimmed = decided(stack, "blocked.png"), decided(stack, "also-blocked.png")
    first, last = stream_range(stack, in_stream.id)
    held = {"streamArn": stack.table_stream_arn(), "batchSize": 3, "startSequenceNumber": first,
            "endSequenceNumber": last}
    gone = {"streamArn": stack.table_stream_arn(), "batchSize": 1, "startSequenceNumber": "1" + "0" * 20,
            "endSequenceNumber": "1" + "0" * 19 + "1"}
    streams = DynamoStreamBatches(stack.client("dynamodbstreams"))
    assert (streams.record_ids(held), streams.record_ids(gone)) == ([in_stream.id], None)
    for body in (json.dumps({"record_id": "v-" + "1" * 32, "decision_rev": 1}),
                 json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": held}),
                 json.dumps({"DDBStreamBatchInfo": gone})):
        sqs.send_message(QueueUrl=failure_url, MessageBody=body)

    dry = greenlight(path, "redrive", "--dry-run")
    result = greenlight(path, "redrive")

    assert dry.exit_code == 0 and "scan DLQ -> scan queue: 2 messages would be moved" in dry.stdout, dry.output
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "scan DLQ -> scan queue: 2 messages moved", "event delivery DLQ -> scan queue: 1 message moved",
        "enforcement DLQ -> enforcement retry queue: 1 retry moved back; 2 failed stream batches: 2 decisions to "
        "enforce sent (found by a Scan of the table: the stream no longer held some batches)"]
    # Then the scan queue has the bodies as they were, and the retry queue one retry per decision to enforce
    assert sorted(m["Body"] for m in drain(stack, stack.queue_url)) == sorted([*scan_bodies, undelivered])
    work = [enforce_logic.work_from_message(m["Body"]) for m in drain(stack, retry_url)]
    assert sorted(work, key=str) == sorted([enforce_logic.Work("v-" + "1" * 32, 1),
                                            enforce_logic.Work(in_stream.id, in_stream.decision_rev),
                                            enforce_logic.Work(trimmed.id, trimmed.decision_rev)], key=str)
    assert depth(stack, stack.dlq_url) == depth(stack, stack.event_dlq_url) == depth(stack, failure_url) == 0


# -- backfill -------------------------------------------------------------------------------------------


def test_a_backfill_resumes_stops_at_its_cap_and_sends_each_object_once(
        stack: LocalStack, emulator: RunningEmulator, function_env: Callable[..., None],
        context: Callable[..., Any], tmp_path: Path) -> None:
    # Given objects in the (versioned) bucket whose events were lost, one overwritten, one deleted, and one
    # that has its verdict record already
    s3 = stack.client("s3")
    versions = {}
    for n in range(7):
        versions[f"old/{n} ünï.png"] = upload(stack, f"old/{n} ünï.png", make_image(seed=n))["VersionId"]
    versions["old/0 ünï.png"] = upload(stack, "old/0 ünï.png", make_image(seed=100))["VersionId"]  # overwritten
    upload(stack, "old/gone.png", make_image(seed=50))
    s3.delete_object(Bucket=stack.bucket, Key="old/gone.png")
    wait_until(lambda: depth(stack, stack.queue_url) >= 9, timeout=15, what="the uploads' events")
    drain(stack, stack.queue_url)  # lost
    recorded = ObjectRef(stack.bucket, "old/6 ünï.png", etag="x", version_id=versions["old/6 ünï.png"])
    assert DynamoVerdictStore(stack.client("dynamodb"), stack.table).claim(
        recorded, lease_seconds=90, max_attempts=3, by="submit").claimed
    path = state_file(stack, emulator, tmp_path / "state.json")
    resume = tmp_path / "backfill.json"
    args = ("backfill", "--prefix", "old/", "--rate", "1000", "--yes", "--resume-file", str(resume))

    # When it runs under a cap of 4 a day, again the same day, then with a higher cap, then once more
    dry = greenlight(path, *args, "--dry-run", "--daily-cap", "4")
    capped = greenlight(path, *args, "--daily-cap", "4")
    same_day = greenlight(path, *args, "--daily-cap", "4")
    rest = greenlight(path, *args, "--daily-cap", "100")
    done = greenlight(path, *args, "--daily-cap", "100")

    # Then each current object without a record was sent once, with its current version id
    assert dry.stdout.startswith("dry run: 6 objects of s3://"), dry.output
    assert capped.stdout.startswith("sent 4 objects") and "daily cap reached" in capped.stdout, capped.output
    assert same_day.stdout.startswith("sent 0 objects") and "daily cap reached" in same_day.stdout
    assert rest.stdout.startswith("sent 2 objects") and "(6 in all)" in rest.stdout, rest.output
    assert done.stdout.startswith("already done: 6 objects")
    messages = drain(stack, stack.queue_url)
    announced = [ref for m in messages for ref in parse_message(m["Body"])]  # type: ignore[union-attr]
    assert sorted((r.key, r.version_id) for r in announced) == sorted(
        (key, version) for key, version in versions.items() if key != "old/6 ünï.png")
    # and submit takes them as uploads: a record per version, at Green
    function_env("submit")
    event = sqs_event(messages, stack.queue_arn, stack.region)
    assert submit_handler.lambda_handler(event, context()) == {"batchItemFailures": []}
    pending = {r.key: r for r in all_records(stack) if r.state is State.PENDING}
    assert {key: r.version_id for key, r in pending.items()} == {
        key: version for key, version in versions.items() if key != "old/6 ünï.png"}


def test_a_backfill_of_an_unversioned_bucket_from_its_s3_inventory(aws: str, emulator: RunningEmulator,
                                                                    tmp_path: Path) -> None:
    bucket = f"legacy-{uuid.uuid4().hex[:8]}"
    bare = create_stack(aws)
    s3 = bare.client("s3")
    s3.create_bucket(Bucket=bucket)  # unversioned, no notifications: nothing was ever announced
    stack = create_stack(aws, parameters={"ExistingBucketName": bucket})
    etags = {}
    for n in range(3):
        etags[f"a/{n} x.png"] = s3.put_object(Bucket=bucket, Key=f"a/{n} x.png", Body=make_image(seed=n))["ETag"]
    rows = "".join(f'"{bucket}","a/{n}+x.png","","true","false","10","2026-10-0{n + 1}T00:00:00.000Z",'
                   f'{etags[f"a/{n} x.png"]}\n' for n in range(3))
    s3.create_bucket(Bucket=f"{bucket}-inventory")
    s3.put_object(Bucket=f"{bucket}-inventory", Key="inv/data/1.csv.gz", Body=gzip.compress(rows.encode()))
    s3.put_object(Bucket=f"{bucket}-inventory", Key="inv/manifest.json", Body=json.dumps({
        "sourceBucket": bucket, "destinationBucket": f"arn:aws:s3:::{bucket}-inventory", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1, "MD5checksum": "x"}]}).encode())
    path = state_file(stack, emulator, tmp_path / "state.json")

    listing = greenlight(path, "backfill", "--dry-run", "--resume-file", str(tmp_path / "r1.json"))
    result = greenlight(path, "backfill", "--inventory", f"s3://{bucket}-inventory/inv/manifest.json", "--yes",
                        "--rate", "1000", "--resume-file", str(tmp_path / "r2.json"))

    assert listing.stdout.startswith(f"dry run: 3 objects of s3://{bucket}/ would be sent"), listing.output
    assert result.exit_code == 0, result.output
    announced = [ref for m in drain(stack, stack.queue_url) for ref in parse_message(m["Body"])]  # type: ignore[union-attr]
    assert sorted((r.key, r.etag, r.version_id) for r in announced) == sorted(
        (key, etag.strip('"'), None) for key, etag in etags.items())

