"""A Powertools BatchProcessor whose records can defer their work to one shared flush.

Green takes up to 100 images a request, so the submit function parses every SQS record first
(the ordinary per-record handler, with Powertools' failure accounting) and then sends all the
images of the batch together. The record handler returns a `Deferred`; once every record is
handled, `flush` gets all of them at once and returns the message ids whose work must be retried,
which then become batch item failures like any record that raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


@dataclass
class Deferred:
    """Work for one SQS record, done later by the processor's flush."""

    message_id: str
    payload: Any


Flush = Callable[[Sequence[Deferred]], dict[str, Exception]]


class DeferredBatchProcessor(BatchProcessor):
    def __init__(self, flush: Flush, **kwargs: Any) -> None:
        super().__init__(EventType.SQS, **kwargs)
        self._flush = flush

    def process(self) -> list[tuple[Any, ...]]:
        results = super().process()
        deferred = [result for status, result, _ in results if status == "success" and isinstance(result, Deferred)]
        if not deferred:
            return results
        failed = self._flush(deferred)
        if not failed:
            return results
        final: list[tuple[Any, ...]] = []
        for entry in results:
            status, result, record = entry
            error = failed.get(result.message_id) if isinstance(result, Deferred) else None
            if status == "success" and error is not None:
                self.success_messages.remove(record)
                entry = self.failure_handler(record=SQSRecord(record), exception=(type(error), error,
                                                                                   error.__traceback__))
            final.append(entry)
        return final
