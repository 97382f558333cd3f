"""Read back what moderation did, from the places a user would look: the object in S3 (still at its
key? its tags? in quarantine?) and the verdict events on the bus (through a queue subscribed to it).

Used by `make demo` and the end-to-end tests to check enforcement from the outside.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from greenlight.domain.record import VerdictRecord
from greenlight_local.stack import LocalStack

DECISION_TAG = "greenlight-decision"


@dataclass(frozen=True)
class ObjectState:
    at_key: bool  # the judged version is still served at its key
    tags: dict[str, str] = field(default_factory=dict)  # of the judged version (or its quarantine copy)
    quarantined_at: str | None = None  # s3://bucket/key of the quarantine copy, if there is one


def object_state(stack: LocalStack, record: VerdictRecord) -> ObjectState:
    s3 = stack.client("s3")
    version = {"VersionId": record.version_id} if record.version_id and record.version_id != "null" else {}
    try:
        s3.head_object(Bucket=record.bucket, Key=record.key, **version)
        tags = s3.get_object_tagging(Bucket=record.bucket, Key=record.key, **version)["TagSet"]
        return ObjectState(True, {t["Key"]: t["Value"] for t in tags})
    except s3.exceptions.ClientError:
        pass
    where = record.quarantine or {}
    if where.get("bucket") and where.get("key"):
        try:
            tags = s3.get_object_tagging(Bucket=where["bucket"], Key=where["key"])["TagSet"]
            return ObjectState(False, {t["Key"]: t["Value"] for t in tags}, f"s3://{where['bucket']}/{where['key']}")
        except s3.exceptions.ClientError:
            pass
    return ObjectState(False)


class BusSubscription:
    """An SQS queue behind a rule on the verdict bus matching greenlight's events: what a consumer sees."""

    def __init__(self, stack: LocalStack, bus: str = "default", source: str = "greenlight") -> None:
        self._sqs = stack.client("sqs")
        name = f"verdict-events-{int(time.time() * 1000)}"
        self.queue_url: str = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        events = stack.client("events")
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        self.received: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        """Every event received so far (each a full EventBridge event with its detail)."""
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return self.received
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def details(self) -> list[dict[str, Any]]:
        return [event["detail"] for event in self.drain()]
