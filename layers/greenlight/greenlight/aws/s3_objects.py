"""The moderated bucket in S3: the production `ObjectStore` (see greenlight.ports).

`inspect` reads an object version's first bytes with one ranged GET, which also gives its size
and type and tells whether the version is still there; `presign` makes the URL Green downloads the
exact version from.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import (
    ACCESS_DENIED,
    MISSING,
    OVERWRITTEN,
    SNIFF_BYTES,
    NotScannable,
    ObjectInfo,
    judge_head,
)
from greenlight.ports import PresignedUrl

_MISSING_CODES = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")
_CHANGED_CODES = ("PreconditionFailed", "412")
_DENIED_CODES = ("AccessDenied", "403", "KMS.AccessDeniedException")


def _version_params(obj: ObjectRef) -> dict[str, Any]:
    """Parameters that pin the exact version: its id, or for an unversioned key the ETag it had."""
    params: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
    if obj.versioned:
        params["VersionId"] = obj.version_id
    elif obj.etag:
        params["IfMatch"] = f'"{obj.etag}"'  # overwritten since the event: not this version any more
    return params


def _error(exc: Any) -> tuple[str, int | None]:
    response = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", "")), response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _total_size(response: dict[str, Any]) -> int:
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(response.get("ContentLength") or 0)


class S3Objects:
    """Reads with `s3` (the function's role); presigns with the role's client or a signing key pair's.

    A role-signed URL carries the session token (long) and dies with the session; a key-signed URL
    is short and lives for the full expiry (up to 7 days). `key_client` builds an S3 client for the
    key pair currently in the secret.
    """

    def __init__(self, s3: Any, *, url_signing: str, url_expiry: int, key_client: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._s3 = s3
        self._url_signing = url_signing
        self._url_expiry = url_expiry
        self._key_client = key_client
        self._clock = clock

    def inspect(self, obj: ObjectRef, max_bytes: int, *, hash_content: bool = False) -> ObjectInfo | NotScannable:
        from botocore.exceptions import ClientError  # loaded with the S3 client already

        try:
            # One GET either way: ranged (the first bytes only), or whole when the content is hashed.
            ranged = {} if hash_content else {"Range": f"bytes=0-{SNIFF_BYTES - 1}"}
            response = self._s3.get_object(**_version_params(obj), **ranged)
            body = response["Body"]
            size = _total_size(response)
            if size > max_bytes:
                body.close()
                return judge_head(size, response.get("ContentType"), b"", max_bytes)
            head = body.read(SNIFF_BYTES)
            verdict = judge_head(size, response.get("ContentType"), head, max_bytes)
            if not hash_content or isinstance(verdict, NotScannable):
                body.close()
                return verdict
            digest = hashlib.sha256(head)
            for chunk in iter(lambda: body.read(1024 * 1024), b""):
                digest.update(chunk)
            return replace(verdict, sha256=digest.hexdigest())
        except ClientError as exc:
            code, status = _error(exc)
            if code in _MISSING_CODES or status == 404:
                return MISSING
            if code in _CHANGED_CODES or status == 412:
                return OVERWRITTEN
            if code == "InvalidRange" or status == 416:
                return judge_head(0, None, b"", max_bytes)
            if code in _DENIED_CODES or status == 403:
                return ACCESS_DENIED
            raise

    def presign(self, obj: ObjectRef) -> PresignedUrl:
        client = self._key_client() if self._url_signing == "key" and self._key_client else self._s3
        params: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.versioned:
            params["VersionId"] = obj.version_id
        url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=self._url_expiry)
        return PresignedUrl(url=url, expires_at=self._clock() + self._url_expiry)
