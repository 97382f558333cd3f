"""The verdict table in DynamoDB: the production `VerdictStore` (see greenlight.ports).

Items:
- version record, id = ObjectRef.data_id ("v-..."), also Green's dataId; fields as VerdictRecord;
- head record, id = ObjectRef.head_id ("k-..."): the newest write seen for a key.

Indexes: `by-task` (task_id -> id) and `pending` (sparse: pending_shard + due_at, only while a
record is RECEIVED or PENDING, so the poller finds both what to ask Green about and what a failed
submission left stranded).

Every state change is one conditional UpdateItem built by `_Transition` from
`greenlight.domain.states.ALLOWED_FROM`, so a duplicate, late or replayed write fails its condition
and changes nothing. Each change bumps `rev` and appends to `history`; a history that reaches
HISTORY_LIMIT entries is folded (oldest entries dropped and counted) before the change is written,
so a record can always change and never outgrows an item.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.domain.record import (
    HISTORY_LIMIT,
    Claim,
    HeadUpdate,
    VerdictRecord,
    history_entry,
    iso,
    object_fields,
)
from greenlight.domain.states import ALLOWED_FROM, State
from greenlight.green.wire import TaskResult

PENDING_INDEX = "pending"
TASK_INDEX = "by-task"
PENDING_SHARDS = 4
SCHEDULING = ("lease_token", "lease_until", "pending_shard", "due_at")  # attributes of a record in flight


@functools.cache
def _codec() -> tuple[Any, Any]:
    # boto3 is imported on first use, not with the module: handler cold starts stay short.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    serializer = _codec()[0]
    return {k: serializer.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _codec()[1]
    return {k: _from_dynamo(deserializer.deserialize(v)) for k, v in item.items()}


_RECORD_FIELDS = {f.name for f in dataclasses.fields(VerdictRecord)}
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "state": State, "task_ids": frozenset, "history": tuple, "rev": int, "attempts": int, "recoveries": int,
    "history_folded": int, "decision_rev": int, "decision_reasons": tuple, "enforcement": dict, "quarantine": dict,
}


def record_from_item(item: Mapping[str, Any]) -> VerdictRecord:
    """A VerdictRecord from a DynamoDB item (attributes the record does not declare are ignored)."""
    data = deserialize(item)
    values = {name: _CONVERT.get(name, _identity)(value) for name, value in data.items() if name in _RECORD_FIELDS}
    values.setdefault("bucket", "")
    values.setdefault("key", "")
    return VerdictRecord(**values)


def _identity(value: Any) -> Any:
    return value


def pending_shard(data_id: str) -> str:
    return f"p{int(data_id[-2:], 16) % PENDING_SHARDS}"


def _client_error() -> type[Exception]:
    """botocore's ClientError, imported when an exception is matched (a boto3 client loaded it already)."""
    from botocore.exceptions import ClientError

    return ClientError


def _condition_failed(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class _Update:
    """One UpdateItem's expressions, every attribute name through a placeholder (many are reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.sets: list[str] = []
        self.adds: list[str] = []
        self.removes: list[str] = []
        self.conditions: list[str] = []
        self.raw: dict[str, Any] = {}  # values already in DynamoDB's typed form (string sets)

    def name(self, attribute: str) -> str:
        for placeholder, known in self.names.items():
            if known == attribute:
                return placeholder
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        if value is None:
            self.removes.append(self.name(attribute))
        else:
            self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def add(self, attribute: str, amount: int) -> None:
        self.adds.append(f"{self.name(attribute)} {self.value(amount)}")

    def add_to_set(self, attribute: str, member: str) -> None:
        placeholder = f":s{len(self.raw)}"
        self.raw[placeholder] = {"SS": [member]}
        self.adds.append(f"{self.name(attribute)} {placeholder}")

    def remove(self, attribute: str) -> None:
        self.removes.append(self.name(attribute))

    def require(self, condition: str) -> None:
        self.conditions.append(condition)

    def kwargs(self, table: str, record_id: str) -> dict[str, Any]:
        expression = ""
        if self.sets:
            expression += "SET " + ", ".join(self.sets)
        if self.adds:
            expression += " ADD " + ", ".join(self.adds)
        set_names = {part.split(" = ")[0] for part in self.sets}
        removes = [name for name in dict.fromkeys(self.removes) if name not in set_names]
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        values = {**serialize(self.values), **self.raw}
        kwargs: dict[str, Any] = {"TableName": table, "Key": {"id": {"S": record_id}},
                                  "UpdateExpression": expression.strip(), "ExpressionAttributeNames": self.names}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if self.conditions:
            kwargs["ConditionExpression"] = " AND ".join(self.conditions)
        return kwargs


class DynamoVerdictStore:
    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self.table_name = table_name
        self._clock = clock

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
        update = _Update()
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
        except _client_error() as exc:
            if _condition_failed(exc):
                return HeadUpdate(newest=False)
            raise
        previous = deserialize(response.get("Attributes") or {}).get("latest_id")
        return HeadUpdate(newest=True, previous_id=previous if previous != obj.data_id else None)

    def claim(self, obj: ObjectRef, *, lease_seconds: float, max_attempts: int, by: str) -> Claim:
        now = self._clock()
        token = uuid.uuid4().hex
        item = {
            **object_fields(obj),
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
        except _client_error() as exc:
            if not _condition_failed(exc):
                raise
        existing = self.get(obj.data_id)
        if (existing is None or existing.state is not State.RECEIVED or (existing.lease_until or 0) > now
                or existing.attempts >= max_attempts):
            return Claim(claimed=False, existing=existing)
        update = self._transition(State.RECEIVED, now, by)
        update.require(f"{update.name('lease_token')} = {update.value(existing.lease_token or '')}")
        update.require(f"{update.name('attempts')} < {update.value(max_attempts)}")
        update.set("lease_token", token)
        update.set("lease_until", now + lease_seconds)
        update.set("due_at", now + lease_seconds)
        update.add("attempts", 1)
        if by != "submit":
            update.add("recoveries", 1)
        if self._apply(obj.data_id, update):
            return Claim(claimed=True, lease_token=token, takeover=True, attempts=existing.attempts + 1)
        return Claim(claimed=False, existing=self.get(obj.data_id))

    def release(self, record_id: str, lease_token: str, *, retry_at: float, unsent: bool) -> bool:
        update = _Update()
        update.set("lease_until", 0)
        update.set("due_at", retry_at)
        update.set("updated_at", iso(self._clock()))
        if unsent:
            update.add("attempts", -1)
        update.require(f"{update.name('state')} = {update.value(State.RECEIVED.value)}")
        update.require(f"{update.name('lease_token')} = {update.value(lease_token)}")
        return self._write(record_id, update)

    def reserve_rescan(self, record_id: str, *, task_id: str | None, max_attempts: int, due_at: float) -> bool:
        update = _Update()
        update.add("attempts", 1)
        update.set("due_at", due_at)
        update.require(f"{update.name('state')} = {update.value(State.PENDING.value)}")
        update.require(f"{update.name('attempts')} < {update.value(max_attempts)}")
        update.require(self._task_is(update, task_id))
        return self._write(record_id, update)

    def reschedule(self, record_id: str, *, task_id: str | None, due_at: float, last_code: int | None = None,
                   only_earlier: bool = False, return_attempt: bool = False) -> bool:
        update = _Update()
        update.set("due_at", due_at)
        update.set("last_code", last_code)
        if return_attempt:
            update.add("attempts", -1)
        update.require(f"{update.name('state')} = {update.value(State.PENDING.value)}")
        update.require(self._task_is(update, task_id))
        if only_earlier:
            update.require(f"{update.name('due_at')} > {update.value(due_at)}")
        return self._write(record_id, update)

    # -- what was done about a decision ---------------------------------------------------------------

    def record_enforcement(self, record_id: str, *, decision_rev: int, enforcement: Mapping[str, Any],
                           entries: Sequence[Mapping[str, Any]]) -> bool:
        """What enforcing decision `decision_rev` did, with history entries; only while it is still the
        record's decision (a newer one is enforced on its own)."""
        update = _Update()
        history = update.name("history")
        update.set("enforcement", dict(enforcement))
        update.set("updated_at", iso(self._clock()))
        update.sets.append(f"{history} = list_append(if_not_exists({history}, {update.value([])}), "
                           f"{update.value([dict(e) for e in entries])})")
        update.add("rev", 1)
        update.require(f"{update.name('decision_rev')} = {update.value(decision_rev)}")
        update.require(f"(attribute_not_exists({history}) OR size({history}) < {update.value(HISTORY_LIMIT)})")
        return self._apply(record_id, update)

    def set_quarantine(self, record_id: str, quarantine: Mapping[str, Any] | None) -> bool:
        """Where the version now is (written as soon as it is copied, before its key stops serving it),
        or None once it is back."""
        update = _Update()
        update.set("quarantine", dict(quarantine) if quarantine else None)
        update.require(f"attribute_exists({update.name('id')})")
        return self._write(record_id, update)

    # -- state changes ------------------------------------------------------------------------------

    def create_superseded(self, obj: ObjectRef, *, reason: str, by: str,
                          decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        item = {**object_fields(obj), "state": State.SUPERSEDED.value, "rev": 1, "attempts": 0, "reason": reason,
                "source": by, "created_at": iso(now), "updated_at": iso(now), "finished_at": iso(now),
                "history": [history_entry(State.SUPERSEDED, now, by, reason=reason)]}
        if decision:
            item.update({**decision, "decision_rev": 1, "decided_at": iso(now)})
        try:
            self._client.put_item(TableName=self.table_name, Item=serialize(item),
                                  ConditionExpression="attribute_not_exists(#id)",
                                  ExpressionAttributeNames={"#id": "id"})
            return True
        except _client_error() as exc:
            if _condition_failed(exc):
                return self.supersede(obj.data_id, reason=reason, by=by, decision=decision)
            raise

    def supersede(self, record_id: str, *, reason: str, by: str, decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        update = self._transition(State.SUPERSEDED, now, by, reason=reason)
        self._decided(update, now, decision)
        update.set("reason", reason)
        update.set("source", by)
        update.set("finished_at", iso(now))
        for name in SCHEDULING:
            update.remove(name)
        return self._apply(record_id, update)

    def mark_pending(self, record_id: str, *, lease_token: str, task_id: str, due_at: float,
                     url_expires_at: float | None, details: Mapping[str, Any] | None, by: str) -> bool:
        now = self._clock()
        update = self._transition(State.PENDING, now, by, task_id=task_id, from_states=(State.RECEIVED,))
        update.require(f"{update.name('lease_token')} = {update.value(lease_token)}")
        self._submitted(update, now, task_id, due_at, url_expires_at)
        for name, value in (details or {}).items():
            update.set(name, value)
        update.remove("lease_token")
        update.remove("lease_until")
        update.add_to_set("task_ids", task_id)
        return self._apply(record_id, update)

    def resubmitted(self, record_id: str, *, task_id: str, due_at: float, url_expires_at: float | None,
                    reason: str, by: str) -> bool:
        now = self._clock()
        update = self._transition(State.PENDING, now, by, task_id=task_id, reason=reason, from_states=(State.PENDING,))
        self._submitted(update, now, task_id, due_at, url_expires_at)
        update.set("reason", reason)
        update.add_to_set("task_ids", task_id)
        return self._apply(record_id, update)

    def finish(self, record_id: str, state: State, *, by: str, reason: str | None = None,
               result: TaskResult | None = None, details: Mapping[str, Any] | None = None,
               decision: Mapping[str, Any] | None = None) -> bool:
        now = self._clock()
        update = self._transition(state, now, by, reason=reason, task_id=result.task_id if result else None)
        self._decided(update, now, decision)
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
        return self._apply(record_id, update)

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _decided(update: _Update, now: float, decision: Mapping[str, Any] | None) -> None:
        """A decision's fields (greenlight.domain.policy.Decision.to_record), its time, and a new decision_rev."""
        if not decision:
            return
        for name, value in decision.items():
            update.set(name, value)
        update.set("decided_at", iso(now))
        update.add("decision_rev", 1)

    @staticmethod
    def _task_is(update: _Update, task_id: str | None) -> str:
        if task_id is None:
            return f"attribute_not_exists({update.name('task_id')})"
        return f"{update.name('task_id')} = {update.value(task_id)}"

    @staticmethod
    def _submitted(update: _Update, now: float, task_id: str, due_at: float, url_expires_at: float | None) -> None:
        update.set("task_id", task_id)
        update.set("submitted_at", iso(now))
        update.set("submitted_epoch", now)
        update.set("due_at", due_at)
        update.set("url_expires_at", iso(url_expires_at) if url_expires_at else None)

    @staticmethod
    def _transition(target: State, now: float, by: str, *, task_id: str | None = None, reason: str | None = None,
                    from_states: tuple[State, ...] | None = None) -> _Update:
        """A state change: allowed-from condition, rev, updated_at and one history entry."""
        update = _Update()
        state, history = update.name("state"), update.name("history")
        allowed = [s for s in (from_states or ALLOWED_FROM[target]) if s is not None]
        assert all(s in ALLOWED_FROM[target] for s in allowed), f"{allowed} -> {target} is not in the state table"
        update.require(f"attribute_exists({update.name('id')})")
        update.require(f"{state} IN ({', '.join(update.value(s.value) for s in allowed)})")
        update.require(f"(attribute_not_exists({history}) OR size({history}) < {update.value(HISTORY_LIMIT)})")
        update.sets.append(f"{state} = {update.value(target.value)}")
        update.set("updated_at", iso(now))
        entry = update.value([history_entry(target, now, by, task_id=task_id, reason=reason)])
        update.sets.append(f"{history} = list_append(if_not_exists({history}, {update.value([])}), {entry})")
        update.add("rev", 1)
        return update

    def _write(self, record_id: str, update: _Update) -> bool:
        """One conditional write: True when it happened, False when its condition did not hold."""
        return self._try(record_id, update, return_old=False)[0]

    def _try(self, record_id: str, update: _Update, *, return_old: bool) -> tuple[bool, Mapping[str, Any] | None]:
        """A conditional write; on refusal, with `return_old`, also the item as it was."""
        kwargs = update.kwargs(self.table_name, record_id)
        if return_old:
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            self._client.update_item(**kwargs)
            return True, None
        except _client_error() as exc:
            if not _condition_failed(exc):
                raise
            return False, getattr(exc, "response", {}).get("Item")

    def _apply(self, record_id: str, update: _Update) -> bool:
        """Write a state change. If only the full history stood in its way, fold the history and try once more."""
        done, old = self._try(record_id, update, return_old=True)
        if done or not old or not self._fold_history(record_id, record_from_item(old)):
            return done
        return self._write(record_id, update)

    def _fold_history(self, record_id: str, record: VerdictRecord) -> bool:
        """Keep the newer half of a full history, counting what was dropped; False if it was not full."""
        if len(record.history) < HISTORY_LIMIT:
            return False
        keep = HISTORY_LIMIT // 2
        update = _Update()
        update.set("history", list(record.history[-keep:]))
        update.add("history_folded", len(record.history) - keep)
        update.require(f"{update.name('rev')} = {update.value(record.rev)}")
        self._write(record_id, update)
        return True  # folded now, or changed by someone else meanwhile: the second try decides
