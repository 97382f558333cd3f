"""The verdict table in DynamoDB: the production `VerdictStore` (see greenlight.ports).

Items:
- version record, id = ObjectRef.data_id ("v-..."), also Green's dataId; fields as VerdictRecord;
- head record, id = ObjectRef.head_id ("k-..."): the newest write seen for a key.

Indexes: `by-task` (task_id -> id) and `pending` (sparse: pending_shard + due_at, only while a
record is RECEIVED or PENDING, so the poller finds both what to ask Green about and what a failed
submission left stranded).

Every state change is one conditional UpdateItem built by `transition` (greenlight.aws.dynamo_writes)
from `greenlight.domain.states.ALLOWED_FROM`, so a duplicate, late or replayed write fails its
condition and changes nothing. Each change bumps `rev` and appends to `history`; a history that
reaches HISTORY_LIMIT entries is folded (oldest entries dropped and counted) before the change is
written, so a record can always change and never outgrows an item.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from greenlight.aws.dynamo_writes import (
    ConditionalWriter,
    Update,
    client_error,
    condition_failed,
    decided,
    decided_item,
    deserialize,
    record_from_item,
    serialize,
    transition,
)
from greenlight.domain.identity import ObjectRef
from greenlight.domain.record import (
    HISTORY_LIMIT,
    Claim,
    HeadUpdate,
    VerdictRecord,
    history_entry,
    iso,
    object_fields,
    object_name,
)
from greenlight.domain.states import State
from greenlight.green.wire import TaskResult

PENDING_INDEX = "pending"
TASK_INDEX = "by-task"
PENDING_SHARDS = 4
SCHEDULING = ("lease_token", "lease_until", "pending_shard", "due_at")  # attributes of a record in flight


def pending_shard(data_id: str) -> str:
    return f"p{int(data_id[-2:], 16) % PENDING_SHARDS}"


class DynamoVerdictStore:
    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self.table_name = table_name
        self._clock = clock
        self._writer = ConditionalWriter(client, table_name)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, record_id: str) -> VerdictRecord | None:
        response = self._client.get_item(TableName=self.table_name, Key={"id": {"S": record_id}}, ConsistentRead=True)
        item = response.get("Item")
        return record_from_item(item) if item and "state" in item else None

    def find_by_task(self, task_id: str) -> VerdictRecord | None:
        response = self._client.query(TableName=self.table_name, IndexName=TASK_INDEX,
                                      KeyConditionExpression="task_id = :t",
                                      ExpressionAttributeValues={":t": {"S": task_id}}, Limit=5)
        for item in response.get("Items", []):
            return self.get(item["id"]["S"])
        return None

    def due(self, now: float, limit: int) -> list[VerdictRecord]:
        found: list[VerdictRecord] = []
        for shard in range(PENDING_SHARDS):
            response = self._client.query(
                TableName=self.table_name, IndexName=PENDING_INDEX,
                KeyConditionExpression="pending_shard = :s AND due_at <= :now",
                ExpressionAttributeValues={":s": {"S": f"p{shard}"}, ":now": {"N": repr(float(now))}}, Limit=limit)
            found.extend(record_from_item(i) for i in response.get("Items", []))
        found = [r for r in found if r.state in (State.RECEIVED, State.PENDING)]
        found.sort(key=lambda r: r.due_at or 0)
        return found[:limit]

    # -- writes that are not state changes ----------------------------------------------------------

    def advance_head(self, obj: ObjectRef) -> HeadUpdate:
        update = Update()
        order, latest = update.name("latest_order"), update.name("latest_id")
        o, v = update.value(obj.order), update.value(obj.data_id)
        update.sets.append(f"{order} = {o}")
        update.sets.append(f"{latest} = {v}")
        update.set("bucket", obj.bucket)
        update.set("key", obj.key)
        # The same write announced twice (an S3 notification and an EventBridge event) is never older than itself.
        update.require(f"(attribute_not_exists({order}) OR {order} < {o} OR {latest} = {v})")
        try:
            response = self._client.update_item(**update.kwargs(self.table_name, obj.head_id), ReturnValues="ALL_OLD")
        except client_error() as exc:
            if condition_failed(exc):
                return HeadUpdate(newest=False)
            raise
        previous = deserialize(response.get("Attributes") or {}).get("latest_id")
        return HeadUpdate(newest=True, previous_id=previous if previous != obj.data_id else None)

    def claim(self, obj: ObjectRef, *, lease_seconds: float, max_attempts: int, by: str) -> Claim:
        now = self._clock()
        token = uuid.uuid4().hex
        item = {
            **self._new_item(obj),
            "state": State.RECEIVED.value, "rev": 1, "attempts": 1, "recoveries": 0,
            "lease_token": token, "lease_until": now + lease_seconds,
            "pending_shard": pending_shard(obj.data_id), "due_at": now + lease_seconds,
            "created_at": iso(now), "updated_at": iso(now),
            "history": [history_entry(State.RECEIVED, now, by)],
        }
        try:
            self._client.put_item(TableName=self.table_name, Item=serialize(item),
                                  ConditionExpression="attribute_not_exists(#id)",
                                  ExpressionAttributeNames={"#id": "id"})
            return Claim(claimed=True, lease_token=token, attempts=1)
        except client_error() as exc:
            if not condition_failed(exc):
                raise
        existing = self.get(obj.data_id)
        if (existing is None or existing.state is not State.RECEIVED or (existing.lease_until or 0) > now
                or existing.attempts >= max_attempts):
            return Claim(claimed=False, existing=existing)
        update = transition(State.RECEIVED, now, by)
        update.require(f"{update.name('lease_token')} = {update.value(existing.lease_token or '')}")
        update.require(f"{update.name('attempts')} < {update.value(max_attempts)}")
        update.set("lease_token", token)
        update.set("lease_until", now + lease_seconds)
        update.set("due_at", now + lease_seconds)
        update.add("attempts", 1)
        if by != "submit":
            update.add("recoveries", 1)
        if self._writer.apply(obj.data_id, update):
            return Claim(claimed=True, lease_token=token, takeover=True, attempts=existing.attempts + 1)
        return Claim(claimed=False, existing=self.get(obj.data_id))

    def release(self, record_id: str, lease_token: str, *, retry_at: float, unsent: bool) -> bool:
        update = Update()
        update.set("lease_until", 0)
        update.set("due_at", retry_at)
        update.set("updated_at", iso(self._clock()))
        if unsent:
            update.add("attempts", -1)
        update.require(f"{update.name('state')} = {update.value(State.RECEIVED.value)}")
        update.require(f"{update.name('lease_token')} = {update.value(lease_token)}")
        return self._writer.write(record_id, update)

    def reserve_rescan(self, record_id: str, *, task_id: str | None, max_attempts: int, due_at: float) -> bool:
        update = Update()
        update.add("attempts", 1)
        update.set("due_at", due_at)
        update.require(f"{update.name('state')} = {update.value(State.PENDING.value)}")
        update.require(f"{update.name('attempts')} < {update.value(max_attempts)}")
        update.require(self._task_is(update, task_id))
        return self._writer.write(record_id, update)

    def reschedule(self, record_id: str, *, task_id: str | None, due_at: float, last_code: int | None = None,
                   only_earlier: bool = False, return_attempt: bool = False) -> bool:
        update = Update()
        update.set("due_at", due_at)
        update.set("last_code", last_code)
        if return_attempt:
            update.add("attempts", -1)
        update.require(f"{update.name('state')} = {update.value(State.PENDING.value)}")
        update.require(self._task_is(update, task_id))
        if only_earlier:
            update.require(f"{update.name('due_at')} > {update.value(due_at)}")
        return self._writer.write(record_id, update)

    # -- what was done about a decision ---------------------------------------------------------------

    def record_enforcement(self, record_id: str, *, decision_rev: int, enforcement: Mapping[str, Any],
                           entries: Sequence[Mapping[str, Any]]) -> bool:
        """What enforcing decision `decision_rev` did, with history entries; only while it is still the
        record's decision (a newer one is enforced on its own)."""
        update = Update()
        history = update.name("history")
        update.set("enforcement", dict(enforcement))
        update.set("updated_at", iso(self._clock()))
        update.sets.append(f"{history} = list_append(if_not_exists({history}, {update.value([])}), "
                           f"{update.value([dict(e) for e in entries])})")
        update.add("rev", 1)
        update.require(f"{update.name('decision_rev')} = {update.value(decision_rev)}")
        update.require(f"(attribute_not_exists({history}) OR size({history}) < {update.value(HISTORY_LIMIT)})")
        return self._writer.apply(record_id, update)

    def set_quarantine(self, record_id: str, quarantine: Mapping[str, Any] | None) -> bool:
        """Where the version now is (written as soon as it is copied, before its key stops serving it),
        or None once it is back."""
        update = Update()
        update.set("quarantine", dict(quarantine) if quarantine else None)
        update.require(f"attribute_exists({update.name('id')})")
        return self._writer.write(record_id, update)

    # -- state changes ------------------------------------------------------------------------------

    def create_superseded(self, obj: ObjectRef, *, reason: str, by: str,
                          decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        item = {**self._new_item(obj), "state": State.SUPERSEDED.value, "rev": 1, "attempts": 0, "reason": reason,
                "source": by, "created_at": iso(now), "updated_at": iso(now), "finished_at": iso(now),
                "history": [history_entry(State.SUPERSEDED, now, by, reason=reason)]}
        if decision:
            item.update(decided_item(now, decision))
        try:
            self._client.put_item(TableName=self.table_name, Item=serialize(item),
                                  ConditionExpression="attribute_not_exists(#id)",
                                  ExpressionAttributeNames={"#id": "id"})
            return True
        except client_error() as exc:
            if condition_failed(exc):
                return self.supersede(obj.data_id, reason=reason, by=by, decision=decision)
            raise

    def supersede(self, record_id: str, *, reason: str, by: str, decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        update = transition(State.SUPERSEDED, now, by, reason=reason)
        decided(update, now, decision)
        update.set("reason", reason)
        update.set("source", by)
        update.set("finished_at", iso(now))
        for name in SCHEDULING:
            update.remove(name)
        return self._writer.apply(record_id, update)

    def mark_pending(self, record_id: str, *, lease_token: str, task_id: str, due_at: float,
                     url_expires_at: float | None, details: Mapping[str, Any] | None, by: str) -> bool:
        now = self._clock()
        update = transition(State.PENDING, now, by, task_id=task_id, from_states=(State.RECEIVED,))
        update.require(f"{update.name('lease_token')} = {update.value(lease_token)}")
        self._submitted(update, now, task_id, due_at, url_expires_at)
        for name, value in (details or {}).items():
            update.set(name, value)
        update.remove("lease_token")
        update.remove("lease_until")
        update.add_to_set("task_ids", task_id)
        return self._writer.apply(record_id, update)

    def resubmitted(self, record_id: str, *, task_id: str, due_at: float, url_expires_at: float | None,
                    reason: str, by: str) -> bool:
        now = self._clock()
        update = transition(State.PENDING, now, by, task_id=task_id, reason=reason, from_states=(State.PENDING,))
        self._submitted(update, now, task_id, due_at, url_expires_at)
        update.set("reason", reason)
        update.add_to_set("task_ids", task_id)
        return self._writer.apply(record_id, update)

    def finish(self, record_id: str, state: State, *, by: str, reason: str | None = None,
               result: TaskResult | None = None, details: Mapping[str, Any] | None = None,
               decision: Mapping[str, Any] | None = None) -> bool:
        if state not in (State.FINAL, State.SKIPPED, State.ERROR):
            raise ValueError(f"finish() records a verdict; {state} has its own write")
        now = self._clock()
        # Green's verdict also replaces a give-up (greenlight.domain.states.LATE_VERDICT_FROM)
        late_verdict = state is State.FINAL and result is not None
        update = transition(state, now, by, reason=reason, task_id=result.task_id if result else None,
                            late_verdict=late_verdict)
        decided(update, now, decision)
        update.set("finished_at", iso(now))
        update.set("source", by)
        update.set("reason", reason)
        for name, value in (details or {}).items():
            if value is not None:
                update.set(name, value)
        if result is not None:
            update.set("result_code", result.code)
            if result.task_id:
                update.set("task_id", result.task_id)
            if state is State.FINAL:
                update.set("suggestion", result.suggestion)
                update.set("scenes", {r.scene: {"label": r.label, "suggestion": r.suggestion, "rate": r.rate}
                                      for r in result.results})
        for name in SCHEDULING:
            update.remove(name)
        return self._writer.apply(record_id, update)

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _new_item(obj: ObjectRef) -> dict[str, Any]:
        """A new record's object fields, and the key the lookup index (bucket/key -> versions) files it under."""
        return {**object_fields(obj), "object": object_name(obj.bucket, obj.key)}

    @staticmethod
    def _task_is(update: Update, task_id: str | None) -> str:
        if task_id is None:
            return f"attribute_not_exists({update.name('task_id')})"
        return f"{update.name('task_id')} = {update.value(task_id)}"

    @staticmethod
    def _submitted(update: Update, now: float, task_id: str, due_at: float, url_expires_at: float | None) -> None:
        update.set("task_id", task_id)
        update.set("submitted_at", iso(now))
        update.set("submitted_epoch", now)
        update.set("due_at", due_at)
        update.set("url_expires_at", iso(url_expires_at) if url_expires_at else None)

