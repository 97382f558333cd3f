"""In-memory ObjectActions: enforcement on an InMemoryObjects bucket, with the S3 adapter's decisions.

The tag limit, the quarantine copy's markers and the restored object's metadata come from the S3
adapter's own helpers (greenlight.aws.object_actions), and tests/integration/test_object_actions_contract.py
holds this fake to S3ObjectActions on moto.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from fakes.objects import InMemoryObjects, StoredObject
from greenlight.aws.object_actions import (
    RESTORED_FROM,
    describe,
    is_copy_of,
    merge_tags,
    require_pin,
    restored_marker,
    restored_metadata,
    source_markers,
    without_tags,
)
from greenlight.domain.identity import UNVERSIONED, ObjectRef
from greenlight.domain.inspection import NotScannable
from greenlight.ports import KeyInUse, QuarantineCopy, VersionGone


class InMemoryObjectActions:
    """Acts on `objects` (every bucket it holds, the quarantine bucket included).

    `calls` lists (method, the ObjectRef acted on) in order; `failures` makes the next calls raise.
    """

    def __init__(self, objects: InMemoryObjects) -> None:
        self.objects = objects
        self.calls: list[tuple[str, ObjectRef]] = []
        self.failures: list[Exception] = []

    def _called(self, method: str, obj: ObjectRef) -> None:
        self.calls.append((method, obj))
        if self.failures:
            raise self.failures.pop(0)

    def _version(self, obj: ObjectRef) -> StoredObject:
        require_pin(obj)
        found = self.objects.find(obj)
        if isinstance(found, NotScannable):
            raise VersionGone(describe(obj))
        return found

    # -- tags ----------------------------------------------------------------------------------------

    def tag(self, obj: ObjectRef, tags: Mapping[str, str]) -> None:
        self._called("tag", obj)
        self._retag(obj, lambda current: merge_tags(current, tags, obj))

    def remove_tags(self, obj: ObjectRef, keys: Sequence[str]) -> None:
        self._called("remove_tags", obj)
        self._retag(obj, lambda current: without_tags(current, keys))

    def _retag(self, obj: ObjectRef, change: Callable[[dict[str, str]], dict[str, str]]) -> None:
        stored = self._version(obj)
        stored.tags = change(dict(stored.tags))

    # -- quarantine and restore ----------------------------------------------------------------------

    def quarantine(self, obj: ObjectRef, *, bucket: str, key: str) -> QuarantineCopy:
        self._called("quarantine", obj)
        if (bucket, key) == (obj.bucket, obj.key):
            raise ValueError(f"cannot quarantine {describe(obj)} onto its own key")
        try:
            source = self._version(obj)
        except VersionGone:
            existing = self._copy_at(bucket, key, obj)
            if existing is None:
                raise
            return existing
        made = self._copy_at(bucket, key, obj)
        if made is None:
            ref = self.objects.write(bucket, key, replace(source, metadata={**source.metadata, **source_markers(obj)}))
            made = QuarantineCopy(bucket=bucket, key=key, version_id=ref.version_id if ref.versioned else None)
        self.objects.delete(obj)
        return made

    def restore(self, obj: ObjectRef, copy: QuarantineCopy) -> ObjectRef:
        self._called("restore", obj)
        restored = self._restored_at(obj, copy)
        if copy.version_id and copy.version_id != UNVERSIONED:
            found = self.objects.find(ObjectRef(bucket=copy.bucket, key=copy.key, version_id=copy.version_id))
            stored = None if isinstance(found, NotScannable) else found
        else:
            stored = self.objects.current(copy.bucket, copy.key)
        if stored is None:
            if restored is None:
                raise VersionGone(f"no quarantine copy of {describe(obj)} at s3://{copy.bucket}/{copy.key}")
            return restored
        if not is_copy_of(stored.metadata, obj):
            raise VersionGone(f"s3://{copy.bucket}/{copy.key} is not the quarantine copy of {describe(obj)}")
        if restored is None and not obj.versioned and self.objects.current(obj.bucket, obj.key) is not None:
            raise KeyInUse(f"{obj.s3_uri} holds another object now")
        if restored is None:
            ref = self.objects.write(obj.bucket, obj.key, replace(stored, metadata=restored_metadata(stored.metadata,
                                                                                                     copy)))
            restored = replace(ref, sequencer=None)  # S3 tells no sequencer outside its events
        self.objects.delete(ObjectRef(bucket=copy.bucket, key=copy.key, etag=stored.etag,
                                      version_id=stored.version_id or UNVERSIONED))
        return restored

    def _copy_at(self, bucket: str, key: str, obj: ObjectRef) -> QuarantineCopy | None:
        current = self.objects.current(bucket, key)
        if current is None or not is_copy_of(current.metadata, obj):
            return None
        return QuarantineCopy(bucket=bucket, key=key, version_id=current.version_id)

    def _restored_at(self, obj: ObjectRef, copy: QuarantineCopy) -> ObjectRef | None:
        current = self.objects.current(obj.bucket, obj.key)
        if current is None or current.metadata.get(RESTORED_FROM) != restored_marker(copy):
            return None
        return ObjectRef(bucket=obj.bucket, key=obj.key, size=len(current.body), etag=current.etag,
                         version_id=current.version_id or UNVERSIONED)

    # -- delete --------------------------------------------------------------------------------------

    def delete(self, obj: ObjectRef) -> None:
        self._called("delete", obj)
        require_pin(obj)
        if not obj.versioned:
            found = self.objects.find(obj)
            if isinstance(found, NotScannable):
                if self.objects.current(obj.bucket, obj.key) is not None:
                    raise VersionGone(describe(obj))  # the key holds another write now
                return
        self.objects.delete(obj)
