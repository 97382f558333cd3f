"""What the reviewer page shows and does, over greenlight's ports: the review queue as the page lists
it (each version with a short-lived presigned URL for its thumbnail, made with the operator's own
credentials on every fetch of the queue), and approve/block as overrides (greenlight.review.overrides).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from greenlight.domain.record import VerdictRecord
from greenlight.green.wire import SUGGESTION_RANK
from greenlight.ports import PolicySource, ReviewStore, VerdictStore
from greenlight.review.overrides import OverrideRefused, OverrideRequest, OverrideResult, apply_override
from greenlight.runtime.parallel import io_map

if TYPE_CHECKING:
    from greenlight_cli.stack import StackContext

THUMBNAIL_SECONDS = 300  # a presigned URL outlives the page's use of it by minutes, not hours
MAX_PREVIEW_BYTES = 25 * 1024 * 1024  # larger versions (too_large reviews) are not loaded into the page
QUEUE_LIMIT = 100
PAGE_DECISIONS = {"pass": "approved", "block": "blocked"}  # what the page's two buttons record


class RecordNotFound(Exception):
    pass


class PolicyUnavailable(Exception):
    """The policy in force cannot be read: an override would be recorded under the built-in fallback."""


@dataclass(frozen=True)
class Thumbnail:
    url: str | None
    note: str | None = None  # why there is no URL


class Thumbnails(Protocol):
    def thumbnail(self, record: VerdictRecord) -> Thumbnail: ...


def image_location(record: VerdictRecord) -> tuple[str, str, str | None]:
    """Where the judged version's bytes are now: its quarantine copy once moved there, else its key (and
    version id in a versioned bucket)."""
    where: Mapping[str, Any] = record.quarantine
    if where.get("bucket") and where.get("key") and not where.get("moving"):
        version = where.get("version_id")
        return str(where["bucket"]), str(where["key"]), str(version) if version else None
    return record.bucket, record.key, record.version_id if record.object_ref().versioned else None


class S3Thumbnails:
    """Presigned GET URLs for the exact version judged, made with the caller's S3 client."""

    def __init__(self, s3: Any, *, seconds: int = THUMBNAIL_SECONDS) -> None:
        self._s3 = s3
        self.seconds = seconds

    def thumbnail(self, record: VerdictRecord) -> Thumbnail:
        if record.size is not None and record.size > MAX_PREVIEW_BYTES:
            return Thumbnail(None, f"too large to preview ({record.size / 1024 / 1024:.0f} MB)")
        bucket, key, version = image_location(record)
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        elif not self._still_there(bucket, key, record.etag):
            return Thumbnail(None, "the version judged is no longer at its key")
        try:
            url = self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=self.seconds)
        except Exception as exc:  # no credentials to sign with: the page says so instead of failing
            return Thumbnail(None, f"no preview ({type(exc).__name__})")
        return Thumbnail(str(url))

    def _still_there(self, bucket: str, key: str, etag: str | None) -> bool:
        """An unversioned key: only a URL for the bytes judged (same ETag) may be shown."""
        if not etag:
            return False
        try:
            self._s3.head_object(Bucket=bucket, Key=key, IfMatch=f'"{etag.strip(chr(34))}"')
        except Exception:
            return False
        return True


def image_origins(endpoint_url: str | None) -> tuple[str, ...]:
    """Where thumbnails may load from (the page's Content-Security-Policy img-src)."""
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        return (f"{parts.scheme}://{parts.netloc}",)
    return ("https://*.amazonaws.com", "https://*.amazonaws.com.cn")


def _rate(value: Any) -> float | None:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) else None


def scenes_of(record: VerdictRecord) -> list[dict[str, Any]]:
    """The record's scene results, most severe first (then highest rate)."""
    scenes = [{"scene": str(name), "label": str(item.get("label", "")), "suggestion": str(item.get("suggestion", "")),
               "rate": _rate(item.get("rate"))} for name, item in record.scenes.items()]
    return sorted(scenes, key=lambda s: (-SUGGESTION_RANK.get(s["suggestion"], 1), -(s["rate"] or 0), s["scene"]))


@dataclass
class ReviewBackend:
    store: VerdictStore
    reviews: ReviewStore
    policy: PolicySource
    thumbnails: Thumbnails
    actor: str
    image_origins: tuple[str, ...] = ()
    stack_name: str = "local"

    @classmethod
    def from_context(cls, context: StackContext) -> ReviewBackend:
        from botocore.config import Config

        s3 = context.session.client("s3", endpoint_url=context.endpoint_url,
                                    config=Config(signature_version="s3v4"))
        return cls(store=context.store, reviews=context.reviews, policy=context.policy, thumbnails=S3Thumbnails(s3),
                   actor=context.caller(), image_origins=image_origins(context.endpoint_url), stack_name=context.name)

    def queue(self) -> dict[str, Any]:
        records = self.reviews.review_queue(limit=QUEUE_LIMIT)
        thumbnails = io_map(self.thumbnails.thumbnail, records)
        policy = self.policy.current()
        return {
            "stack": self.stack_name,
            "actor": self.actor,
            "policy": {"version": policy.version, "mode": policy.mode, "problem": self.policy.problem},
            "limit": QUEUE_LIMIT,
            "thumbnail_seconds": getattr(self.thumbnails, "seconds", None),
            "items": [item(record, thumb) for record, thumb in zip(records, thumbnails, strict=True)],
        }

    def decide(self, *, record_id: str, decision: str, reason: str, request_id: str, seen_rev: int) -> OverrideResult:
        """Approve (pass) or block the version the page showed: refused if its decision changed since."""
        if decision not in PAGE_DECISIONS:
            raise OverrideRefused(f"decision must be one of {', '.join(PAGE_DECISIONS)}")
        record = self.store.get(record_id)
        if record is None:
            raise RecordNotFound(f"no verdict record {record_id}")
        if request_id not in record.override_ids and record.decision_rev != seen_rev:
            raise OverrideRefused(f"{record.key} was decided again since the page showed it "
                                  f"(now {record.decision}); reload the queue")
        policy = self.policy.current()
        if self.policy.problem is not None and request_id not in record.override_ids:
            raise PolicyUnavailable(f"the moderation policy cannot be read ({self.policy.problem}); "
                                    "an override would not be recorded under it")
        request = OverrideRequest(record_id=record_id, decision=decision, reason=reason, actor=self.actor,
                                  request_id=request_id)
        return apply_override(self.store, self.reviews, policy, request)


def item(record: VerdictRecord, thumbnail: Thumbnail) -> dict[str, Any]:
    """One queue entry as the page shows it."""
    versioned = record.object_ref().versioned
    return {
        "id": record.id,
        "bucket": record.bucket,
        "key": record.key,
        "version_id": record.version_id if versioned else None,
        "etag": record.etag,
        "size": record.size,
        "image_format": record.image_format,
        "state": record.state.value,
        "suggestion": record.suggestion,
        "reason": record.reason,
        "decision": record.decision,
        "decision_rev": record.decision_rev,
        "decided_at": record.decided_at,
        "policy_version": record.policy_version,
        "decision_mode": record.decision_mode,
        "reasons": list(record.decision_reasons),
        "scenes": scenes_of(record),
        "quarantined": bool(record.quarantine),
        "thumbnail": thumbnail.url,
        "thumbnail_note": thumbnail.note,
    }


def outcome(result: OverrideResult) -> dict[str, Any]:
    record = result.record
    return {"applied": result.applied, "id": record.id, "key": record.key, "state": record.state.value,
            "decision": record.decision, "decision_rev": record.decision_rev,
            "override": {k: record.override.get(k) for k in ("by", "at", "reason", "decision", "previous_decision")}}

