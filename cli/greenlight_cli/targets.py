"""What a command is pointed at: an object (`s3://bucket/key`, one of its versions) or a verdict record
(its id, `v-` and 32 hex digits).

A key is taken literally after the bucket, spaces and any Unicode included (quote it for the shell);
only a trailing `?versionId=...` is read as the version, as the S3 console writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from greenlight.domain.record import VerdictRecord
from greenlight_cli.errors import NotFound
from greenlight_cli.session import Stack
from greenlight_cli.stack import CliError

RECORD_ID = re.compile(r"^v-[0-9a-f]{32}$")
VERSION_QUERY = re.compile(r"\?versionId=([^?&=/]+)$")
BUCKET = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
EXPECTED = "s3://bucket/key"


@dataclass(frozen=True)
class ObjectUri:
    bucket: str
    key: str
    version_id: str | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_uri(text: str) -> ObjectUri:
    if not text.startswith("s3://"):
        raise CliError(f"not an s3:// URI: {text!r} (expected {EXPECTED})")
    rest, version = text[len("s3://"):], None
    query = VERSION_QUERY.search(rest)
    if query:
        rest, version = rest[:query.start()], unquote(query.group(1))
    bucket, _, key = rest.partition("/")
    if not BUCKET.match(bucket) or not key:
        raise CliError(f"not an object's URI: {text!r} (expected {EXPECTED})")
    return ObjectUri(bucket, key, version)


def versions(target: Stack, uri: ObjectUri) -> list[VerdictRecord]:
    """Every version of the object with a verdict record, newest first (the lookup index)."""
    found = target.reviews.versions_of(uri.bucket, uri.key)
    if not found:
        elsewhere = "" if uri.bucket == target.bucket else f"; stack {target.name!r} moderates s3://{target.bucket}"
        raise NotFound(f"no verdict for {uri} (not uploaded, not seen yet, or outside the stack's key filter"
                       f"{elsewhere})")
    return found


def choose(records: list[VerdictRecord], uri: ObjectUri, version_id: str | None) -> VerdictRecord:
    """The version asked for (by version id, or by record id for an unversioned key), else the newest."""
    wanted = version_id or uri.version_id
    if wanted is None:
        return records[0]
    for record in records:
        if wanted in (record.version_id, record.id):
            return record
    known = ", ".join(version_label(r) for r in records[:5]) + (", ..." if len(records) > 5 else "")
    raise NotFound(f"{uri} has no version {wanted!r} with a verdict (its versions: {known})")


def parse_ref(ref: str) -> ObjectUri | str:
    """A record a reviewer names: its id, or s3://bucket/key[?versionId=V]."""
    if ref.startswith("s3://"):
        return parse_uri(ref)
    if RECORD_ID.match(ref):
        return ref
    raise CliError(f"not a record id or an s3:// URI: {ref!r} (expected v-<32 hex digits> or {EXPECTED}"
                   "[?versionId=V])")


def resolve_record(target: Stack, ref: ObjectUri | str, *, request_id: str | None = None) -> VerdictRecord:
    """The record named: by id, or the object's version (the newest if none is named). A version that
    holds `request_id` already is the one it names: a retried override stays on the version it was
    applied to, even after a newer upload of the key."""
    if isinstance(ref, ObjectUri):
        found = versions(target, ref)
        applied = next((r for r in found if request_id and request_id in r.override_ids), None)
        return applied or choose(found, ref, None)
    record = target.store.get(ref)
    if record is None:
        raise NotFound(f"no verdict record {ref}")
    return record


def version_label(record: VerdictRecord) -> str:
    """How a version is named to a person: its version id, or for an unversioned key its record id."""
    if record.version_id and record.version_id != "null":
        return record.version_id
    return record.id
