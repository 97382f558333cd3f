"""Submit function: SQS batches of S3 "Object Created" events -> Green scans (or sync verdicts)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from greenlight.domain.outcomes import Tally
from greenlight.runtime.batching import Deferred, DeferredBatchProcessor
from greenlight.runtime.components import Dependencies, scan_ports
from greenlight.runtime.config import SubmitSettings
from greenlight.runtime.observability import instrument, logger, metrics, publish
from greenlight.scanning.submission import Submission
from submit_logic import read_message, submit_batch


@dataclass(frozen=True)
class SubmitDependencies:
    settings: SubmitSettings
    submission: Submission


def build() -> SubmitDependencies:
    settings = SubmitSettings.from_env(os.environ)
    return SubmitDependencies(settings, Submission(scan_ports(settings.scan), settings.scan, by="submit"))


dependencies = Dependencies(build)


def as_sqs_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as SQS delivers it. An S3 notification or EventBridge event invoked directly (e.g.
    `sam local invoke -e events/submit/sam-s3-put.json`) becomes a batch of one message."""
    records = event.get("Records")
    if isinstance(records, list) and records and all(
            isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records):
        return event
    return {"Records": [{
        "messageId": "direct-invocation", "receiptHandle": "", "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "", "awsRegion": "",
    }]}


# A batch has no request id of its own: its first message's id names the invocation (each line about an
# object also carries the object's key and dataId).
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId", clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies.get()
    tally = Tally()

    def remaining_seconds() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    def read(record: SQSRecord) -> Deferred | None:
        return read_message(record.message_id, record.body, tally)

    processor = DeferredBatchProcessor(
        flush=lambda deferred: submit_batch(deferred, submission=deps.submission, settings=deps.settings,
                                            budget=remaining_seconds, tally=tally),
        raise_on_entire_batch_failure=False,
    )
    try:
        return dict(process_partial_response(event=as_sqs_event(event), record_handler=read, processor=processor,
                                             context=context))
    finally:
        publish(tally, policy=deps.submission.ports.policy)
