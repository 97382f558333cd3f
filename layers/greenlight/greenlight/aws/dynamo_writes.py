"""How the verdict table is written: typed values to and from DynamoDB, update expressions, and one
conditional write that folds a full history out of its way.

Every state change is an `Update` built by `transition` from greenlight.domain.states.ALLOWED_FROM:
the allowed-from condition, `rev` + 1, `updated_at` and one history entry. `ConditionalWriter.apply`
writes it; if only the history limit (HISTORY_LIMIT) refused it, the older half of the history is
folded into `history_folded` and the write is tried once more, so a record can always change.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from greenlight.domain.record import HISTORY_LIMIT, VerdictRecord, history_entry, iso
from greenlight.domain.states import ALLOWED_FROM, GAVE_UP, LATE_VERDICT_FROM, State

REVIEW_QUEUE = "review_queue"  # the review index's partition key: set only while a decision is `review`
OPEN = "open"


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
    "override": dict, "override_ids": frozenset, "feedback": dict,
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


def client_error() -> type[Exception]:
    """botocore's ClientError, imported when an exception is matched (a boto3 client loaded it already)."""
    from botocore.exceptions import ClientError

    return ClientError


def condition_failed(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class Update:
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


def transition(target: State, now: float, by: str, *, task_id: str | None = None, reason: str | None = None,
                from_states: tuple[State, ...] | None = None, late_verdict: bool = False) -> Update:
    """A state change: allowed-from condition, rev, updated_at and one history entry. `late_verdict`
    (a genuine Green verdict, target FINAL) also allows a record that gave up waiting for one."""
    update = Update()
    state, history = update.name("state"), update.name("history")
    allowed = [s for s in (from_states or ALLOWED_FROM[target]) if s is not None]
    assert all(s in ALLOWED_FROM[target] for s in allowed), f"{allowed} -> {target} is not in the state table"
    assert not late_verdict or target is State.FINAL, "only a verdict replaces a give-up"
    update.require(f"attribute_exists({update.name('id')})")
    condition = f"{state} IN ({', '.join(update.value(s.value) for s in allowed)})"
    if late_verdict:
        gave_up = (f"({state} = {update.value(LATE_VERDICT_FROM.value)} AND "
                   f"begins_with({update.name('reason')}, {update.value(GAVE_UP)}))")
        condition = f"({condition} OR {gave_up})"
    update.require(condition)
    update.require(f"(attribute_not_exists({history}) OR size({history}) < {update.value(HISTORY_LIMIT)})")
    update.sets.append(f"{state} = {update.value(target.value)}")
    update.set("updated_at", iso(now))
    entry = update.value([history_entry(target, now, by, task_id=task_id, reason=reason)])
    update.sets.append(f"{history} = list_append(if_not_exists({history}, {update.value([])}), {entry})")
    update.add("rev", 1)
    return update


def decided(update: Update, now: float, decision: Mapping[str, Any] | None) -> None:
    """A decision's fields (greenlight.domain.policy.Decision.to_record), its time, and a new decision_rev.
    A `review` decision also files the record in the review queue's index; any other takes it out."""
    if not decision:
        return
    for name, value in decision.items():
        update.set(name, value)
    update.set("decided_at", iso(now))
    update.set(REVIEW_QUEUE, OPEN if decision.get("decision") == "review" else None)
    update.add("decision_rev", 1)


def decided_item(now: float, decision: Mapping[str, Any]) -> dict[str, Any]:
    """A new record's first decision, as `decided` writes a later one."""
    item = {**decision, "decided_at": iso(now), "decision_rev": 1}
    if decision.get("decision") == "review":
        item[REVIEW_QUEUE] = OPEN
    return item


class ConditionalWriter:
    """Conditional UpdateItems on one table."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def write(self, record_id: str, update: Update) -> bool:
        """One conditional write: True when it happened, False when its condition did not hold."""
        return self.try_(record_id, update, return_old=False)[0]

    def try_(self, record_id: str, update: Update, *, return_old: bool) -> tuple[bool, Mapping[str, Any] | None]:
        """A conditional write; on refusal, with `return_old`, also the item as it was."""
        kwargs = update.kwargs(self._table, record_id)
        if return_old:
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            self._client.update_item(**kwargs)
            return True, None
        except client_error() as exc:
            if not condition_failed(exc):
                raise
            return False, getattr(exc, "response", {}).get("Item")

    def apply(self, record_id: str, update: Update) -> bool:
        """Write a state change. If only the full history stood in its way, fold the history and try once more."""
        done, old = self.try_(record_id, update, return_old=True)
        if done or not old or not self.fold_history(record_id, record_from_item(old)):
            return done
        return self.write(record_id, update)

    def fold_history(self, record_id: str, record: VerdictRecord) -> bool:
        """Keep the newer half of a full history, counting what was dropped; False if it was not full."""
        if len(record.history) < HISTORY_LIMIT:
            return False
        keep = HISTORY_LIMIT // 2
        update = Update()
        update.set("history", list(record.history[-keep:]))
        update.add("history_folded", len(record.history) - keep)
        update.require(f"{update.name('rev')} = {update.value(record.rev)}")
        self.write(record_id, update)
        return True  # folded now, or changed by someone else meanwhile: the second try decides
