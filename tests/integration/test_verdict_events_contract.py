"""The VerdictEvents contract: the recording fake (tests/fakes) and EventBridge on moto deliver the same
events, so logic tested on the fake holds on the bus.

On moto each test gets a bus of its own with a rule like the stack's (source and detail-type) targeting
an SQS queue; what a consumer reads from the queue is compared with what was published.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fakes.verdict_events import PublishedEvent, RecordingVerdictEvents
from greenlight.aws.verdict_events import MAX_BYTES, EventBridgeVerdictEvents
from greenlight.ports import VerdictEvents

SOURCE = "greenlight"
DETAIL_TYPE = "Greenlight Verdict"


def verdict(n: int, **extra: Any) -> dict[str, Any]:
    return {"record_id": f"v-{n:04d}", "state": "BLOCKED", "object": {"bucket": "uploads", "key": f"photos/{n}.png"},
            "labels": ["porn", "terrorism"], "rate": 99.5, "actions": [], "override": None, **extra}


@dataclass
class Bus:
    events: VerdictEvents
    received: Callable[[int], list[PublishedEvent]]  # received(n): what consumers got, waiting for n at most


@dataclass
class Moto:
    events: Any
    sqs: Any


@pytest.fixture(scope="module")
def moto_clients(moto_url: str) -> Moto:
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="us-east-1")
    return Moto(session.client("events", endpoint_url=moto_url), session.client("sqs", endpoint_url=moto_url))


def moto_bus(clients: Moto) -> Bus:
    name = f"greenlight-verdicts-{uuid.uuid4().hex[:8]}"
    clients.events.create_event_bus(Name=name)
    queue = clients.sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = clients.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients.events.put_rule(Name=name, EventBusName=name, State="ENABLED",
                            EventPattern=json.dumps({"source": [SOURCE], "detail-type": [DETAIL_TYPE]}))
    clients.events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "verdict-queue", "Arn": queue_arn}])

    def received(expected: int) -> list[PublishedEvent]:
        """Every message the queue holds, waiting (at most 10 s) until `expected` have arrived."""
        got: list[PublishedEvent] = []
        deadline = time.monotonic() + 10
        while True:
            wait = 1 if len(got) < expected and time.monotonic() < deadline else 0
            messages = clients.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=wait).get("Messages", [])
            if not messages and (len(got) >= expected or time.monotonic() >= deadline):
                return got
            for message in messages:
                body = json.loads(message["Body"])
                got.append(PublishedEvent(body["source"], body["detail-type"], body["detail"]))
                clients.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    return Bus(EventBridgeVerdictEvents(clients.events, name, source=SOURCE, detail_type=DETAIL_TYPE), received)


def memory_bus() -> Bus:
    fake = RecordingVerdictEvents(source=SOURCE, detail_type=DETAIL_TYPE)
    return Bus(fake, lambda expected: list(fake.published))


@pytest.fixture(params=["memory", pytest.param("eventbridge", marks=pytest.mark.integration)])
def bus(request: pytest.FixtureRequest) -> Bus:
    if request.param == "memory":
        return memory_bus()
    return moto_bus(request.getfixturevalue("moto_clients"))


def by_record(events: list[PublishedEvent]) -> dict[str, PublishedEvent]:
    return {str(e.detail["record_id"]): e for e in events}


def test_published_events_reach_consumers_with_their_source_type_and_detail(bus: Bus) -> None:
    # Given verdicts with nested values and non-ASCII text
    events = [verdict(1), verdict(2, note="photo d'été, 猫"), verdict(3, nested={"a": [1, 2, {"b": True}]})]

    # When they are published
    failed = bus.events.publish(events)

    # Then none failed, and consumers get each once, as published
    assert failed == []
    got = bus.received(len(events))
    assert len(got) == len(events)
    assert by_record(got) == {str(e["record_id"]): PublishedEvent(SOURCE, DETAIL_TYPE, e) for e in events}


def test_more_events_than_one_request_takes_are_all_published(bus: Bus) -> None:
    # PutEvents takes at most 10 entries (moto refuses 11 as EventBridge does)
    events = [verdict(n) for n in range(23)]

    assert bus.events.publish(events) == []

    got = bus.received(len(events))
    assert sorted(by_record(got)) == sorted(str(e["record_id"]) for e in events)
    assert len(got) == len(events)


def test_an_event_too_large_for_eventbridge_fails_alone_and_is_not_sent(bus: Bus) -> None:
    # Given three verdicts, the middle one over EventBridge's 256 KiB entry limit
    events = [verdict(1), verdict(2, blob="x" * MAX_BYTES), verdict(3)]

    # When they are published, its index is reported failed (moto would accept it: the adapter must refuse)
    assert bus.events.publish(events) == [1]

    # Then only the others reach consumers
    got = bus.received(2)
    assert sorted(by_record(got)) == ["v-0001", "v-0003"]

