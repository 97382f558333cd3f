"""Enforcement on S3: the production `ObjectActions` (see greenlight.ports).

Every call pins the exact version a verdict judged. A versioned object (ObjectRef.versioned) is named
by its version id in every request. An unversioned key is acted on only while it still holds the
judged ETag: a HEAD with If-Match first (412 or 404 -> VersionGone), copies with CopySourceIfMatch and
deletes with If-Match (S3's conditional delete: the check and the delete are one request; it needs
s3:GetObject as well as s3:DeleteObject). Tagging has no condition in S3, so tagging an unversioned
key can still race an overwrite that lands between the HEAD and the PutObjectTagging; a versioned
bucket (the template's) has no such window.

Copies (quarantine, restore) replace the metadata: the copy keeps the source's user metadata, content
headers (type, cache control, disposition, encoding, language, expiry, redirect) and storage class,
and adds markers that make every action idempotent:
- a quarantine copy carries `greenlight-source-id` (the judged version's ObjectRef.data_id) and, for
  people, `greenlight-source-version` and `greenlight-source-etag`: a repeated quarantine (after the
  source is gone, or after a crash between the copy and the delete) finds the copy it made and returns it;
- a restored object carries `greenlight-restored-from` (the quarantine copy's bucket, key and version),
  and not the source markers: a repeated restore finds it at the key and returns it.
Tags are copied as they are (TaggingDirective=COPY). Server-side encryption is the destination bucket's
default (the source's KMS key is not carried over). CopyObject copies at most 5 GB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from greenlight.domain.identity import UNVERSIONED, ObjectRef
from greenlight.ports import KeyInUse, QuarantineCopy, VersionGone

MAX_TAGS = 10  # S3's limit per object version
META_PREFIX = "greenlight-"
SOURCE_ID = "greenlight-source-id"
SOURCE_VERSION = "greenlight-source-version"
SOURCE_ETAG = "greenlight-source-etag"
RESTORED_FROM = "greenlight-restored-from"
_MAX_MARKER = 512  # a longer restored-from marker (a long non-ASCII key) is replaced by its digest

_GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NotFound", "404", "PreconditionFailed", "412",
                         "MethodNotAllowed", "405"})
_GONE_STATUSES = frozenset({404, 405, 412})
# Content headers a CopyObject with MetadataDirective=REPLACE must be given again to keep them.
_CONTENT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
                    "WebsiteRedirectLocation", "StorageClass")


# -- pure helpers (shared with the in-memory fake) ---------------------------------------------------


def merge_tags(current: Mapping[str, str], ours: Mapping[str, str], obj: ObjectRef) -> dict[str, str]:
    """The version's tags with ours set (ours replace same keys, others kept); ValueError past S3's 10."""
    merged = {**current, **ours}
    if len(merged) > MAX_TAGS:
        kept = sorted(set(current) - set(ours))
        raise ValueError(f"cannot tag {describe(obj)}: it would carry {len(merged)} tags and S3 allows {MAX_TAGS} "
                         f"(its other tags: {', '.join(kept)})")
    return merged


def without_tags(current: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    drop = set(keys)
    return {k: v for k, v in current.items() if k not in drop}


def describe(obj: ObjectRef) -> str:
    """The object version for an error message."""
    if obj.versioned:
        return f"{obj.s3_uri} (version {obj.version_id})"
    return f"{obj.s3_uri} (ETag {obj.etag})"


def source_markers(obj: ObjectRef) -> dict[str, str]:
    """Metadata a quarantine copy carries to say which version it is a copy of."""
    return {SOURCE_ID: obj.data_id, SOURCE_VERSION: obj.version_id or UNVERSIONED, SOURCE_ETAG: obj.etag or ""}


def is_copy_of(metadata: Mapping[str, str], obj: ObjectRef) -> bool:
    return metadata.get(SOURCE_ID) == obj.data_id


def restored_marker(copy: QuarantineCopy) -> str:
    """Where a restored object came from: the quarantine copy's bucket, key (percent-encoded: metadata is
    ASCII) and version; its SHA-256 when that would be long."""
    marker = f"{copy.bucket}/{quote(copy.key, safe='/')}"
    if copy.version_id:
        marker += f"?versionId={quote(copy.version_id, safe='')}"
    if len(marker) > _MAX_MARKER:
        marker = "sha256:" + hashlib.sha256(marker.encode("utf-8")).hexdigest()
    return marker


def restored_metadata(metadata: Mapping[str, str], copy: QuarantineCopy) -> dict[str, str]:
    """A quarantine copy's metadata as the restored object carries it: ours replaced by the restored-from marker."""
    kept = {k: v for k, v in metadata.items() if k not in (SOURCE_ID, SOURCE_VERSION, SOURCE_ETAG, RESTORED_FROM)}
    return {**kept, RESTORED_FROM: restored_marker(copy)}


def require_pin(obj: ObjectRef) -> None:
    """An unversioned object without an ETag cannot be told from a later write to its key: refuse to act."""
    if not obj.versioned and not obj.etag:
        raise ValueError(f"cannot act on {obj.s3_uri}: no version id and no ETag pin the version judged")


def _quoted(etag: str) -> str:
    return f'"{etag.strip(chr(34))}"'


def _error(exc: Any) -> tuple[str, int | None]:
    response = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", "")), response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _is_gone(exc: Any) -> bool:
    code, status = _error(exc)
    return code in _GONE_CODES or status in _GONE_STATUSES


def _tag_set(tags: Mapping[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}


class S3ObjectActions:
    """Tags, quarantines, restores and deletes object versions with `s3` (a boto3 S3 client)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    # -- tags ----------------------------------------------------------------------------------------

    def tag(self, obj: ObjectRef, tags: Mapping[str, str]) -> None:
        self._retag(obj, lambda current: merge_tags(current, tags, obj))

    def remove_tags(self, obj: ObjectRef, keys: Sequence[str]) -> None:
        self._retag(obj, lambda current: without_tags(current, keys))

    def _retag(self, obj: ObjectRef, change: Callable[[dict[str, str]], dict[str, str]]) -> None:
        from botocore.exceptions import ClientError  # loaded with the S3 client already

        pin = self._pin(obj)
        try:
            response = self._s3.get_object_tagging(Bucket=obj.bucket, Key=obj.key, **pin)
            current = {t["Key"]: t["Value"] for t in response.get("TagSet", [])}
            wanted = change(current)
            if wanted == current:
                return  # nothing to change: a repeat writes nothing
            if wanted:
                self._s3.put_object_tagging(Bucket=obj.bucket, Key=obj.key, Tagging=_tag_set(wanted), **pin)
            else:
                self._s3.delete_object_tagging(Bucket=obj.bucket, Key=obj.key, **pin)
        except ClientError as exc:
            if _is_gone(exc):
                raise VersionGone(describe(obj)) from exc
            raise

    # -- quarantine and restore ----------------------------------------------------------------------

    def quarantine(self, obj: ObjectRef, *, bucket: str, key: str) -> QuarantineCopy:
        if (bucket, key) == (obj.bucket, obj.key):
            raise ValueError(f"cannot quarantine {describe(obj)} onto its own key")
        try:
            source = self._head(obj)
        except VersionGone:
            existing = self._copy_at(bucket, key, obj)
            if existing is None:
                raise
            return existing  # quarantined already: the copy is there, the version gone
        made = self._copy_at(bucket, key, obj)  # made before a failure between the copy and the delete?
        if made is None:
            try:
                copied = self._copy(obj, source, bucket, key,
                                    metadata={**source.get("Metadata", {}), **source_markers(obj)})
            except VersionGone:
                made = self._copy_at(bucket, key, obj)  # a concurrent quarantine moved it meanwhile
                if made is None:
                    raise
            else:
                made = QuarantineCopy(bucket=bucket, key=key, version_id=copied.version_id)
        self._delete_exact(obj)
        return made

    def restore(self, obj: ObjectRef, copy: QuarantineCopy) -> ObjectRef:
        restored = self._restored_at(obj, copy)  # restored before a failure between the copy and the delete?
        found = self._find_copy(copy)
        if found is None:
            if restored is None:
                raise VersionGone(f"no quarantine copy of {describe(obj)} at s3://{copy.bucket}/{copy.key}")
            return restored  # restored already: the object is back, the copy gone
        copy_ref, head = found
        if not is_copy_of(head.get("Metadata", {}), obj):
            raise VersionGone(f"{copy_ref.s3_uri} is not the quarantine copy of {describe(obj)}")
        if restored is None and not obj.versioned and self._head_current(obj.bucket, obj.key) is not None:
            raise KeyInUse(f"{obj.s3_uri} holds another object now; the approved copy stays at {copy_ref.s3_uri}")
        if restored is None:
            made = self._copy(copy_ref, head, obj.bucket, obj.key,
                              metadata=restored_metadata(head.get("Metadata", {}), copy))
            restored = ObjectRef(bucket=obj.bucket, key=obj.key, size=int(head.get("ContentLength") or 0),
                                 etag=made.etag, version_id=made.version_id or UNVERSIONED)
        self._delete_exact(copy_ref)
        return restored

    def _find_copy(self, copy: QuarantineCopy) -> tuple[ObjectRef, dict[str, Any]] | None:
        """The quarantine copy and its HEAD: by its version id, or (unversioned) pinned to the ETag it has now."""
        if copy.version_id and copy.version_id != UNVERSIONED:
            ref = ObjectRef(bucket=copy.bucket, key=copy.key, version_id=copy.version_id)
            try:
                return ref, self._head(ref)
            except VersionGone:
                return None
        head = self._head_current(copy.bucket, copy.key)
        if head is None:
            return None
        return ObjectRef(bucket=copy.bucket, key=copy.key, etag=str(head["ETag"]).strip('"'),
                         version_id=UNVERSIONED), head

    def _copy_at(self, bucket: str, key: str, obj: ObjectRef) -> QuarantineCopy | None:
        """The quarantine copy of `obj` at bucket/key, if the object there is one."""
        head = self._head_current(bucket, key)
        if head is None or not is_copy_of(head.get("Metadata", {}), obj):
            return None
        version = head.get("VersionId")
        return QuarantineCopy(bucket=bucket, key=key, version_id=version if version != UNVERSIONED else None)

    def _restored_at(self, obj: ObjectRef, copy: QuarantineCopy) -> ObjectRef | None:
        """The object at obj's key, if it is this copy restored."""
        head = self._head_current(obj.bucket, obj.key)
        if head is None or head.get("Metadata", {}).get(RESTORED_FROM) != restored_marker(copy):
            return None
        return ObjectRef(bucket=obj.bucket, key=obj.key, size=int(head.get("ContentLength") or 0),
                         etag=str(head["ETag"]).strip('"'), version_id=head.get("VersionId") or UNVERSIONED)

    def _copy(self, source: ObjectRef, head: Mapping[str, Any], bucket: str, key: str, *,
              metadata: Mapping[str, str]) -> ObjectRef:
        """Copy the exact source version to bucket/key with `metadata`, its content headers and tags."""
        from botocore.exceptions import ClientError

        copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
        condition: dict[str, str] = {}
        if source.versioned:
            copy_source["VersionId"] = str(source.version_id)
        else:
            condition["CopySourceIfMatch"] = _quoted(str(source.etag))
        headers = {name: head[name] for name in _CONTENT_HEADERS if head.get(name)}
        if head.get("Expires") is not None and not isinstance(head.get("Expires"), str):
            headers["Expires"] = head["Expires"]
        try:
            response = self._s3.copy_object(Bucket=bucket, Key=key, CopySource=copy_source,
                                            MetadataDirective="REPLACE", Metadata=dict(metadata),
                                            TaggingDirective="COPY", **headers, **condition)
        except ClientError as exc:
            if _is_gone(exc):
                raise VersionGone(describe(source)) from exc
            raise
        version = response.get("VersionId")
        return ObjectRef(bucket=bucket, key=key, etag=str(response["CopyObjectResult"]["ETag"]).strip('"'),
                         version_id=version if version and version != UNVERSIONED else None)

    # -- delete --------------------------------------------------------------------------------------

    def delete(self, obj: ObjectRef) -> None:
        from botocore.exceptions import ClientError

        require_pin(obj)
        try:
            self._delete(obj)
        except ClientError as exc:
            code, status = _error(exc)
            if code in ("PreconditionFailed", "412") or status == 412:
                raise VersionGone(describe(obj)) from exc  # the key holds another write now: not ours to delete
            if code in ("NoSuchKey", "NoSuchVersion", "404") or status == 404:
                return  # deleted already
            raise

    def _delete_exact(self, obj: ObjectRef) -> None:
        """Delete the version once it has been copied: gone or overwritten meanwhile is fine (the key
        no longer serves it either way)."""
        from botocore.exceptions import ClientError

        try:
            self._delete(obj)
        except ClientError as exc:
            if not _is_gone(exc):
                raise

    def _delete(self, obj: ObjectRef) -> None:
        if obj.versioned:
            self._s3.delete_object(Bucket=obj.bucket, Key=obj.key, VersionId=obj.version_id)
        else:
            self._s3.delete_object(Bucket=obj.bucket, Key=obj.key, IfMatch=_quoted(str(obj.etag)))

    # -- pinning -------------------------------------------------------------------------------------

    def _pin(self, obj: ObjectRef) -> dict[str, str]:
        """The request parameters that name obj's version; for an unversioned key, checks it still holds obj."""
        if obj.versioned:
            return {"VersionId": str(obj.version_id)}
        self._head(obj)
        return {}

    def _head(self, obj: ObjectRef) -> dict[str, Any]:
        """HeadObject of the exact version (VersionGone when it is not there)."""
        from botocore.exceptions import ClientError

        require_pin(obj)
        pin = {"VersionId": obj.version_id} if obj.versioned else {"IfMatch": _quoted(str(obj.etag))}
        try:
            response: dict[str, Any] = self._s3.head_object(Bucket=obj.bucket, Key=obj.key, **pin)
        except ClientError as exc:
            if _is_gone(exc):
                raise VersionGone(describe(obj)) from exc
            raise
        return response

    def _head_current(self, bucket: str, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_gone(exc):
                return None
            raise
        return response
