"""The bench's cost arithmetic: usage per 1,000 images times list prices; usage from metered requests."""

from __future__ import annotations

import pytest

from greenlight_local.bench import costs
from greenlight_local.bench.aws_usage import usage_of


def test_every_price_names_its_source_and_how_it_was_checked() -> None:
    for price in costs.PRICES:
        assert price.source.startswith("https://"), price
        assert price.status, price
        assert price.usd > 0 and price.per > 0


def test_cost_lines_price_each_usage_and_sort_dearest_first() -> None:
    lines = costs.cost_lines({"dynamodb_wru": 10_000, "lambda_requests": 1000, "s3_egress_gb": 1.0})
    assert [line.service for line in lines] == ["S3", "DynamoDB", "Lambda"]
    assert lines[0].usd == pytest.approx(0.09)
    assert lines[1].usd == pytest.approx(10_000 * 0.625 / 1e6)
    assert lines[2].usd == pytest.approx(1000 * 0.20 / 1e6)
    assert costs.total(lines) == pytest.approx(0.09 + 0.00625 + 0.0002)
    assert list(costs.by_service(lines)) == ["S3", "DynamoDB", "Lambda"]


def test_an_unpriced_usage_is_an_error_not_a_silent_zero() -> None:
    with pytest.raises(KeyError, match="no price for dynamo_wru"):
        costs.cost_lines({"dynamo_wru": 1.0})


def _call(fn: str, svc: str, op: str, **extra: object) -> dict[str, object]:
    return {"k": "call", "fn": fn, "svc": svc, "op": op, "attempts": 1, **extra}


def test_usage_counts_per_image_work_and_keeps_idle_polling_apart() -> None:
    item = {"id": {"S": "v-1"}, "blob": {"S": "x" * 1500}}
    meter = [
        {"k": "invoke", "fn": "submit", "start": 1.0, "ms": 99.2},
        _call("submit", "dynamodb", "PutItem", id="v-1"),
        _call("submit", "dynamodb", "UpdateItem", id="v-1", error="ConditionalCheckFailedException"),
        _call("submit", "dynamodb", "GetItem", consistent=True, read_bytes=5000),
        _call("submit", "s3", "GetObject"),
        _call("submit", "sqs", "ReceiveMessage", messages=0, queue="scan"),  # idle
        _call("submit", "sqs", "ReceiveMessage", messages=2, queue="scan"),
        _call("submit", "secretsmanager", "GetSecretValue"),  # per container
        _call("enforce", "dynamodbstreams", "GetRecords"),  # free, event source
        _call("enforce", "events", "PutEvents", entries=1, attempts=2),
    ]
    stream = [{"dynamodb": {"NewImage": item}}]
    usage = usage_of(images=2, meter=meter, stream=stream, items=[item], indexes=[], log_bytes=1000,
                     green={"downloads": 2, "callbacks": {"sent": 3}}, scan_queue="scan")
    assert usage.invocations["submit"] == 1
    assert usage.gb_seconds["submit"] == pytest.approx(0.1 * 0.5)  # 100 ms billed at 512 MB
    assert usage.requests[("submit", "dynamodb", "PutItem")] == 1
    assert usage.requests[("enforce", "events", "PutEvents")] == 2  # every attempt is a request
    assert usage.idle[("submit", "sqs", "ReceiveMessage")] == 1
    assert usage.idle[("submit", "secretsmanager", "GetSecretValue")] == 1
    assert usage.idle[("enforce", "dynamodbstreams", "GetRecords")] == 1
    assert usage.wru_table == 2  # 1,509 bytes -> 2 KB
    assert usage.wru_failed == 2  # the refused update, at its item's size
    assert usage.rru == 2.0  # 5,000 bytes strongly consistent
    assert usage.item_sizes == [1509]
    assert usage.log_bytes == 1000 + 300 * 1 + 250 * 3  # + platform lines + access log lines
    per_1000 = usage.usage_per_1000(image_bytes=1_000_000)
    assert per_1000["lambda_requests"] == 500
    assert per_1000["s3_get_requests"] == 500 * (1 + 2)  # the ranged GET and Green's downloads
    assert per_1000["s3_egress_gb"] == pytest.approx(1.0)  # 2 downloads of 1 MB per 2 images
    assert per_1000["sqs_requests"] == 500 * (1 + 2)  # the non-empty receive and one SendMessage per upload
    assert per_1000["apigw_requests"] == 1500
    assert per_1000["eventbridge_events"] == 1000


def test_a_write_without_a_stream_record_costs_one_unit_and_is_noted() -> None:
    # A DeleteItem of an item that was not there changes nothing (no stream record) but is billed.
    usage = usage_of(images=1, meter=[_call("enforce", "dynamodb", "DeleteItem", id="h-1")], stream=[], items=[],
                     indexes=[], log_bytes=0, green={}, scan_queue="scan")
    assert usage.wru_unseen == 1 and usage.wru_total == 1
    assert "1 successful DynamoDB writes left no stream record" in usage.notes[0]


def test_repeated_stream_records_are_counted_once() -> None:
    from greenlight_local.bench.aws_usage import changed

    key = {"id": {"S": "k-1"}}
    first = {"dynamodb": {"Keys": key, "NewImage": {**key, "latest": {"S": "a"}}}}
    again = {"dynamodb": {"Keys": key, "OldImage": {**key, "latest": {"S": "a"}},
                          "NewImage": {**key, "latest": {"S": "a"}}}}
    later = {"dynamodb": {"Keys": key, "OldImage": {**key, "latest": {"S": "a"}},
                          "NewImage": {**key, "latest": {"S": "b"}}}}
    assert len(changed([first, again, later])) == 2
    # moto: an UpdateItem creating an item writes an INSERT of the key alone, then one of the item.
    key_only = {"eventName": "INSERT", "dynamodb": {"Keys": key, "NewImage": dict(key)}}
    whole = {"eventName": "INSERT", "dynamodb": {"Keys": key, "NewImage": {**key, "latest": {"S": "a"}}}}
    assert changed([key_only, whole]) == [(None, {**key, "latest": {"S": "a"}})]
    assert changed([key_only]) == [(None, dict(key))]  # a lone key-only INSERT is a real write
    usage = usage_of(images=1, meter=[_call("submit", "dynamodb", "UpdateItem", id="k-1")] * 2,
                     stream=[first, again, later], items=[], indexes=[], log_bytes=0, green={}, scan_queue="scan")
    assert usage.writes_in_stream == 2 and usage.wru_unseen == 0
    assert "1 of 3 stream records repeated the item" in usage.notes[0]


def test_history_bound_check_needs_the_size_to_stop_growing() -> None:
    from greenlight_local.bench.aws_cost import bounded

    cycle = list(range(100, 132))  # grows 32 changes, then a fold drops it back
    assert bounded(cycle * 3)
    assert not bounded(list(range(200)))
    with pytest.raises(ValueError):
        bounded([1, 2, 3])
