"""Submit: turn a batch of S3-created messages into Green scans, grouped up to 100 images a request."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from greenlight.batching import Deferred
from greenlight.events import Ignored, ObjectRef, parse_message
from greenlight.observability import count, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from greenlight.scanning import Scanner


def as_sqs_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as SQS delivers it. An S3 notification or EventBridge event invoked directly (e.g.
    `sam local invoke -e events/submit/sam-s3-put.json`) becomes a batch of one message."""
    records = event.get("Records")
    if isinstance(records, list) and records and all(
            isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records):
        return event
    return {"Records": [{
        "messageId": "direct-invocation",
        "receiptHandle": "",
        "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "",
        "awsRegion": "",
    }]}


def read_record(record: SQSRecord) -> Deferred | None:
    """Parse one SQS message. Messages that announce nothing to scan are acknowledged here."""
    count("MessagesReceived")
    parsed = parse_message(record.body)
    if isinstance(parsed, Ignored):
        count("MessageIgnored")
        logger.info("message ignored", extra={"reason": parsed.reason, "message_id": record.message_id})
        return None
    return Deferred(record.message_id, parsed)


def submit_batch(scanner: Scanner, deferred: Sequence[Deferred], budget: Callable[[], float]) -> dict[str, Exception]:
    """Prepare every object, send them together, and return the messages to retry with why."""
    from greenlight.scanning import Prepared

    pairs: list[tuple[str, ObjectRef]] = [(d.message_id, obj) for d in deferred for obj in d.payload]
    failures: dict[str, Exception] = {}
    # Preparing stops early enough to leave a reserve for sending what was prepared, and one more
    # for recording it: work claimed but not sent is work done twice.
    reserve = scanner.settings.time_reserve
    prepared = scanner.prepare_many([obj for _, obj in pairs], budget=lambda: budget() - 2 * reserve)
    ready: list[tuple[str, Prepared]] = []
    for (message_id, _), outcome in zip(pairs, prepared, strict=True):
        if isinstance(outcome, Exception):
            failures[message_id] = outcome
        elif isinstance(outcome, Prepared):
            ready.append((message_id, outcome))
    report = scanner.send([item for _, item in ready], budget=lambda: budget() - reserve)
    for message_id, item in ready:
        error = report.failures.get(item.obj.data_id)
        if error is not None:
            failures[message_id] = error
    if failures:
        count("MessagesRetried", len(failures))
    logger.info("batch done", extra={"objects": len(pairs), "sent": len(ready) - len(report.failures),
                                     "green_requests": report.requests, "retry_messages": len(failures)})
    return failures
