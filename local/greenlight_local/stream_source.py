"""A DynamoDB stream event source for local runs, as Lambda's event source mapping drives one.

moto keeps a table's stream but nothing invokes a function from it: this reads every shard
(get_records through shard iterators, from TRIM_HORIZON or LATEST as the template says), keeps the
records the event source's FilterCriteria admit, invokes the handler with batches of BatchSize,
and honours ReportBatchItemFailures: a batch whose response names a failed sequence number is
retried from that record, at most MaximumRetryAttempts times, after which the records go to the
on-failure destination (an SQS queue) and the shard moves on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

Invoke = Callable[[dict[str, Any]], Any]


def matches(pattern: Any, value: Any) -> bool:
    """An event-filter pattern (the subset the template uses: nested objects, lists of allowed values,
    {"prefix": ...}, {"exists": ...}) against a record."""
    if isinstance(pattern, Mapping):
        if not isinstance(value, Mapping):
            return False
        return all(_field(rule, name in value, value.get(name)) for name, rule in pattern.items())
    return False


def _field(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, Mapping):
        return present and matches(rule, value)
    if isinstance(rule, list):
        return any(_allowed(option, present, value) for option in rule)
    return False


def _allowed(option: Any, present: bool, value: Any) -> bool:
    if isinstance(option, Mapping):
        if "exists" in option:
            return bool(option["exists"]) == present
        if "prefix" in option:
            return present and isinstance(value, str) and value.startswith(str(option["prefix"]))
        return False
    return present and value == option


def admitted(record: Mapping[str, Any], filters: list[Any]) -> bool:
    return not filters or any(matches(json.loads(f["Pattern"]), record) for f in filters)


class StreamSource:
    def __init__(self, *, streams: Any, sqs: Any, stream_arn: str, properties: Mapping[str, Any],
                 queue_urls: Mapping[str, str], invoke: Invoke, log: Callable[[str], None]) -> None:
        self._streams = streams
        self._sqs = sqs
        self._arn = stream_arn
        self._batch = int(properties.get("BatchSize", 100))
        self._start = str(properties.get("StartingPosition", "LATEST"))
        self._retries = int(properties.get("MaximumRetryAttempts", 2))
        self._filters = list((properties.get("FilterCriteria") or {}).get("Filters") or [])
        destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self._failure_queue = queue_urls.get(str(destination)) if destination else None
        self._invoke = invoke
        self._log = log
        self._iterators: dict[str, str | None] = {}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            busy = False
            try:
                busy = self._poll_once()
            except Exception as exc:  # the source keeps going, as the event source mapping does
                self._log(f"stream source error: {exc!r}")
            if not busy:
                stop.wait(0.2)

    def _poll_once(self) -> bool:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self._iterator(shard["ShardId"], self._start)
        busy = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=iterator, Limit=self._batch)
            self._iterators[shard_id] = response.get("NextShardIterator")
            records = [r for r in response.get("Records", []) if admitted(r, self._filters)]
            if records:
                busy = True
                self._deliver(records)
        return busy

    def _iterator(self, shard_id: str, position: str, sequence: str | None = None) -> str | None:
        kwargs: dict[str, Any] = {"StreamArn": self._arn, "ShardId": shard_id, "ShardIteratorType": position}
        if sequence is not None:
            kwargs["SequenceNumber"] = sequence
        iterator = self._streams.get_shard_iterator(**kwargs).get("ShardIterator")
        return str(iterator) if iterator else None

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        pending = [{**r, "eventSourceARN": self._arn} for r in records]
        for _ in range(self._retries + 1):
            try:
                result = self._invoke({"Records": pending}) or {}
            except Exception as exc:  # the whole batch comes back
                self._log(f"stream invocation failed: {exc!r}")
                continue
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures", [])}
            if not failed:
                return
            first = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failed)
            pending = pending[first:]  # Lambda retries from the first failed record on
        self._send_to_failure_destination(pending)

    def _send_to_failure_destination(self, records: list[dict[str, Any]]) -> None:
        self._log(f"stream records given up after retries: {len(records)}")
        if self._failure_queue is None:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        self._sqs.send_message(QueueUrl=self._failure_queue, MessageBody=json.dumps({
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {"streamArn": self._arn, "batchSize": len(records),
                                   "startSequenceNumber": first["SequenceNumber"],
                                   "endSequenceNumber": last["SequenceNumber"]},
        }))
