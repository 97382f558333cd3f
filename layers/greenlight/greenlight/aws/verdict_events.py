"""Verdict events on an EventBridge bus: the production `VerdictEvents` (see greenlight.ports).

Each event (a mapping) becomes one PutEvents entry's Detail, as compact JSON (UTF-8, not escaped).
Entries go out in requests of at most 10 entries and 256 KiB (PutEvents' limits, sizes counted as
EventBridge counts them: Source + DetailType + Detail in UTF-8). An entry over 256 KiB on its own is
never sent: it fails here, with its index. `publish` returns the indexes (into its input) of the
events that were not put on the bus, so the caller can retry exactly those: entries EventBridge
refused (ErrorCode in the answer), and every event of a request that failed as a whole (after the
client's own retries) and of the requests after it, which are not attempted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from greenlight.runtime.observability import logger

MAX_ENTRIES = 10  # PutEvents entries per request
MAX_BYTES = 256 * 1024  # one entry, and all entries of a request


def encode_detail(event: Mapping[str, Any]) -> str:
    """The entry's Detail: compact JSON, non-ASCII kept (EventBridge counts UTF-8 bytes)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_size(source: str, detail_type: str, detail: str) -> int:
    """An entry's size as EventBridge counts it (no Time, no Resources)."""
    return sum(len(part.encode("utf-8")) for part in (source, detail_type, detail))


def chunk(sizes: Sequence[tuple[int, int]], *, max_entries: int = MAX_ENTRIES,
          max_bytes: int = MAX_BYTES) -> Iterator[list[int]]:
    """Group (index, size) pairs, in order, into requests of at most `max_entries` entries and
    `max_bytes` bytes; each pair must fit on its own. Yields the indexes of each request."""
    group: list[int] = []
    total = 0
    for index, size in sizes:
        if size > max_bytes:
            raise ValueError(f"entry {index} is {size} bytes, over {max_bytes}")
        if group and (len(group) == max_entries or total + size > max_bytes):
            yield group
            group, total = [], 0
        group.append(index)
        total += size
    if group:
        yield group


def failed_in(response: Mapping[str, Any], sent: Sequence[int]) -> list[int]:
    """The indexes of `sent` whose entries a PutEvents answer reports failed (entries answer in order;
    a missing answer counts as failed)."""
    if not response.get("FailedEntryCount") and len(response.get("Entries") or []) == len(sent):
        return []
    answers = list(response.get("Entries") or [])
    return [index for position, index in enumerate(sent)
            if position >= len(answers) or answers[position].get("ErrorCode") or not answers[position].get("EventId")]


class EventBridgeVerdictEvents:
    def __init__(self, events_client: Any, bus_name: str, source: str = "greenlight",
                 detail_type: str = "Greenlight Verdict") -> None:
        self._events = events_client
        self.bus_name = bus_name
        self.source = source
        self.detail_type = detail_type

    def publish(self, events: Sequence[Mapping[str, Any]]) -> list[int]:
        from botocore.exceptions import BotoCoreError, ClientError  # loaded with the client already

        details = [encode_detail(event) for event in events]  # not serialisable: a bug, raised before sending
        sizes = [(i, entry_size(self.source, self.detail_type, detail)) for i, detail in enumerate(details)]
        failed = [i for i, size in sizes if size > MAX_BYTES]
        for i in failed:
            logger.error("Verdict event too large for EventBridge: not sent",
                         extra={"index": i, "bytes": sizes[i][1], "limit": MAX_BYTES})
        requests = list(chunk([(i, size) for i, size in sizes if size <= MAX_BYTES]))
        for number, indexes in enumerate(requests):
            entries = [{"Source": self.source, "DetailType": self.detail_type, "Detail": details[i],
                        "EventBusName": self.bus_name} for i in indexes]
            try:
                response = self._events.put_events(Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                unsent = [i for later in requests[number:] for i in later]
                logger.warning("PutEvents failed: verdict events left to retry",
                               extra={"error": str(exc), "events": len(unsent), "bus": self.bus_name})
                failed.extend(unsent)
                break
            refused = failed_in(response, indexes)
            if refused:
                codes = sorted({str(e.get("ErrorCode")) for e in response.get("Entries") or [] if e.get("ErrorCode")})
                logger.warning("EventBridge refused verdict events",
                               extra={"events": len(refused), "codes": codes, "bus": self.bus_name})
            failed.extend(refused)
        return sorted(failed)
