"""The verdict table's DynamoDB stream, read from its first change to its last, as Lambda would read it.

Every successful write is one stream record with the item before and after (NEW_AND_OLD_IMAGES), so
the stream shows what snapshots of the table cannot: each transition, in order, over the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from greenlight_local.stack import LocalStack

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Change:
    sequence: int
    event: str  # INSERT | MODIFY | REMOVE
    id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    at: float = 0.0  # epoch seconds (ApproximateCreationDateTime)


def _image(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    return {name: _deserializer.deserialize(value) for name, value in raw.items()}


class StreamFollower:
    """Reads the stream as it grows (each record once, like Lambda's event source mapping), keeping every
    change and the latest image of each item. Far cheaper than scanning the table: the harness watches
    the run through this, so its own reads do not slow the system it measures."""

    def __init__(self, stack: LocalStack, *, prefix: str = "v-") -> None:
        self._streams = stack.client("dynamodbstreams")
        self._arn = stack.table_stream_arn()
        self._prefix = prefix
        self._iterators: dict[str, str | None] = {}
        self.changes: list[Change] = []
        self.latest: dict[str, dict[str, Any]] = {}  # id -> the item as its last change left it

    def poll(self) -> int:
        """Read what is new; returns how many changes were read."""
        read = 0
        for shard in self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while self._iterators[shard_id]:
                response = self._streams.get_records(ShardIterator=self._iterators[shard_id], Limit=1000)
                records = response.get("Records", [])
                if records:
                    self._iterators[shard_id] = response.get("NextShardIterator")
                for record in records:
                    self._take(record)
                read += len(records)
                if len(records) < 1000:
                    break
        return read

    def _take(self, record: dict[str, Any]) -> None:
        data = record["dynamodb"]
        record_id = str(data["Keys"]["id"]["S"])
        if not record_id.startswith(self._prefix):
            return
        created = data.get("ApproximateCreationDateTime")
        change = Change(int(data["SequenceNumber"]), record["eventName"], record_id, _image(data.get("OldImage")),
                        _image(data.get("NewImage")), created.timestamp() if hasattr(created, "timestamp") else 0.0)
        self.changes.append(change)
        if change.new is None:
            self.latest.pop(record_id, None)
        else:
            self.latest[record_id] = change.new
