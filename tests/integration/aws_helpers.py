"""Helpers for the integration tests: events/ payloads, uploads, and SQS events as Lambda builds them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from greenlight_local.processes import ROOT, wait_until
from greenlight_local.stack import LocalStack

EVENTS = ROOT / "events"
FIXTURE: dict[str, Any] = json.loads((EVENTS / "fixture.json").read_text(encoding="utf-8"))


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def receive_sqs_event(stack: LocalStack, expected: int, timeout: float = 10.0) -> dict[str, Any]:
    """The Lambda SQS event for the next `expected` messages on the scan queue (as the ESM builds it)."""
    from greenlight_local.lambda_host import sqs_event

    sqs = stack.client("sqs")
    messages: list[dict[str, Any]] = []

    def enough() -> bool:
        response = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=60, AttributeNames=["All"])
        messages.extend(response.get("Messages", []))
        return len(messages) >= expected

    wait_until(enough, timeout=timeout, interval=0.05, what=f"{expected} queue messages")
    return sqs_event(messages, stack.queue_arn, stack.region)


def upload(stack: LocalStack, key: str, body: bytes, content_type: str = "image/png") -> dict[str, Any]:
    return dict(stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body, ContentType=content_type))


@dataclass
class VerdictTables:
    """The template's verdict table definition (keys and indexes), for an empty copy per test: a
    test's isolation for the price of one CreateTable."""

    dynamodb: Any
    definition: dict[str, Any]
    prefix: str

    @classmethod
    def of(cls, stack: LocalStack) -> VerdictTables:
        dynamodb = stack.client("dynamodb")
        table = dynamodb.describe_table(TableName=stack.table)["Table"]
        indexes = [{"IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index["Projection"]}
                   for index in table["GlobalSecondaryIndexes"]]
        definition = {"KeySchema": table["KeySchema"], "AttributeDefinitions": table["AttributeDefinitions"],
                      "GlobalSecondaryIndexes": indexes}
        return cls(dynamodb, definition, stack.table)

    def fresh(self) -> str:
        name = f"{self.prefix}-{uuid.uuid4().hex[:8]}"
        self.dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **self.definition)
        return name
