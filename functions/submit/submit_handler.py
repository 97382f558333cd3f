"""Submit function: SQS batch of S3 "Object Created" events -> Green async scans (or sync verdicts)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from greenlight import wiring
from greenlight.batching import DeferredBatchProcessor
from greenlight.observability import instrument, logger, metrics
from submit_logic import as_sqs_event, read_record, submit_batch


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scanner = wiring.scanner(wiring.scan_settings())

    def remaining_seconds() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    processor = DeferredBatchProcessor(
        flush=lambda deferred: submit_batch(scanner, deferred, budget=remaining_seconds),
        raise_on_entire_batch_failure=False,
    )
    return dict(process_partial_response(event=as_sqs_event(event), record_handler=read_record, processor=processor,
                                         context=context))
