"""What people need from the verdict table: every version of an object, the review queue, overrides
and what Green was told about them. The production `ReviewStore` (greenlight.ports).

Indexes: `by-object` (object = "bucket/key", created_at: every version of a key, newest first) and
`review` (review_queue = "open" only while a record's decision is review, decided_at: oldest first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from greenlight.aws.dynamo_writes import (
    OPEN,
    REVIEW_QUEUE,
    ConditionalWriter,
    Update,
    decided,
    record_from_item,
    transition,
)
from greenlight.domain.record import VerdictRecord, iso, object_name
from greenlight.domain.states import State

OBJECT_INDEX = "by-object"
REVIEW_INDEX = "review"


class DynamoReviews:
    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self.table_name = table_name
        self._clock = clock
        self._writer = ConditionalWriter(client, table_name)

    def versions_of(self, bucket: str, key: str, *, limit: int = 50) -> list[VerdictRecord]:
        response = self._client.query(
            TableName=self.table_name, IndexName=OBJECT_INDEX, KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "object"},
            ExpressionAttributeValues={":o": {"S": object_name(bucket, key)}}, ScanIndexForward=False, Limit=limit)
        return [record_from_item(item) for item in response.get("Items", [])]

    def review_queue(self, *, limit: int = 50) -> list[VerdictRecord]:
        response = self._client.query(
            TableName=self.table_name, IndexName=REVIEW_INDEX, KeyConditionExpression="#q = :open",
            ExpressionAttributeNames={"#q": REVIEW_QUEUE}, ExpressionAttributeValues={":open": {"S": OPEN}},
            ScanIndexForward=True, Limit=limit)
        records = [record_from_item(item) for item in response.get("Items", [])]
        return [r for r in records if r.decision == "review"]  # the index may lag a moment behind the table

    def override(self, record: VerdictRecord, *, decision: Mapping[str, Any], actor: str, reason: str,
                 request_id: str) -> bool:
        """Replace `record`'s decision (as the person saw it: refused if it changed since); a request
        already applied changes nothing."""
        now = self._clock()
        update = transition(State.OVERRIDDEN, now, actor, reason=reason)
        decided(update, now, decision)
        update.set("override", {"request_id": request_id, "by": actor, "at": iso(now), "reason": reason,
                                "decision": decision.get("decision"), "previous_decision": record.decision,
                                "previous_state": record.state.value, "decision_rev": record.decision_rev + 1})
        update.add_to_set("override_ids", request_id)
        ids = update.name("override_ids")
        update.require(f"NOT contains({ids}, {update.value(request_id)})")
        update.require(f"{update.name('decision_rev')} = {update.value(record.decision_rev)}")
        return self._writer.apply(record.id, update)

    def record_feedback(self, record_id: str, feedback: Mapping[str, Any]) -> bool:
        update = Update()
        update.set("feedback", dict(feedback))
        update.require(f"attribute_exists({update.name('id')})")
        return self._writer.write(record_id, update)
