"""VerdictStore: the verdict table, one record per object version, moved only by conditional writes.

Every state change goes through `_transition`, whose condition is built from states.ALLOWED_FROM,
so a duplicate, late or replayed write fails its condition and becomes a no-op instead of an
overwrite. Each change bumps `rev` and appends to `history`, the record's audit trail.

Items:
- version record, id = ObjectRef.data_id ("v-..."), also Green's dataId;
- head record, id = ObjectRef.head_id ("k-..."): the newest version seen for a key.

Indexes: `by-task` (task_id -> id) and `pending` (sparse: pending_shard + due_at, only while PENDING).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from greenlight.events import ObjectRef
from greenlight.green.wire import TaskResult
from greenlight.states import ALLOWED_FROM, State

PENDING_INDEX = "pending"
TASK_INDEX = "by-task"
PENDING_SHARDS = 4
HISTORY_LIMIT = 50  # a record changes state a handful of times; this only bounds a runaway loop


@functools.cache
def _codec() -> tuple[Any, Any]:
    # boto3 is imported on first use, not with the module: handler cold starts stay short.
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _client_error() -> type[Exception]:
    """botocore's ClientError, imported when an exception is matched (a boto3 client loaded it already)."""
    from botocore.exceptions import ClientError

    return ClientError


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def pending_shard(data_id: str) -> str:
    return f"p{int(data_id[-2:], 16) % PENDING_SHARDS}"


@dataclass(frozen=True)
class VerdictRecord:
    """A version record as read from the table."""

    id: str
    bucket: str
    key: str
    state: State
    rev: int = 0
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    content_type: str | None = None
    sequencer: str | None = None
    suggestion: str | None = None
    scenes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None
    source: str | None = None
    task_id: str | None = None
    task_ids: frozenset[str] = frozenset()
    attempts: int = 0
    lease_token: str | None = None
    lease_until: float | None = None
    due_at: float | None = None
    created_at: str | None = None
    updated_at: str | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    submitted_epoch: float | None = None
    url_expires_at: str | None = None
    history: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> VerdictRecord:
        data = deserialize(item)
        return cls(
            id=data["id"],
            bucket=data.get("bucket", ""),
            key=data.get("key", ""),
            state=State(data["state"]),
            rev=int(data.get("rev", 0)),
            version_id=data.get("version_id"),
            etag=data.get("etag"),
            size=data.get("size"),
            content_type=data.get("content_type"),
            sequencer=data.get("sequencer"),
            suggestion=data.get("suggestion"),
            scenes=data.get("scenes") or {},
            reason=data.get("reason"),
            source=data.get("source"),
            task_id=data.get("task_id"),
            task_ids=frozenset(data.get("task_ids") or ()),
            attempts=int(data.get("attempts", 0)),
            lease_token=data.get("lease_token"),
            lease_until=data.get("lease_until"),
            due_at=data.get("due_at"),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            submitted_at=data.get("submitted_at"),
            finished_at=data.get("finished_at"),
            submitted_epoch=data.get("submitted_epoch"),
            url_expires_at=data.get("url_expires_at"),
            history=tuple(data.get("history") or ()),
        )

    def object_ref(self) -> ObjectRef:
        return ObjectRef(bucket=self.bucket, key=self.key, etag=self.etag, version_id=self.version_id,
                         size=self.size, sequencer=self.sequencer)


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a version for submission."""

    claimed: bool
    lease_token: str | None = None
    existing: VerdictRecord | None = None  # set when not claimed
    takeover: bool = False  # claimed from an earlier invocation whose lease ran out


@dataclass(frozen=True)
class HeadUpdate:
    newest: bool  # this version is the newest seen for its key
    previous_id: str | None = None  # the version it replaces, if any


class VerdictStore:
    def __init__(self, client: Any, table_name: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self.table_name = table_name
        self._clock = clock

    # -- reads ----------------------------------------------------------------------------------

    def get(self, data_id: str) -> VerdictRecord | None:
        response = self._client.get_item(TableName=self.table_name, Key={"id": {"S": data_id}}, ConsistentRead=True)
        item = response.get("Item")
        return VerdictRecord.from_item(item) if item and "state" in item else None

    def find_by_task(self, task_id: str) -> VerdictRecord | None:
        response = self._client.query(
            TableName=self.table_name,
            IndexName=TASK_INDEX,
            KeyConditionExpression="task_id = :t",
            ExpressionAttributeValues={":t": {"S": task_id}},
            Limit=5,
        )
        for item in response.get("Items", []):
            return self.get(item["id"]["S"])
        return None

    def due_pending(self, now: float, limit: int) -> list[VerdictRecord]:
        """PENDING records whose due_at has passed, oldest due first, at most `limit`."""
        found: list[VerdictRecord] = []
        for shard in range(PENDING_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": PENDING_INDEX,
                "KeyConditionExpression": "pending_shard = :s AND due_at <= :now",
                "ExpressionAttributeValues": {":s": {"S": f"p{shard}"}, ":now": {"N": str(now)}},
                "Limit": limit,
            }
            response = self._client.query(**kwargs)
            found.extend(VerdictRecord.from_item(i) for i in response.get("Items", []))
        found = [r for r in found if r.state is State.PENDING]
        found.sort(key=lambda r: r.due_at or 0)
        return found[:limit]

    def scan_all(self) -> list[VerdictRecord]:
        """Every version record (for the local tools and tests; never called by the functions)."""
        records: list[VerdictRecord] = []
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table_name):
            records.extend(VerdictRecord.from_item(i) for i in page["Items"] if i["id"]["S"].startswith("v-"))
        return records

    # -- writes ---------------------------------------------------------------------------------

    def advance_head(self, obj: ObjectRef) -> HeadUpdate:
        """Record `obj` as the newest version of its key unless a newer one was seen already."""
        try:
            response = self._client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": obj.head_id}},
                UpdateExpression="SET #order = :o, #latest = :v, #bucket = :b, #key = :k",
                ConditionExpression="attribute_not_exists(#order) OR #order < :o OR (#order = :o AND #latest = :v)",
                ExpressionAttributeNames={"#order": "latest_order", "#latest": "latest_id", "#bucket": "bucket",
                                          "#key": "key"},
                ExpressionAttributeValues=serialize({":o": obj.order, ":v": obj.data_id, ":b": obj.bucket,
                                                     ":k": obj.key}),
                ReturnValues="ALL_OLD",
            )
        except _client_error() as exc:
            if _is_condition_failure(exc):
                return HeadUpdate(newest=False)
            raise
        previous = deserialize(response.get("Attributes") or {}).get("latest_id")
        return HeadUpdate(newest=True, previous_id=previous if previous != obj.data_id else None)

    def claim(self, obj: ObjectRef, *, lease_seconds: float, source: str = "submit") -> Claim:
        """Create the RECEIVED record with a lease, or take over one whose lease has run out."""
        now = self._clock()
        token = uuid.uuid4().hex
        item = {
            **self._object_fields(obj),
            "state": State.RECEIVED.value,
            "rev": 1,
            "attempts": 0,
            "lease_token": token,
            "lease_until": now + lease_seconds,
            "created_at": iso(now),
            "updated_at": iso(now),
            "history": [self._history_entry(State.RECEIVED, now, source)],
        }
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(#id)",
                ExpressionAttributeNames={"#id": "id"},
            )
            return Claim(claimed=True, lease_token=token)
        except _client_error() as exc:
            if not _is_condition_failure(exc):
                raise
        existing = self.get(obj.data_id)
        if existing is None or existing.state is not State.RECEIVED:
            return Claim(claimed=False, existing=existing)
        if (existing.lease_until or 0) > now:
            return Claim(claimed=False, existing=existing)
        took = self._transition(
            obj.data_id,
            State.RECEIVED,
            source=source,
            lease_token=existing.lease_token,
            sets={"lease_token": token, "lease_until": now + lease_seconds},
        )
        return Claim(claimed=True, lease_token=token, takeover=True) if took else Claim(claimed=False,
                                                                                          existing=existing)

    def release(self, data_id: str, lease_token: str) -> bool:
        """Give up a lease so the message's redelivery can claim the record at once."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": data_id}},
                UpdateExpression="SET #until = :zero",
                ConditionExpression="#state = :received AND #tok = :tok",
                ExpressionAttributeNames={"#state": "state", "#until": "lease_until", "#tok": "lease_token"},
                ExpressionAttributeValues=serialize({":zero": 0, ":received": State.RECEIVED.value,
                                                     ":tok": lease_token}),
            )
            return True
        except _client_error() as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def create_superseded(self, obj: ObjectRef, *, reason: str, source: str = "submit") -> bool:
        """Record a version that arrived after a newer one of the same key: it is never scanned."""
        now = self._clock()
        item = {
            **self._object_fields(obj),
            "state": State.SUPERSEDED.value,
            "rev": 1,
            "attempts": 0,
            "reason": reason,
            "source": source,
            "created_at": iso(now),
            "updated_at": iso(now),
            "finished_at": iso(now),
            "history": [self._history_entry(State.SUPERSEDED, now, source)],
        }
        try:
            self._client.put_item(TableName=self.table_name, Item=serialize(item),
                                  ConditionExpression="attribute_not_exists(#id)",
                                  ExpressionAttributeNames={"#id": "id"})
            return True
        except _client_error() as exc:
            if _is_condition_failure(exc):
                return self.supersede(obj.data_id, reason=reason, source=source)
            raise

    def supersede(self, data_id: str, *, reason: str, source: str = "submit") -> bool:
        now = self._clock()
        return self._transition(data_id, State.SUPERSEDED, source=source, sets={"reason": reason,
                                                                                 "finished_at": iso(now)},
                                removes=("lease_token", "lease_until", "pending_shard", "due_at"))

    def mark_pending(self, data_id: str, *, lease_token: str, task_id: str, due_at: float,
                     url_expires_at: float | None, details: Mapping[str, Any] | None = None,
                     source: str = "submit") -> bool:
        """RECEIVED -> PENDING once Green has accepted the task."""
        now = self._clock()
        sets: dict[str, Any] = {
            "task_id": task_id,
            "submitted_at": iso(now),
            "submitted_epoch": now,
            "pending_shard": pending_shard(data_id),
            "due_at": due_at,
            "url_expires_at": iso(url_expires_at) if url_expires_at else None,
            **(details or {}),
        }
        return self._transition(
            data_id, State.PENDING, source=source, lease_token=lease_token, sets=sets,
            removes=("lease_token", "lease_until"), add_task=task_id, add_attempt=True,
        )

    def resubmitted(self, data_id: str, *, old_task_id: str, task_id: str, due_at: float,
                    url_expires_at: float | None, reason: str, source: str = "poll") -> bool:
        """PENDING -> PENDING under a new task after Green lost or could not fetch the old one."""
        now = self._clock()
        sets = {
            "task_id": task_id,
            "submitted_at": iso(now),
            "submitted_epoch": now,
            "due_at": due_at,
            "url_expires_at": iso(url_expires_at) if url_expires_at else None,
            "reason": reason,
        }
        return self._transition(data_id, State.PENDING, source=source, current_task=old_task_id, sets=sets,
                                add_task=task_id, add_attempt=True)

    def reschedule(self, data_id: str, *, task_id: str, due_at: float, last_code: int | None = None) -> bool:
        """Leave a PENDING record pending and ask the poller to look again at `due_at` (no history entry)."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": data_id}},
                UpdateExpression="SET #due = :due, #code = :code, #updated = :now",
                ConditionExpression="#state = :pending AND #task = :task",
                ExpressionAttributeNames={"#state": "state", "#due": "due_at", "#code": "last_code",
                                          "#updated": "updated_at", "#task": "task_id"},
                ExpressionAttributeValues=serialize({":due": due_at, ":code": last_code or 0,
                                                     ":now": iso(self._clock()),
                                                     ":pending": State.PENDING.value, ":task": task_id}),
            )
            return True
        except _client_error() as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def finish(self, data_id: str, state: State, *, source: str, reason: str | None = None,
               result: TaskResult | None = None, task_id: str | None = None,
               lease_token: str | None = None, details: Mapping[str, Any] | None = None) -> bool:
        """Move to a terminal state. With `task_id` the record must be PENDING and own that task;
        with `lease_token` it must be RECEIVED under that lease. Returns False when nothing changed."""
        now = self._clock()
        sets: dict[str, Any] = {"finished_at": iso(now), "source": source, "reason": reason,
                                **{k: v for k, v in (details or {}).items() if v is not None}}
        if result is not None:
            sets["suggestion"] = result.suggestion
            sets["scenes"] = {r.scene: {"label": r.label, "suggestion": r.suggestion, "rate": r.rate}
                              for r in result.results}
            sets["result_code"] = result.code
            if result.task_id:
                sets["task_id"] = result.task_id
        return self._transition(
            data_id, state, source=source, lease_token=lease_token, task_in=task_id, sets=sets,
            removes=("lease_token", "lease_until", "pending_shard", "due_at"),
        )

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _object_fields(obj: ObjectRef) -> dict[str, Any]:
        return {
            "id": obj.data_id,
            "bucket": obj.bucket,
            "key": obj.key,
            "version_id": obj.version_id,
            "etag": obj.etag,
            "size": obj.size,
            "sequencer": obj.sequencer,
            "event_time": obj.event_time,
        }

    @staticmethod
    def _history_entry(state: State, now: float, source: str, task_id: str | None = None,
                       reason: str | None = None) -> dict[str, Any]:
        entry = {"to": state.value, "at": iso(now), "by": source}
        if task_id:
            entry["task"] = task_id
        if reason:
            entry["reason"] = reason
        return entry

    def _transition(
        self,
        data_id: str,
        target: State,
        *,
        source: str,
        lease_token: str | None = None,
        task_in: str | None = None,
        current_task: str | None = None,
        sets: Mapping[str, Any] | None = None,
        removes: Iterable[str] = (),
        add_task: str | None = None,
        add_attempt: bool = False,
    ) -> bool:
        """One conditional UpdateItem. The condition: the record exists, its state is one that may
        move to `target`, plus any guard given (lease owner, task owned, current task)."""
        now = self._clock()
        names: dict[str, str] = {}

        def n(attribute: str) -> str:  # every name through a placeholder: many are reserved words
            placeholder = f"#a{len(names)}"
            names[placeholder] = attribute
            return placeholder

        values: dict[str, Any] = {":target": target.value, ":one": 1, ":now": iso(now),
                                  ":hist": [self._history_entry(target, now, source, add_task,
                                                                (sets or {}).get("reason"))],
                                  ":empty": [], ":limit": HISTORY_LIMIT}
        state, rev, history = n("state"), n("rev"), n("history")
        from_states = [s for s in ALLOWED_FROM[target] if s is not None]
        for index, from_state in enumerate(from_states):
            values[f":from{index}"] = from_state.value
        state_keys = ", ".join(f":from{index}" for index in range(len(from_states)))
        conditions = [f"attribute_exists({n('id')})", f"{state} IN ({state_keys})",
                      f"(attribute_not_exists({rev}) OR {rev} < :limit)"]
        if lease_token is not None:
            conditions.append(f"{n('lease_token')} = :lease")
            values[":lease"] = lease_token
        if task_in is not None:
            conditions.append(f"contains({n('task_ids')}, :task_in)")
            values[":task_in"] = task_in
        if current_task is not None:
            conditions.append(f"{n('task_id')} = :current_task")
            values[":current_task"] = current_task

        set_parts = [f"{state} = :target", f"{n('updated_at')} = :now",
                     f"{history} = list_append(if_not_exists({history}, :empty), :hist)"]
        remove_parts = [n(name) for name in removes if name not in (sets or {})]
        for index, (name, value) in enumerate((sets or {}).items()):
            if value is None:
                remove_parts.append(n(name))
                continue
            values[f":s{index}"] = value
            set_parts.append(f"{n(name)} = :s{index}")
        add_parts = [f"{rev} :one"]
        if add_attempt:
            add_parts.append(f"{n('attempts')} :one")
        if add_task:
            add_parts.append(f"{n('task_ids')} :new_task")
        expression = "SET " + ", ".join(set_parts) + " ADD " + ", ".join(add_parts)
        if remove_parts:
            expression += " REMOVE " + ", ".join(remove_parts)
        serialized = serialize(values)
        if add_task:
            serialized[":new_task"] = {"SS": [add_task]}
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": data_id}},
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialized,
            )
            return True
        except _client_error() as exc:
            if _is_condition_failure(exc):
                return False
            raise


def _is_condition_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
