"""In-memory VerdictEvents: records what a bus would have received, with the EventBridge adapter's limits.

`published` holds each event put on the bus as a consumer would read it (source, detail-type, and the
detail decoded from the JSON the adapter would send). tests/integration/test_verdict_events_contract.py
holds this fake to EventBridgeVerdictEvents on moto.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greenlight.aws.verdict_events import MAX_BYTES, encode_detail, entry_size


@dataclass(frozen=True)
class PublishedEvent:
    source: str
    detail_type: str
    detail: dict[str, Any]


class RecordingVerdictEvents:
    """`fail_next(n)` makes the next n events (that fit) fail, as EventBridge refusing entries would."""

    def __init__(self, source: str = "greenlight", detail_type: str = "Greenlight Verdict") -> None:
        self.source = source
        self.detail_type = detail_type
        self.published: list[PublishedEvent] = []
        self.calls = 0
        self._failing = 0

    @property
    def details(self) -> list[dict[str, Any]]:
        return [event.detail for event in self.published]

    def fail_next(self, count: int = 1) -> None:
        self._failing += count

    def publish(self, events: Sequence[Mapping[str, Any]]) -> list[int]:
        self.calls += 1
        encoded = [encode_detail(event) for event in events]
        failed: list[int] = []
        for index, detail in enumerate(encoded):
            if entry_size(self.source, self.detail_type, detail) > MAX_BYTES:
                failed.append(index)
            elif self._failing:
                self._failing -= 1
                failed.append(index)
            else:
                self.published.append(PublishedEvent(self.source, self.detail_type, json.loads(detail)))
        return failed
