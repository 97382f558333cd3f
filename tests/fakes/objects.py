"""An in-memory ObjectStore: a bucket of object versions, with the S3 adapter's decisions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import (
    MISSING,
    OVERWRITTEN,
    SNIFF_BYTES,
    NotScannable,
    ObjectInfo,
    judge_head,
)
from greenlight.ports import PresignedUrl


@dataclass
class StoredObject:
    body: bytes
    content_type: str | None
    etag: str
    version_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata (x-amz-meta-*)
    tags: dict[str, str] = field(default_factory=dict)  # this version's tags


class InMemoryObjects:
    """`put` returns the ObjectRef an S3 event would announce. `failures` makes the next reads raise."""

    def __init__(self, clock: Callable[[], float], *, url_expiry: int = 3600, url_padding: int = 0,
                 versioned: bool = True) -> None:
        self._clock = clock
        self.objects: dict[tuple[str, str], list[StoredObject]] = {}
        self.url_expiry = url_expiry
        self.url_padding = url_padding  # extra characters in presigned URLs (a session token's length)
        self.versioned = versioned
        self.failures: list[Exception] = []
        self.reads = 0
        self._sequence = 0

    def put(self, bucket: str, key: str, body: bytes, content_type: str | None = "image/png", *,
            metadata: dict[str, str] | None = None, tags: dict[str, str] | None = None) -> ObjectRef:
        etag = hashlib.md5(body).hexdigest()  # noqa: S324 - what S3 uses as a single-part ETag
        return self.write(bucket, key, StoredObject(body, content_type, etag, None, dict(metadata or {}),
                                                    dict(tags or {})))

    def write(self, bucket: str, key: str, stored: StoredObject) -> ObjectRef:
        """Store `stored` (its bytes, ETag, metadata, tags) as the newest version of bucket/key, as a
        PutObject or CopyObject does; its version id is the new version's."""
        self._sequence += 1
        version = f"v{self._sequence:04d}" if self.versioned else None
        versions = self.objects.setdefault((bucket, key), [])
        if not self.versioned:
            versions.clear()
        versions.append(replace(stored, version_id=version, metadata=dict(stored.metadata), tags=dict(stored.tags)))
        return ObjectRef(bucket=bucket, key=key, size=len(stored.body), etag=stored.etag,
                         version_id=version or "null", sequencer=f"{self._sequence:016X}")

    def find(self, obj: ObjectRef) -> StoredObject | NotScannable:
        """The stored version `obj` names (MISSING, or OVERWRITTEN for an unversioned key holding another ETag)."""
        return self._find(obj)

    def current(self, bucket: str, key: str) -> StoredObject | None:
        """What a GET of bucket/key without a version id returns."""
        versions = self.objects.get((bucket, key), [])
        return versions[-1] if versions else None

    def delete(self, obj: ObjectRef) -> None:
        versions = self.objects.get((obj.bucket, obj.key), [])
        self.objects[(obj.bucket, obj.key)] = [v for v in versions if not self._is(v, obj)]

    def _is(self, stored: StoredObject, obj: ObjectRef) -> bool:
        return stored.version_id == obj.version_id if obj.versioned else stored.etag == obj.etag

    def _find(self, obj: ObjectRef) -> StoredObject | NotScannable:
        versions = self.objects.get((obj.bucket, obj.key), [])
        if obj.versioned:
            return next((v for v in versions if v.version_id == obj.version_id), MISSING)
        if not versions:
            return MISSING
        current = versions[-1]
        return current if not obj.etag or current.etag == obj.etag else OVERWRITTEN

    def inspect(self, obj: ObjectRef, max_bytes: int, *, hash_content: bool = False) -> ObjectInfo | NotScannable:
        self.reads += 1
        if self.failures:
            raise self.failures.pop(0)
        found = self._find(obj)
        if isinstance(found, NotScannable):
            return found
        verdict = judge_head(len(found.body), found.content_type, found.body[:SNIFF_BYTES], max_bytes)
        if hash_content and isinstance(verdict, ObjectInfo):
            return replace(verdict, sha256=hashlib.sha256(found.body).hexdigest())
        return verdict

    def presign(self, obj: ObjectRef) -> PresignedUrl:
        # The key and version id percent-encoded as S3 signs them: a URL's length (Green takes at most
        # 2048 characters) grows threefold with each non-ASCII character of the key.
        version = f"?versionId={quote(str(obj.version_id), safe='')}&" if obj.versioned else "?"
        url = (f"https://{obj.bucket}.s3.amazonaws.com/{quote(obj.key, safe='/~')}{version}"
               f"X-Amz-Signature=fake{'x' * self.url_padding}")
        return PresignedUrl(url=url, expires_at=self._clock() + self.url_expiry)
