"""EventBridgeVerdictEvents without a server: its pure helpers (detail encoding, request chunking, reading
PutEvents' answer) and what it sends, on a recording client; and the recording fake's failures."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from fakes.verdict_events import RecordingVerdictEvents
from greenlight.aws.verdict_events import (
    MAX_BYTES,
    MAX_ENTRIES,
    EventBridgeVerdictEvents,
    chunk,
    encode_detail,
    entry_size,
    failed_in,
)


class RecordingClient:
    """An EventBridge client that records PutEvents requests and answers from `answers` (a callable per
    request: entries -> response, or an exception to raise)."""

    def __init__(self, *answers: Any) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self._answers = list(answers)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # boto3's parameter name
        self.requests.append(Entries)
        answer = self._answers.pop(0) if self._answers else None
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            result: dict[str, Any] = answer(Entries)
            return result
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"id-{i}"} for i in range(len(Entries))]}


def refusing(*positions: int) -> Any:
    def answer(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"FailedEntryCount": len(positions),
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if i in positions
                            else {"EventId": f"id-{i}"} for i in range(len(entries))]}
    return answer


def event(n: int, size: int = 0) -> dict[str, Any]:
    return {"record_id": f"v-{n}", "pad": "x" * size}


# -- helpers -----------------------------------------------------------------------------------------


def test_details_are_compact_utf8_json() -> None:
    assert encode_detail({"key": "été/猫.png", "rates": [1, 2.5]}) == '{"key":"été/猫.png","rates":[1,2.5]}'
    assert entry_size("greenlight", "Verdict", '{"k":"é"}') == len("greenlight") + len("Verdict") + 10


def test_a_detail_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON"):
        encode_detail({"rate": math.nan})


def test_chunks_hold_at_most_ten_entries_in_order() -> None:
    assert list(chunk([(i, 1) for i in range(23)])) == [list(range(10)), list(range(10, 20)), [20, 21, 22]]


def test_chunks_hold_at_most_256_kib() -> None:
    quarter = MAX_BYTES // 4
    assert list(chunk([(0, quarter), (1, quarter), (2, quarter), (3, quarter), (4, 1)])) == [[0, 1, 2, 3], [4]]
    assert list(chunk([(0, quarter), (1, quarter), (2, quarter), (3, quarter + 1)])) == [[0, 1, 2], [3]]
    with pytest.raises(ValueError, match="entry 7"):
        list(chunk([(7, MAX_BYTES + 1)]))


def test_failed_entries_are_read_from_the_answer_by_position() -> None:
    assert failed_in({"FailedEntryCount": 0, "Entries": [{"EventId": "a"}, {"EventId": "b"}]}, [4, 5]) == []
    assert failed_in(refusing(1)([{}, {}, {}]), [4, 5, 6]) == [5]
    assert failed_in({"FailedEntryCount": 0, "Entries": [{"EventId": "a"}]}, [4, 5]) == [5]  # no answer: failed


# -- publish -----------------------------------------------------------------------------------------


def test_publish_sends_every_event_once_in_requests_within_the_limits() -> None:
    client = RecordingClient()
    events = [event(n, size=MAX_BYTES // 5) for n in range(12)]

    assert EventBridgeVerdictEvents(client, "verdicts").publish(events) == []

    sent = [json.loads(e["Detail"]) for request in client.requests for e in request]
    assert sent == events
    for request in client.requests:
        assert len(request) <= MAX_ENTRIES
        assert sum(entry_size(e["Source"], e["DetailType"], e["Detail"]) for e in request) <= MAX_BYTES
        assert {(e["Source"], e["DetailType"], e["EventBusName"]) for e in request} == {
            ("greenlight", "Greenlight Verdict", "verdicts")}


def test_publish_returns_the_input_indexes_of_refused_and_oversized_events() -> None:
    # Given 13 events, the third over the entry limit, and EventBridge refusing two of the rest
    client = RecordingClient(refusing(0), refusing(1))
    events = [event(n) for n in range(13)]
    events[2] = event(2, size=MAX_BYTES)

    failed = EventBridgeVerdictEvents(client, "verdicts").publish(events)

    # Then the oversized one was never sent, and the refused ones are named by their index in the input
    assert [json.loads(e["Detail"])["record_id"] for e in client.requests[0]][:3] == ["v-0", "v-1", "v-3"]
    assert failed == [0, 2, 12]


@pytest.mark.parametrize("error", [
    ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutEvents"),
    EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com"),
], ids=["client-error", "connection"])
def test_a_request_that_fails_leaves_it_and_the_rest_to_retry(error: Exception) -> None:
    client = RecordingClient(None, error)
    events = [event(n) for n in range(25)]

    failed = EventBridgeVerdictEvents(client, "verdicts").publish(events)

    assert failed == list(range(10, 25))
    assert len(client.requests) == 2  # the third request is not attempted


def test_publishing_nothing_sends_nothing() -> None:
    client = RecordingClient()

    assert EventBridgeVerdictEvents(client, "verdicts").publish([]) == []
    assert client.requests == []


# -- the fake ----------------------------------------------------------------------------------------


def test_the_fake_records_details_and_fails_what_it_is_told_to() -> None:
    fake = RecordingVerdictEvents()
    fake.fail_next(2)

    assert fake.publish([event(1), event(2), event(3, size=MAX_BYTES), event(4)]) == [0, 1, 2]
    assert fake.details == [event(4)]
    assert fake.publish([{"key": ("a", "b")}]) == []
    assert fake.details[-1] == {"key": ["a", "b"]}  # as a consumer decodes it
