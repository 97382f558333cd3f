"""Whether an object is worth a Green scan, decided before paying for one.

The type is decided by the object's first bytes, never by its Content-Type or extension, which
the uploader controls. These are pure decisions; reading the bytes is the object inspector's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.domain.states import State

SNIFF_BYTES = 32


def sniff_image(head: bytes) -> str | None:
    """The image format Green accepts (PNG, JPEG, GIF, BMP, WEBP) that these bytes start, if any."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 14:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class ObjectInfo:
    """An object that will be sent to Green."""

    size: int
    content_type: str | None
    image_format: str
    sha256: str | None = None  # of the whole object, when content hashing is on

    def details(self) -> dict[str, Any]:
        details = {"size": self.size, "content_type": self.content_type, "image_format": self.image_format}
        return {**details, "sha256": self.sha256} if self.sha256 else details


@dataclass(frozen=True)
class NotScannable:
    """The object will never be scanned: recorded in `state` (SKIPPED, ERROR or SUPERSEDED) with `reason`."""

    state: State
    reason: str
    details: dict[str, Any] | None = None


def precheck(obj: ObjectRef, max_bytes: int) -> NotScannable | None:
    """What the event alone tells: folder markers, empty objects and objects over Green's size cap."""
    if obj.key.endswith("/"):
        return NotScannable(State.SKIPPED, "folder_marker")
    if obj.size == 0:
        return NotScannable(State.SKIPPED, "zero_bytes")
    if obj.size is not None and obj.size > max_bytes:
        return NotScannable(State.SKIPPED, "too_large", {"size": obj.size})
    return None


def judge_head(size: int, content_type: str | None, head: bytes, max_bytes: int) -> ObjectInfo | NotScannable:
    """Decide from the object's real size, declared type and first bytes."""
    if size == 0:
        return NotScannable(State.SKIPPED, "zero_bytes")
    if size > max_bytes:
        return NotScannable(State.SKIPPED, "too_large", {"size": size, "content_type": content_type})
    image_format = sniff_image(head)
    if image_format is None:
        return NotScannable(State.SKIPPED, "not_an_image", {"size": size, "content_type": content_type})
    return ObjectInfo(size=size, content_type=content_type, image_format=image_format)


# What reading the object found instead of its bytes.
MISSING = NotScannable(State.SKIPPED, "object_missing")
OVERWRITTEN = NotScannable(State.SUPERSEDED, "overwritten_before_scan")
ACCESS_DENIED = NotScannable(State.ERROR, "access_denied")
