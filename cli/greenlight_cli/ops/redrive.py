"""`greenlight redrive`: messages out of the three dead-letter queues, back to where they are worked on.

- scan: the scan queue's DLQ (DeadLetterQueueUrl) -> the scan queue. Its records are recovered by the
  poller anyway; a message whose claim itself failed has no record yet and needs this.
- events: S3 events EventBridge could not deliver (EventDeliveryDeadLetterQueueUrl) -> the scan queue.
  They have no source queue (SQS's own redrive cannot move them); their bodies are the events as the
  rule would have delivered them.
- enforcement (EnforcementDeadLetterQueueUrl) -> the enforcement retry queue. Two kinds land there: retry
  messages that failed five times (moved back as they are), and the stream's failure records (Lambda's
  on-failure destination: a DDBStreamBatchInfo naming a range of the table's stream, not the records).
  For those, the range is read from the stream (kept 24 hours) and a retry message is sent for each of
  its records whose current decision is not enforced yet; a range the stream no longer holds is found
  with one Scan of the table for every decision not yet enforced (a full read, done once per run).

Each message is received, its work sent to the target, and only then deleted: a failure leaves it in
the DLQ (it comes back after the visibility timeout). At worst a message is moved twice, and the work
is done as a duplicate (the pipeline takes the same version or decision once).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from greenlight.aws.reviews import not_enforced
from greenlight_cli.ops.ports import Message, Operations

VISIBILITY_SECONDS = 120  # a message received is hidden this long: time to send its work and delete it
PEEK_ROUNDS = 3  # a dry run's receives that bring nothing new before it stops


class Source(StrEnum):
    SCAN = "scan"
    EVENTS = "events"
    ENFORCEMENT = "enforcement"


@dataclass(frozen=True)
class Route:
    source: Source
    dlq_output: str
    target_output: str
    what: str


ROUTES = {
    Source.SCAN: Route(Source.SCAN, "DeadLetterQueueUrl", "QueueUrl", "scan DLQ -> scan queue"),
    Source.EVENTS: Route(Source.EVENTS, "EventDeliveryDeadLetterQueueUrl", "QueueUrl",
                         "event delivery DLQ -> scan queue"),
    Source.ENFORCEMENT: Route(Source.ENFORCEMENT, "EnforcementDeadLetterQueueUrl", "EnforcementRetryQueueUrl",
                              "enforcement DLQ -> enforcement retry queue"),
}


@dataclass
class Moved:
    route: Route
    messages: int = 0  # taken out of the DLQ (or, in a dry run, seen there)
    sent: int = 0  # messages sent to the target
    retries: int = 0  # enforcement: retry messages moved back as they were
    batches: int = 0  # enforcement: stream failure records
    from_scan: bool = False  # enforcement: some batches were past the stream's 24 hours
    left: int = 0  # not greenlight's: left in the DLQ
    record_ids: set[str] = field(default_factory=set)  # enforcement: decisions sent to be enforced


def retry_message(record_id: str, decision_rev: int) -> str:
    """The enforce function's retry message (enforce_logic.retry_message)."""
    return json.dumps({"record_id": record_id, "decision_rev": decision_rev})


def stream_batch(body: str) -> Mapping[str, Any] | None:
    """A stream failure record's DDBStreamBatchInfo, if the body is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    info = data.get("DDBStreamBatchInfo") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else None


def is_retry(body: str) -> bool:
    try:
        data = json.loads(body)
        return isinstance(data, dict) and isinstance(data["record_id"], str) and int(data["decision_rev"]) >= 0
    except (ValueError, KeyError, TypeError):
        return False


class Redrive:
    def __init__(self, ops: Operations, *, limit: int, progress: Callable[[int], None]) -> None:
        self.ops = ops
        self.limit = limit
        self.progress = progress

    def run(self, route: Route, *, dry_run: bool) -> Moved:
        moved = Moved(route)
        dlq, target = self.ops.output(route.dlq_output), self.ops.output(route.target_output)
        if dry_run:
            self._peek(dlq, moved)
            return moved
        unresolved: list[Message] = []
        while moved.messages + len(unresolved) < self.limit:
            batch = self.ops.queues.receive(dlq, limit=min(10, self.limit - moved.messages - len(unresolved)),
                                            wait_seconds=1, visibility_seconds=VISIBILITY_SECONDS)
            if not batch:
                break
            if route.source is Source.ENFORCEMENT:
                unresolved += self._enforcement(batch, dlq, target, moved)
            else:
                self._send([m.body for m in batch], target, moved)
                self._delete(dlq, batch)
                moved.messages += len(batch)
            self.progress(len(batch))
        if unresolved:  # stream ranges past the stream's retention: every decision not yet enforced
            moved.from_scan = True
            self._send_retries(self._unenforced(), target, moved)
            self._delete(dlq, unresolved)
            moved.messages += len(unresolved)
            moved.batches += len(unresolved)
        return moved

    # -- the enforcement DLQ -----------------------------------------------------------------------

    def _enforcement(self, batch: list[Message], dlq: str, target: str, moved: Moved) -> list[Message]:
        """Move what can be moved now; the stream failure records whose range is gone, for the table scan."""
        unresolved: list[Message] = []
        for message in batch:
            if is_retry(message.body):
                self._send([message.body], target, moved)
                moved.retries += 1
            elif (info := stream_batch(message.body)) is not None:
                ids = self.ops.streams.record_ids(info)
                if ids is None:
                    unresolved.append(message)
                    continue
                self._send_retries(self._records(ids), target, moved)
                moved.batches += 1
            else:
                moved.left += 1  # not greenlight's: it stays (hidden until the visibility timeout)
                continue
            self._delete(dlq, [message])
            moved.messages += 1
        return unresolved

    def _records(self, ids: Iterable[str]) -> list[tuple[str, int]]:
        found = []
        for record_id in ids:
            record = self.ops.store.get(record_id)
            if record is not None and not_enforced(record):
                found.append((record.id, record.decision_rev))
        return found

    def _unenforced(self) -> list[tuple[str, int]]:
        return [(r.id, r.decision_rev) for r in self.ops.reviews.scan(unenforced=True)]

    def _send_retries(self, work: list[tuple[str, int]], target: str, moved: Moved) -> None:
        fresh = [(record_id, rev) for record_id, rev in work if record_id not in moved.record_ids]
        for index in range(0, len(fresh), 10):
            chunk = fresh[index:index + 10]
            self._send([retry_message(record_id, rev) for record_id, rev in chunk], target, moved)
            moved.record_ids.update(record_id for record_id, _ in chunk)

    # -- plumbing ----------------------------------------------------------------------------------

    def _send(self, bodies: list[str], target: str, moved: Moved) -> None:
        self.ops.queues.send(target, bodies)
        moved.sent += len(bodies)

    def _delete(self, dlq: str, messages: list[Message]) -> None:
        for index in range(0, len(messages), 10):
            self.ops.queues.delete(dlq, [m.receipt for m in messages[index:index + 10]])

    def _peek(self, dlq: str, moved: Moved) -> None:
        """Look at the messages without taking them (visibility 0: others see them at once)."""
        seen: set[str] = set()
        idle = 0
        while len(seen) < self.limit and idle < PEEK_ROUNDS:
            batch = self.ops.queues.receive(dlq, limit=10, wait_seconds=1, visibility_seconds=0)
            fresh = [m for m in batch if m.message_id not in seen]
            idle = 0 if fresh else idle + 1
            for message in fresh[:self.limit - len(seen)]:
                seen.add(message.message_id)
                if moved.route.source is Source.ENFORCEMENT:
                    if is_retry(message.body):
                        moved.retries += 1
                    elif stream_batch(message.body) is not None:
                        moved.batches += 1
                    else:
                        moved.left += 1
                self.progress(1)
        moved.messages = len(seen) - moved.left
