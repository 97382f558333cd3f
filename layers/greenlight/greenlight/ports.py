"""The ports logic is written against: what it needs from the verdict table, Green, S3 and the clock.

Adapters in `greenlight.aws` and `greenlight.green` implement them for production; in-memory fakes
under `tests/fakes` implement them for fast tests, and contract suites
(`tests/integration/test_*_contract.py`) run against both so the fakes cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import NotScannable, ObjectInfo
from greenlight.domain.policy import Policy
from greenlight.domain.record import Claim, HeadUpdate, KnownContent, VerdictRecord
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

    def create_superseded(self, obj: ObjectRef, *, reason: str, by: str,
                          decision: Mapping[str, Any] | None = None) -> bool: ...

    def supersede(self, record_id: str, *, reason: str, by: str, decision: Mapping[str, Any] | None = None) -> bool:
        ...

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
               result: TaskResult | None = None, details: Mapping[str, Any] | None = None,
               decision: Mapping[str, Any] | None = None) -> bool:
        """RECEIVED or PENDING -> a terminal state, with the moderation decision about it
        (greenlight.domain.policy.Decision.to_record; decision_rev goes up by one)."""
        ...

    def record_enforcement(self, record_id: str, *, decision_rev: int, enforcement: Mapping[str, Any],
                           entries: Sequence[Mapping[str, Any]]) -> bool:
        """What was done for decision `decision_rev`, with history entries, while it is the record's decision."""
        ...

    def set_quarantine(self, record_id: str, quarantine: Mapping[str, Any] | None) -> bool: ...


class ImageBudget(Protocol):
    """Counters of images sent to Green, one per UTC day (greenlight.scanning.spend decides with them).

    `day` is an ISO date ("2026-12-03"). Counts never go above the limit a caller passes, however many
    callers take at once.
    """

    def take(self, day: str, images: int, *, limit: int) -> int:
        """Count up to `images` more for `day`, keeping the day's count at most `limit`, in one conditional
        write (a second only when the first would cross the limit); how many were granted (0 to images)."""
        ...

    def give_back(self, day: str, images: int) -> None:
        """Uncount images taken for `day` that were surely never sent."""
        ...

    def used(self, day: str) -> int:
        """Images counted for `day` so far."""
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

    def inspect(self, obj: ObjectRef, max_bytes: int, *, hash_content: bool = False) -> ObjectInfo | NotScannable:
        """Read the version's first bytes (all of them, with `hash_content`, for its SHA-256) and decide;
        raises only for failures worth retrying."""
        ...

    def presign(self, obj: ObjectRef) -> PresignedUrl:
        """A GET URL for this exact version that Green can download."""
        ...


@dataclass(frozen=True)
class CallbackTarget:
    """Where Green pushes results and the seed it signs them with; None when callbacks are off."""

    url: str
    seed: str


class ReviewStore(Protocol):
    """What people need from the verdict table (greenlight.aws.reviews)."""

    def versions_of(self, bucket: str, key: str, *, limit: int = 50) -> list[VerdictRecord]:
        """Every version record of bucket/key, newest first (from an index, not a scan)."""
        ...

    def review_queue(self, *, limit: int = 50) -> list[VerdictRecord]:
        """Records whose decision is review, oldest decision first."""
        ...

    def override(self, record: VerdictRecord, *, decision: Mapping[str, Any], actor: str, reason: str,
                 request_id: str) -> bool:
        """A person's decision in place of `record`'s (refused if the record changed since it was read,
        or if `request_id` was applied already)."""
        ...

    def record_feedback(self, record_id: str, feedback: Mapping[str, Any]) -> bool: ...

    def reopen(self, record: VerdictRecord, *, actor: str, reason: str) -> bool:
        """A person's rescan of a version that was not scanned (ERROR or SKIPPED, greenlight.domain.states
        REOPENABLE), as they saw it (refused if the record changed since it was read): back to RECEIVED with
        no attempts, recoveries or lease, due now, so the poller's recovery of stranded records submits it.
        Recorded in the history with `actor` and `reason`. Its decision stays until the new verdict
        replaces it; it leaves the review queue meanwhile."""
        ...

    def scan(self, *, states: Collection[State] = (), unenforced: bool = False,
             on_page: Callable[[int], None] | None = None) -> Iterator[VerdictRecord]:
        """Every version record, in no particular order: only those in `states` when given; only those
        whose current decision is not yet enforced (`enforcement.decision_rev` behind `decision_rev`) with
        `unenforced`. A full read of the table (billed for every item read), for an operator's rare
        commands; `on_page(items_read)` after each page."""
        ...


class KnownContentStore(Protocol):
    """Verdicts remembered by content hash (greenlight.domain.record.KnownContent)."""

    def put(self, entry: KnownContent) -> None: ...

    def forget(self, key: str, *, record_id: str) -> bool:
        """Remove the entry for `key` if `record_id` (still) owns it."""
        ...

    def find(self, keys: Sequence[str]) -> dict[str, KnownContent]: ...


class PolicySource(Protocol):
    """The moderation policy in force (greenlight.domain.policy)."""

    @property
    def problem(self) -> str | None:
        """Why the policy in force is not the configured one (an invalid or unreadable document); None when it is."""
        ...

    def current(self) -> Policy: ...


class VersionGone(Exception):
    """The object version a verdict judged is no longer the one at its key: nothing may be done to it."""


class KeyInUse(Exception):
    """Putting a version back would overwrite another object written to its key since (an unversioned
    bucket): the copy stays in quarantine rather than destroy someone's newer upload."""


@dataclass(frozen=True)
class QuarantineCopy:
    """Where a quarantined version was moved to (enough to put it back)."""

    bucket: str
    key: str
    version_id: str | None


class ObjectActions(Protocol):
    """What enforcement does to the exact object version a verdict judged.

    Every method acts on `obj`'s version only (its version id; for an unversioned key, only while the
    key still holds `obj`'s ETag, else VersionGone), and is idempotent: repeating it after a success
    changes nothing and raises nothing.
    """

    def tag(self, obj: ObjectRef, tags: Mapping[str, str]) -> None:
        """Set these tags on the version, keeping its other tags (ours replace earlier values)."""
        ...

    def remove_tags(self, obj: ObjectRef, keys: Sequence[str]) -> None: ...

    def quarantine(self, obj: ObjectRef, *, bucket: str, key: str) -> QuarantineCopy:
        """Copy the version (bytes, metadata, content type, tags) to bucket/key, then delete the version
        from its own key, so the key no longer serves it."""
        ...

    def restore(self, obj: ObjectRef, copy: QuarantineCopy) -> ObjectRef:
        """Copy a quarantined version back to its key (a new version there) and delete the quarantine
        copy; the new version's ref (its version id or ETag). In an unversioned bucket whose key holds
        another object now, raises KeyInUse and changes nothing."""
        ...

    def delete(self, obj: ObjectRef) -> None:
        """Delete the version for good."""
        ...


class VerdictEvents(Protocol):
    """Where verdict events go (an EventBridge bus)."""

    def publish(self, events: Sequence[Mapping[str, Any]]) -> list[int]:
        """Put each event's `detail` (already serialisable) on the bus; the indexes of those that failed."""
        ...


class RetryQueue(Protocol):
    """Work to come back to later (SQS with a dead-letter queue behind it)."""

    def later(self, message: Mapping[str, Any], delay_seconds: int) -> None: ...
