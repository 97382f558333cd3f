"""Look at an S3 object before paying for a scan, and presign the URL Green downloads it from.

The object's type is decided by its first bytes, not by its Content-Type or extension, which the
uploader controls. One ranged GET gives the size, type, ETag and those bytes at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenlight.events import ObjectRef
from greenlight.green.wire import MAX_URL_LENGTH
from greenlight.states import State

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
    size: int
    content_type: str | None
    image_format: str

    def details(self) -> dict[str, Any]:
        return {"size": self.size, "content_type": self.content_type, "image_format": self.image_format}


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


def inspect_object(s3: Any, obj: ObjectRef, max_bytes: int) -> ObjectInfo | NotScannable:
    """Read the object's first bytes. Raises ClientError only for failures worth retrying."""
    params: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key, "Range": f"bytes=0-{SNIFF_BYTES - 1}"}
    if obj.version_id and obj.version_id != "null":
        params["VersionId"] = obj.version_id
    elif obj.etag:
        params["IfMatch"] = f'"{obj.etag}"'  # an unversioned key overwritten since the event is not this version
    from botocore.exceptions import ClientError  # loaded with the S3 client already

    try:
        response = s3.get_object(**params)
        head = response["Body"].read(SNIFF_BYTES)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound") or status == 404:
            return NotScannable(State.SKIPPED, "object_missing")
        if code in ("PreconditionFailed", "412") or status == 412:
            return NotScannable(State.SUPERSEDED, "overwritten_before_scan")
        if code == "InvalidRange" or status == 416:
            return NotScannable(State.SKIPPED, "zero_bytes")
        if code in ("AccessDenied", "403", "KMS.AccessDeniedException") or status == 403:
            return NotScannable(State.ERROR, "access_denied")
        raise
    size = _total_size(response)
    content_type = response.get("ContentType")
    if size == 0:
        return NotScannable(State.SKIPPED, "zero_bytes")
    if size > max_bytes:
        return NotScannable(State.SKIPPED, "too_large", {"size": size, "content_type": content_type})
    image_format = sniff_image(head)
    if image_format is None:
        return NotScannable(State.SKIPPED, "not_an_image", {"size": size, "content_type": content_type})
    return ObjectInfo(size=size, content_type=content_type, image_format=image_format)


def _total_size(response: dict[str, Any]) -> int:
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(response.get("ContentLength") or 0)


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_at: float

    @property
    def too_long(self) -> bool:
        return len(self.url) > MAX_URL_LENGTH


class UrlSigner:
    """Presigns GET URLs with the function's role (default) or a dedicated signing key pair.

    A role-signed URL carries the session token (long) and dies with the session; a key-signed URL
    is short and lives for the full expiry (up to 7 days). `key_client` builds an S3 client for the
    key pair currently in the secret.
    """

    def __init__(self, *, mode: str, expiry: int, role_client: Callable[[], Any],
                 key_client: Callable[[], Any] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.mode = mode
        self.expiry = expiry
        self._role_client = role_client
        self._key_client = key_client
        self._clock = clock

    def presign(self, obj: ObjectRef) -> PresignedUrl:
        client = self._key_client() if self.mode == "key" and self._key_client else self._role_client()
        params: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id and obj.version_id != "null":
            params["VersionId"] = obj.version_id
        url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.expiry)
        return PresignedUrl(url=url, expires_at=self._clock() + self.expiry)
