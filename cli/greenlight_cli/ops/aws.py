"""The operations ports (greenlight_cli.ops.ports) on AWS with boto3, for a deployed stack (found by its
outputs) and for the local one (moto; its state file stands in for CloudFormation)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from greenlight.green.client import GreenClient, RetryPolicy
from greenlight.green.endpoints import is_loopback
from greenlight.green.signer import Credentials
from greenlight.ports import GreenScanner
from greenlight_cli.ops.ports import Listed, Message, Operations, QueueError
from greenlight_cli.stack import CliError

if TYPE_CHECKING:
    from greenlight_cli.stack import StackContext

PROCESS_UPLOADS = "ProcessUploads"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def operations_for(context: StackContext) -> Operations:
    local = context.state_file is not None
    processing: CloudFormationProcessing | LocalProcessing
    if context.state_file is not None:
        processing = LocalProcessing(context.state_file)
    else:
        processing = CloudFormationProcessing(context.client("cloudformation"), context.name)

    def green(credentials: Credentials) -> GreenScanner:
        return green_client(credentials, context.parameters, local=local)

    return Operations(
        name=context.name, region=context.region, bucket=context.bucket, outputs=context.outputs,
        parameters=context.parameters, store=context.store, reviews=context.reviews,
        queues=SqsQueues(context.client("sqs")), storage=S3Storage(context.client("s3")),
        secrets=SecretsManagerSecrets(context.client("secretsmanager")), processing=processing,
        streams=DynamoStreamBatches(context.client("dynamodbstreams")), green=green, caller=context.caller,
        local=local)


def green_client(credentials: Credentials, parameters: Mapping[str, str], *, local: bool) -> GreenClient:
    """A client of the stack's Green (GreenRegion, GreenEndpoint). The local stack's Green is the emulator on
    loopback, never a real endpoint."""
    endpoint = parameters.get("GreenEndpoint") or None
    if local:
        host = urlsplit(endpoint if endpoint and "://" in endpoint else f"https://{endpoint}").hostname or ""
        if not endpoint or not is_loopback(host):
            raise CliError("the local stack names no Green emulator on loopback (its functions' GREEN_ENDPOINT): "
                           "start it with the local pipeline (make review-demo)")
    return GreenClient(credentials, region=parameters.get("GreenRegion") or "cn-shanghai", endpoint=endpoint,
                       retry=RetryPolicy(max_attempts=2), connect_timeout=5.0, read_timeout=10.0)


class SqsQueues:
    def __init__(self, client: Any) -> None:
        self._sqs = client

    def receive(self, url: str, *, limit: int, wait_seconds: int, visibility_seconds: int) -> list[Message]:
        response = self._sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=max(1, min(10, limit)), WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_seconds, MessageSystemAttributeNames=["All"])
        return [Message(m["MessageId"], m["Body"], m["ReceiptHandle"], dict(m.get("Attributes") or {}))
                for m in response.get("Messages", [])]

    def send(self, url: str, bodies: Sequence[str]) -> None:
        if not bodies:
            return
        response = self._sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)])
        failed = response.get("Failed") or []
        if failed:
            codes = sorted({str(f.get("Code")) for f in failed})
            raise QueueError(f"SQS refused {len(failed)} of {len(bodies)} messages ({', '.join(codes)})")

    def delete(self, url: str, receipts: Sequence[str]) -> None:
        if receipts:
            self._sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(index), "ReceiptHandle": receipt} for index, receipt in enumerate(receipts)])

    def depth(self, url: str) -> int:
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value) if value else None


class S3Storage:
    def __init__(self, client: Any) -> None:
        self._s3 = client

    def versioned(self, bucket: str) -> bool:
        return str(self._s3.get_bucket_versioning(Bucket=bucket).get("Status")) in ("Enabled", "Suspended")

    def current_objects(self, bucket: str, *, prefix: str = "", after: str | None = None) -> Iterator[Listed]:
        if self.versioned(bucket):
            yield from self._current_versions(bucket, prefix, after)
            return
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if after:
            kwargs["StartAfter"] = after
        while True:
            page = self._s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                yield Listed(bucket, item["Key"], item.get("Size"), str(item.get("ETag") or "").strip('"') or None,
                             None, _iso(item.get("LastModified")))
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def _current_versions(self, bucket: str, prefix: str, after: str | None) -> Iterator[Listed]:
        """The latest version of each key (a key whose latest is a delete marker is not current)."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if after:
            kwargs["KeyMarker"] = after  # keys after this one
        while True:
            page = self._s3.list_object_versions(**kwargs)
            for item in page.get("Versions", []):
                if item.get("IsLatest"):
                    yield Listed(bucket, item["Key"], item.get("Size"),
                                 str(item.get("ETag") or "").strip('"') or None, item.get("VersionId"),
                                 _iso(item.get("LastModified")))
            if not page.get("IsTruncated"):
                return
            kwargs["KeyMarker"] = page["NextKeyMarker"]
            kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def notifications(self, bucket: str) -> dict[str, Any]:
        configuration = dict(self._s3.get_bucket_notification_configuration(Bucket=bucket))
        configuration.pop("ResponseMetadata", None)
        return configuration

    def put_notifications(self, bucket: str, configuration: Mapping[str, Any]) -> None:
        # The other configurations are put back as they were read: S3 need not test their destinations again.
        self._s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=dict(configuration),
                                                       SkipDestinationValidation=True)


class SecretsManagerSecrets:
    def __init__(self, client: Any) -> None:
        self._sm = client

    def read(self, secret_id: str) -> dict[str, Any]:
        raw = self._sm.get_secret_value(SecretId=secret_id).get("SecretString") or "{}"
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise CliError(f"the secret {secret_id.rsplit(':', 1)[-1]} is not a JSON object") from exc
        if not isinstance(value, dict):
            raise CliError(f"the secret {secret_id.rsplit(':', 1)[-1]} is not a JSON object")
        return value

    def write(self, secret_id: str, value: Mapping[str, Any]) -> None:
        self._sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(dict(value)))


class CloudFormationProcessing:
    """ProcessUploads on the deployed stack: an update of that one parameter, with the template and every
    other parameter as they are (what `sam deploy` would otherwise keep as well)."""

    def __init__(self, client: Any, stack_name: str) -> None:
        self._cfn = client
        self._name = stack_name

    @property
    def where(self) -> str:
        return f"stack {self._name!r}, parameter {PROCESS_UPLOADS}"

    def _stack(self) -> dict[str, Any]:
        return dict(self._cfn.describe_stacks(StackName=self._name)["Stacks"][0])

    def enabled(self) -> bool:
        parameters = {str(p["ParameterKey"]): str(p.get("ParameterValue"))
                      for p in self._stack().get("Parameters", [])}
        if PROCESS_UPLOADS not in parameters:
            raise CliError(f"stack {self._name!r} has no {PROCESS_UPLOADS} parameter: deploy the current template "
                           "(make deploy)")
        return parameters[PROCESS_UPLOADS] == "true"

    def enable(self, *, timeout: float) -> None:
        from botocore.exceptions import ClientError, WaiterError

        found = self._stack()
        status = str(found.get("StackStatus", ""))
        if status.endswith("_IN_PROGRESS"):
            raise CliError(f"stack {self._name!r} is busy ({status}): run `greenlight setup` again when it settles")
        keep = [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
                for p in found.get("Parameters", []) if p["ParameterKey"] != PROCESS_UPLOADS]
        try:
            self._cfn.update_stack(StackName=self._name, UsePreviousTemplate=True, Capabilities=CAPABILITIES,
                                   Parameters=[*keep, {"ParameterKey": PROCESS_UPLOADS, "ParameterValue": "true"}])
        except ClientError as exc:
            if "No updates are to be performed" in str(exc.response.get("Error", {}).get("Message", "")):
                return
            raise
        delay = 10
        try:
            self._cfn.get_waiter("stack_update_complete").wait(
                StackName=self._name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, math.ceil(timeout / delay))})
        except WaiterError as exc:
            status = str(self._stack().get("StackStatus", "unknown"))
            if status.endswith("_IN_PROGRESS"):
                raise CliError(f"stack {self._name!r} is still updating after {timeout:.0f} s ({status}): run "
                               "`greenlight setup` again once it is done") from exc
            raise CliError(f"the update of stack {self._name!r} failed ({status}): see its events in the "
                           "CloudFormation console") from exc


class LocalProcessing:
    """The local stack's submit trigger: the resolved `Enabled` of its SQS event in the state file, which the
    local hosts read again while it is off (greenlight_local.lambda_host.run_sqs_source)."""

    def __init__(self, state_file: Path) -> None:
        self._path = state_file

    @property
    def where(self) -> str:
        return f"the local stack's submit trigger ({self._path})"

    def _events(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = []
        for function in (state.get("functions") or {}).values():
            for event in (function.get("events") or {}).values():
                properties = event.get("Properties") or {}
                if event.get("Type") == "SQS" and properties.get("Queue") == state.get("queue_arn"):
                    found.append(properties)
        if not found:
            raise CliError(f"{self._path} names no function taking the scan queue")
        return found

    def _read(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {self._path}: {exc}") from exc
        return state

    def enabled(self) -> bool:
        return all(str(p.get("Enabled", True)).lower() != "false" for p in self._events(self._read()))

    def enable(self, *, timeout: float) -> None:
        state = self._read()
        for properties in self._events(state):
            properties["Enabled"] = True
        state.setdefault("parameters", {})[PROCESS_UPLOADS] = "true"
        # Replaced whole (a host reading it meanwhile sees the old file or the new one, never half of it).
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".state-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=2)
        os.replace(temporary, self._path)


class DynamoStreamBatches:
    MAX_READS = 200  # get_records calls for one batch (a failed batch is at most a few hundred records)

    def __init__(self, client: Any) -> None:
        self._streams = client

    def record_ids(self, batch: Mapping[str, Any]) -> list[str] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            arn, start, end = str(batch["streamArn"]), int(batch["startSequenceNumber"]), \
                int(batch["endSequenceNumber"])
        except (KeyError, TypeError, ValueError):
            return None
        try:
            shards = [str(batch["shardId"])] if batch.get("shardId") else [
                s["ShardId"] for s in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]]
        except (ClientError, BotoCoreError):
            return None  # the stream is gone (the table's stream was turned off, or the table deleted)
        for shard in shards:
            try:
                ids = self._read_shard(arn, shard, start, end)
            except (ClientError, BotoCoreError):  # trimmed (past 24 hours), or not a sequence number of this shard
                continue
            if ids is not None:
                return ids
        return None

    def _read_shard(self, arn: str, shard: str, start: int, end: int) -> list[str] | None:
        iterator = self._streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=str(start),
        ).get("ShardIterator")
        ids: list[str] = []
        seen = False
        for _ in range(self.MAX_READS):
            if not iterator:
                break
            response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records", [])
            if not records:
                break
            for record in records:
                change = record.get("dynamodb") or {}
                sequence = int(change.get("SequenceNumber", 0))
                if sequence > end:
                    return ids if seen else None
                if sequence >= start:
                    seen = True
                    record_id = ((change.get("Keys") or {}).get("id") or {}).get("S", "")
                    if record_id.startswith("v-") and record_id not in ids:
                        ids.append(record_id)
            iterator = response.get("NextShardIterator")
        return ids if seen else None
