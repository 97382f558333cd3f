"""The verdict record: one per object version, as every part of the system reads it.

Its fields are declared once, here; the verdict table's adapter stores and reads them by name, so
a new field is one line in this class (and, if it is set by a write, one in that write).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.domain.states import TERMINAL, State

HISTORY_LIMIT = 32  # entries kept; older ones are folded into a count (an item must not grow without bound)


def iso(epoch: float) -> str:
    """A timestamp as stored on records: ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_of(timestamp: str) -> float:
    """A stored timestamp (`iso`) back to seconds since the epoch."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class VerdictRecord:
    """A version record as read from the verdict table."""

    id: str
    bucket: str
    key: str
    state: State
    rev: int = 0
    # the object version
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    content_type: str | None = None
    image_format: str | None = None
    sequencer: str | None = None
    event_time: str | None = None
    # the verdict
    suggestion: str | None = None
    scenes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None
    source: str | None = None
    result_code: int | None = None
    # the moderation decision (greenlight.domain.policy) and what was done about it
    decision: str | None = None  # pass | review | block
    policy_version: str | None = None
    decision_mode: str | None = None  # enforce | shadow
    decision_reasons: tuple[str, ...] = ()
    decision_rev: int = 0  # bumped by every decision, the first and each later change (events dedupe on it)
    decided_at: str | None = None
    enforcement: dict[str, Any] = field(default_factory=dict)  # what was done for the latest decision
    quarantine: dict[str, Any] = field(default_factory=dict)  # where the version was moved ({} if it was not)
    sha256: str | None = None  # of the bytes, when content hashing is on
    # people in the loop
    override: dict[str, Any] = field(default_factory=dict)  # the latest: by, at, reason, decision, previous...
    override_ids: frozenset[str] = frozenset()  # every override request applied (a replay changes nothing)
    feedback: dict[str, Any] = field(default_factory=dict)  # what Green was told about an override, and how it went
    # scanning
    task_id: str | None = None
    task_ids: frozenset[str] = frozenset()
    attempts: int = 0  # Green scans that may have been made for this version (counted before sending)
    recoveries: int = 0  # times the poller took a stranded RECEIVED record over
    lease_token: str | None = None
    lease_until: float | None = None
    due_at: float | None = None
    last_code: int | None = None
    submitted_epoch: float | None = None
    url_expires_at: str | None = None
    # times
    created_at: str | None = None
    updated_at: str | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    # audit trail: {"to", "at", "by"[, "task", "reason"]}; folded entries counted in history_folded
    history: tuple[dict[str, Any], ...] = ()
    history_folded: int = 0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def object_ref(self) -> ObjectRef:
        return ObjectRef(bucket=self.bucket, key=self.key, etag=self.etag, version_id=self.version_id,
                         size=self.size, sequencer=self.sequencer, event_time=self.event_time)


def object_name(bucket: str, key: str) -> str:
    """What the lookup index knows a record by: every version of bucket/key shares it."""
    return f"{bucket}/{key}"


def object_fields(obj: ObjectRef) -> dict[str, Any]:
    """The fields a new record takes from the object version it is about."""
    return {"id": obj.data_id, "bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id, "etag": obj.etag,
            "size": obj.size, "sequencer": obj.sequencer, "event_time": obj.event_time}


def history_entry(state: State, now: float, by: str, *, task_id: str | None = None,
                  reason: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"to": state.value, "at": iso(now), "by": by}
    if task_id:
        entry["task"] = task_id
    if reason:
        entry["reason"] = reason
    return entry


def action_entry(now: float, by: str, action: str, *, decision_rev: int, detail: str | None = None) -> dict[str, Any]:
    """A history entry for something done to the object (no state change: it has no "to")."""
    entry: dict[str, Any] = {"action": action, "at": iso(now), "by": by, "decision_rev": decision_rev}
    if detail:
        entry["detail"] = detail
    return entry


@dataclass(frozen=True)
class KnownContent:
    """A verdict remembered by content hash: identical bytes get it without a Green call.

    `key` is "etag:<etag>:<size>" (any hash will do for blocking) or "sha256:<hex>" (the only kind a
    pass may be reused on: an uploader cannot make other bytes collide with it).
    """

    key: str
    decision: str
    record_id: str
    policy_version: str | None = None
    scenes: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a version for submission."""

    claimed: bool
    lease_token: str | None = None
    existing: VerdictRecord | None = None  # set when not claimed
    takeover: bool = False  # claimed from an earlier holder whose lease ran out
    attempts: int = 0  # scans counted for the version, this claim's included


@dataclass(frozen=True)
class HeadUpdate:
    newest: bool  # this version is the newest seen for its key
    previous_id: str | None = None  # the version it replaces, if any
