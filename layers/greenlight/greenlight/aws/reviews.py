"""What people need from the verdict table: every version of an object, the review queue, overrides
and what Green was told about them, a rescan of what was not scanned, and (for an operator's rare
commands) a full read of the table. The production `ReviewStore` (greenlight.ports).

Indexes: `by-object` (object = "bucket/key", created_at: every version of a key, newest first) and
`review` (review_queue = "open" only while a record's decision is review, decided_at: oldest first).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
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
from greenlight.aws.verdict_table import pending_shard
from greenlight.domain.record import HISTORY_LIMIT, VerdictRecord, history_entry, iso, object_name
from greenlight.domain.states import REOPENABLE, State, may_reopen

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

    def reopen(self, record: VerdictRecord, *, actor: str, reason: str) -> bool:
        """A person's rescan: ERROR or SKIPPED (as `record` was read: its `rev`) -> RECEIVED, due now in the
        `pending` index with an expired lease, no attempts and no recoveries, so the poller's recovery
        takes it over and submits it (greenlight.ports.ReviewStore.reopen)."""
        if not may_reopen(record.state):
            return False
        now = self._clock()
        # Not `transition`: that builds the pipeline's transitions (ALLOWED_FROM), and no automatic write may
        # take a terminal record back. The same parts, from the person's own table (REOPENABLE).
        update = Update()
        state, history = update.name("state"), update.name("history")
        update.require(f"attribute_exists({update.name('id')})")
        update.require(f"{state} IN ({', '.join(update.value(s.value) for s in sorted(REOPENABLE))})")
        update.require(f"{update.name('rev')} = {update.value(record.rev)}")
        update.require(f"(attribute_not_exists({history}) OR size({history}) < {update.value(HISTORY_LIMIT)})")
        update.sets.append(f"{state} = {update.value(State.RECEIVED.value)}")
        entry = update.value([history_entry(State.RECEIVED, now, actor, reason=reason)])
        update.sets.append(f"{history} = list_append(if_not_exists({history}, {update.value([])}), {entry})")
        update.add("rev", 1)
        update.set("updated_at", iso(now))
        update.set("attempts", 0)
        update.set("recoveries", 0)
        # An expired lease (a claim takes a RECEIVED record over by its token once `lease_until` has passed).
        update.set("lease_token", uuid.uuid4().hex)
        update.set("lease_until", 0)
        update.set("due_at", now)
        update.set("pending_shard", pending_shard(record.id))
        for name in ("reason", "finished_at", "last_code", REVIEW_QUEUE):
            update.remove(name)
        return self._writer.apply(record.id, update)

    def scan(self, *, states: Collection[State] = (), unenforced: bool = False,
             on_page: Callable[[int], None] | None = None) -> Iterator[VerdictRecord]:
        """A paginated Scan: DynamoDB reads (and bills) every item; the filter only trims what comes back."""
        names = {"#id": "id"}
        values: dict[str, Any] = {":v": {"S": "v-"}}
        conditions = ["begins_with(#id, :v)"]
        if states:
            names["#s"] = "state"
            placeholders = []
            for index, wanted in enumerate(sorted(states)):
                values[f":s{index}"] = {"S": wanted.value}
                placeholders.append(f":s{index}")
            conditions.append(f"#s IN ({', '.join(placeholders)})")
        if unenforced:
            names["#dr"] = "decision_rev"
            conditions.append("attribute_exists(#dr)")
        kwargs: dict[str, Any] = {"TableName": self.table_name, "FilterExpression": " AND ".join(conditions),
                                  "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        while True:
            page = self._client.scan(**kwargs)
            if on_page is not None:
                on_page(int(page.get("ScannedCount", 0)))
            for item in page.get("Items", []):
                record = record_from_item(item)
                if not unenforced or not_enforced(record):
                    yield record
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def not_enforced(record: VerdictRecord) -> bool:
    """Whether the record's current decision still waits for the enforce function."""
    return record.decision_rev > 0 and bool(record.decision) and \
        record.enforcement.get("decision_rev") != record.decision_rev
