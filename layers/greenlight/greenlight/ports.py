"""The ports logic is written against: what it needs from the verdict table, Green, S3 and the clock.

Adapters in `greenlight.aws` and `greenlight.green` implement them for production; in-memory fakes
under `tests/fakes` implement them for fast tests, and one contract suite (`tests/contract`) runs
against both so the fakes cannot drift from the real thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import NotScannable, ObjectInfo
from greenlight.domain.record import Claim, HeadUpdate, VerdictRecord
from greenlight.domain.states import State
from greenlight.green.wire import Feedback, ScanTask, TaskResult

Clock = Callable[[], float]
"""Seconds since the epoch, as time.time."""


class VerdictStore(Protocol):
    """The verdict table: one record per object version, moved only by conditional writes.

    Every state change is allowed by `greenlight.domain.states`; a write whose condition fails
    returns False and changes nothing, so duplicate, late and replayed writes are no-ops.
    """

    def get(self, record_id: str) -> VerdictRecord | None: ...

    def find_by_task(self, task_id: str) -> VerdictRecord | None: ...

    def due(self, now: float, limit: int) -> list[VerdictRecord]:
        """Non-terminal records whose due time has passed (PENDING to ask Green about, RECEIVED left
        stranded by a failed submission), oldest due first, at most `limit`."""
        ...

    def advance_head(self, obj: ObjectRef) -> HeadUpdate:
        """Note `obj` as the newest write of its key unless a newer one was seen."""
        ...

    def claim(self, obj: ObjectRef, *, lease_seconds: float, max_attempts: int, by: str) -> Claim:
        """Create the RECEIVED record under a lease, or take over a RECEIVED one whose lease ran out.
        Counts one scan attempt; refuses (claimed=False) a record that has used `max_attempts`."""
        ...

    def release(self, record_id: str, lease_token: str, *, retry_at: float, unsent: bool) -> bool:
        """Give a lease up after a failure, due again at `retry_at`; `unsent` (Green surely has no task)
        returns the attempt the claim counted."""
        ...

    def create_superseded(self, obj: ObjectRef, *, reason: str, by: str) -> bool: ...

    def supersede(self, record_id: str, *, reason: str, by: str) -> bool: ...

    def mark_pending(self, record_id: str, *, lease_token: str, task_id: str, due_at: float,
                     url_expires_at: float | None, details: Mapping[str, Any] | None, by: str) -> bool:
        """RECEIVED (under this lease) -> PENDING once Green has accepted the task."""
        ...

    def reserve_rescan(self, record_id: str, *, task_id: str | None, max_attempts: int, due_at: float) -> bool:
        """Count one more scan of a PENDING record before sending it (False when out of attempts or moved on)."""
        ...

    def resubmitted(self, record_id: str, *, task_id: str, due_at: float, url_expires_at: float | None,
                    reason: str, by: str) -> bool:
        """PENDING -> PENDING under the task of a rescan."""
        ...

    def reschedule(self, record_id: str, *, task_id: str | None, due_at: float, last_code: int | None = None,
                   only_earlier: bool = False, return_attempt: bool = False) -> bool:
        """Leave a PENDING record with this task pending, due at `due_at` (`only_earlier`: only if that is
        sooner); `return_attempt` gives back a rescan attempt that sent nothing."""
        ...

    def finish(self, record_id: str, state: State, *, by: str, reason: str | None = None,
               result: TaskResult | None = None, details: Mapping[str, Any] | None = None) -> bool:
        """RECEIVED or PENDING -> a terminal state."""
        ...


class GreenScanner(Protocol):
    """The Green image operations the pipeline uses (`greenlight.green.client.GreenClient`)."""

    def image_sync_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                        budget: float | None = None) -> list[TaskResult]: ...

    def image_async_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                         callback: str | None = None, seed: str | None = None,
                         budget: float | None = None) -> list[TaskResult]: ...

    def image_async_results(self, task_ids: Sequence[str], *, budget: float | None = None) -> list[TaskResult]: ...

    def image_scan_feedback(self, feedback: Feedback, *, budget: float | None = None) -> None: ...


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_at: float


class ObjectStore(Protocol):
    """The moderated bucket, as scanning needs it."""

    def inspect(self, obj: ObjectRef, max_bytes: int) -> ObjectInfo | NotScannable:
        """Read the version's first bytes and decide; raises only for failures worth retrying."""
        ...

    def presign(self, obj: ObjectRef) -> PresignedUrl:
        """A GET URL for this exact version that Green can download."""
        ...


@dataclass(frozen=True)
class CallbackTarget:
    """Where Green pushes results and the seed it signs them with; None when callbacks are off."""

    url: str
    seed: str
