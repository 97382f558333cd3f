"""DynamoDB item sizes and capacity units, as DynamoDB computes them, from items in wire format
({"name": {"S": "..."}, ...}, as a low-level client or a stream record carries them).

Sizes (DynamoDB Developer Guide, "Item sizes and formats"): an item is the sum of its attributes;
an attribute is its name's UTF-8 length plus its value's size: strings their UTF-8 length, binary
its length, numbers 1 byte per two significant digits plus 1, booleans and nulls 1 byte, lists and
maps 3 bytes plus 1 byte per element plus the elements (a map element's name counts), sets the sum
of their elements.

Capacity ("Read/write capacity mode"): a write is 1 write request unit per started KB of the larger
of the item before and after it; a failed conditional write still consumes capacity; a read is 1
read request unit per started 4 KB (strongly consistent) or half that (eventually consistent); a
Query or Scan is charged on the total size of what it returns. A write also writes every global
secondary index whose entry it creates, changes or removes ("Provisioned throughput considerations
for global secondary indexes"): adding or removing an entry is one index write, changing an entry's
index key is two (delete and put), changing a projected attribute is one.

Stdlib only, pure: unit-tested in tests/unit/test_bench_sizing.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Item = Mapping[str, Any]  # wire format: attribute name -> {"S": ...} / {"N": ...} / ...

WRITE_UNIT = 1024
READ_UNIT = 4096


def number_size(text: str) -> int:
    """Bytes DynamoDB stores for a number: 1 per two significant digits, plus 1."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return len(text)
    digits = value.normalize().as_tuple().digits if value != 0 else (0,)
    significant = "".join(str(d) for d in digits).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    (kind, data), = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        return number_size(str(data))
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(str(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(str(n)) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """The item's size in bytes as DynamoDB counts it (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(before: Item | None, after: Item | None) -> int:
    """Write request units of one write to the table: per started KB of the larger image, at least 1."""
    return max(1, math.ceil(max(item_size(before), item_size(after)) / WRITE_UNIT))


def read_units(total_bytes: int, *, consistent: bool) -> float:
    """Read request units of a read returning `total_bytes` (a GetItem, or a Query's whole page)."""
    units = max(1, math.ceil(total_bytes / READ_UNIT))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]  # partition key, then sort key if any
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> Index:
        """From a describe_table GlobalSecondaryIndexes entry (or the template's)."""
        projection = described.get("Projection") or {}
        return cls(described["IndexName"], tuple(k["AttributeName"] for k in described["KeySchema"]),
                   str(projection.get("ProjectionType", "ALL")), tuple(projection.get("NonKeyAttributes") or ()))

    def entry(self, item: Item | None, table_keys: Sequence[str]) -> dict[str, Any] | None:
        """The item's entry in this index (its projected attributes), or None when the item is not in it
        (a sparse index holds only items with every index key attribute)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*table_keys, *self.keys, *(self.included if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in names}


def index_writes(index: Index, before: Item | None, after: Item | None,
                 table_keys: Sequence[str]) -> list[int]:
    """The sizes (bytes) of the writes one table write makes in `index`: none, one, or two (a key change)."""
    old, new = index.entry(before, table_keys), index.entry(after, table_keys)
    if old is None and new is None:
        return []
    if old is None:
        return [item_size(new)]
    if new is None:
        return [item_size(old)]
    if any(old.get(key) != new.get(key) for key in index.keys):
        return [item_size(old), item_size(new)]
    return [item_size(new)] if old != new else []


def index_write_units(indexes: Sequence[Index], before: Item | None, after: Item | None,
                      table_keys: Sequence[str]) -> dict[str, int]:
    """Write request units one table write costs in each index (only indexes it writes)."""
    found: dict[str, int] = {}
    for index in indexes:
        sizes = index_writes(index, before, after, table_keys)
        if sizes:
            found[index.name] = sum(max(1, math.ceil(size / WRITE_UNIT)) for size in sizes)
    return found
