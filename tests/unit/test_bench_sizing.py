"""DynamoDB item sizes and capacity units as the bench computes them (DynamoDB Developer Guide rules)."""

from __future__ import annotations

import pytest

from greenlight_local.bench.sizing import (
    Index,
    index_write_units,
    index_writes,
    item_size,
    number_size,
    read_units,
    write_units,
)

PENDING = Index("pending", ("pending_shard", "due_at"), "ALL")
BY_TASK = Index("by-task", ("task_id",), "KEYS_ONLY")


@pytest.mark.parametrize(("text", "size"), [("0", 2), ("7", 2), ("12", 2), ("123", 3), ("100", 2),
                                            ("-12.5", 3), ("0.000123", 3), ("1764756000.123", 8)])
def test_numbers_take_a_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_item_size_counts_names_and_values_of_every_type() -> None:
    item = {
        "id": {"S": "v-abc"},  # 2 + 5
        "rev": {"N": "3"},  # 3 + 2
        "ok": {"BOOL": True},  # 2 + 1
        "gone": {"NULL": True},  # 4 + 1
        "raw": {"B": b"\x00\x01\x02"},  # 3 + 3
        "tags": {"SS": ["ab", "cde"]},  # 4 + 5
        "é": {"S": "é"},  # 2 + 2 (UTF-8)
    }
    assert item_size(item) == 7 + 5 + 3 + 5 + 6 + 9 + 4


def test_lists_and_maps_take_three_bytes_plus_one_per_element() -> None:
    history = {"history": {"L": [{"M": {"to": {"S": "PENDING"}}}]}}
    # name 7 + list 3 + element 1 + (map 3 + element 1 + "to" 2 + "PENDING" 7)
    assert item_size(history) == 7 + 3 + 1 + (3 + 1 + 2 + 7)
    assert item_size({"empty": {"M": {}}}) == 5 + 3


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown DynamoDB type"):
        item_size({"x": {"Z": "?"}})


def test_write_units_round_the_larger_image_up_to_kilobytes() -> None:
    small = {"id": {"S": "x" * 100}}
    big = {"id": {"S": "x" * 2000}}
    assert write_units(None, small) == 1
    assert write_units(small, big) == 2  # 2,002 bytes after
    assert write_units(big, small) == 2  # the larger of before and after
    assert write_units(None, None) == 1  # a write is never free


def test_read_units_round_up_to_4_kb_and_halve_for_eventual_consistency() -> None:
    assert read_units(0, consistent=True) == 1.0
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(100, consistent=False) == 0.5


def test_sparse_index_writes_only_for_items_it_holds() -> None:
    before = {"id": {"S": "v-1"}, "state": {"S": "RECEIVED"}}
    after = {**before, "pending_shard": {"S": "p1"}, "due_at": {"N": "10"}}
    assert index_writes(PENDING, before, before, ("id",)) == []
    assert index_writes(PENDING, before, after, ("id",)) == [item_size(after)]  # entry added
    assert index_writes(PENDING, after, before, ("id",)) == [item_size(after)]  # entry removed


def test_changing_an_index_key_is_a_delete_and_a_put() -> None:
    before = {"id": {"S": "v-1"}, "pending_shard": {"S": "p1"}, "due_at": {"N": "10"}}
    after = {**before, "due_at": {"N": "20"}}
    assert index_writes(PENDING, before, after, ("id",)) == [item_size(before), item_size(after)]


def test_all_projection_is_written_on_any_change_keys_only_on_key_changes() -> None:
    before = {"id": {"S": "v-1"}, "task_id": {"S": "t1"}, "pending_shard": {"S": "p1"}, "due_at": {"N": "10"},
              "note": {"S": "a"}}
    after = {**before, "note": {"S": "b"}}
    assert index_write_units([PENDING, BY_TASK], before, after, ("id",)) == {"pending": 1}
    retasked = {**after, "task_id": {"S": "t2"}}
    assert index_write_units([PENDING, BY_TASK], after, retasked, ("id",)) == {"pending": 1, "by-task": 2}


def test_keys_only_entry_holds_the_table_and_index_keys() -> None:
    item = {"id": {"S": "v-1"}, "task_id": {"S": "t1"}, "note": {"S": "x" * 5000}}
    assert BY_TASK.entry(item, ("id",)) == {"id": {"S": "v-1"}, "task_id": {"S": "t1"}}
    assert index_write_units([BY_TASK], None, item, ("id",)) == {"by-task": 1}


def test_index_from_a_table_description() -> None:
    described = {"IndexName": "review", "KeySchema": [{"AttributeName": "review_queue", "KeyType": "HASH"},
                                                      {"AttributeName": "decided_at", "KeyType": "RANGE"}],
                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["key"]}}
    index = Index.from_description(described)
    assert index == Index("review", ("review_queue", "decided_at"), "INCLUDE", ("key",))
    item = {"id": {"S": "v"}, "review_queue": {"S": "open"}, "decided_at": {"S": "t"}, "key": {"S": "k"},
            "other": {"S": "o"}}
    assert index.entry(item, ("id",)) == {k: v for k, v in item.items() if k != "other"}
