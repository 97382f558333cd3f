"""The ObjectActions contract: enforcement in memory (tests/fakes) and on S3 (moto) acts on the same
version the same way, so enforcement logic tested on the fake holds on S3.

Every test runs against both, on a versioned bucket (the template's) and on an unversioned one, each
with a quarantine bucket of the same kind. On S3 an object is uploaded and its ObjectRef built from
the PutObject response, as the event announcing it would carry it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fakes import FakeClock, InMemoryObjects
from fakes.object_actions import InMemoryObjectActions
from greenlight.aws.object_actions import RESTORED_FROM, SOURCE_ETAG, SOURCE_ID, SOURCE_VERSION, S3ObjectActions
from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import NotScannable
from greenlight.ports import KeyInUse, ObjectActions, VersionGone
from greenlight_local.stack import create_stack

A = b"\x89PNG\r\n\x1a\n first image"
B = b"\x89PNG\r\n\x1a\n second image"
DECISION = {"greenlight-decision": "quarantine", "greenlight-policy": "7"}


@dataclass(frozen=True)
class Snapshot:
    """One stored version as a reader sees it."""

    body: bytes
    content_type: str | None
    metadata: dict[str, str]
    tags: dict[str, str]
    etag: str
    version_id: str | None


@dataclass
class Side:
    """A bucket (versioned or not) and its quarantine bucket, as a test drives them."""

    actions: ObjectActions
    versioned: bool
    bucket: str
    quarantine_bucket: str
    prefix: str
    put: Callable[..., ObjectRef]  # put(name, body, content_type="image/png", metadata=None, tags=None)
    read: Callable[[ObjectRef], Snapshot | None]  # the exact version; None when gone (or overwritten)
    current: Callable[[str, str], Snapshot | None]  # what a GET of bucket/key returns
    versions: Callable[[str, str], int]  # how many versions bucket/key holds
    remove: Callable[[ObjectRef], None]  # delete outside enforcement (an uploader's delete)
    fail_next_delete: Callable[[], None]  # the next delete of an object fails (a crash mid-action)

    def quarantine_key(self, name: str) -> str:
        return f"{self.prefix}quarantine/{name}"


@dataclass
class S3Buckets:
    s3: Any
    versioned: str
    versioned_quarantine: str
    unversioned: str
    unversioned_quarantine: str


@pytest.fixture(scope="module")
def s3_buckets(moto_url: str) -> S3Buckets:
    """The template's bucket (versioned, as deployed), a versioned quarantine bucket, and an unversioned
    pair beside them, made once for this module; each test writes under keys of its own."""
    stack = create_stack(moto_url)
    s3 = stack.client("s3")
    names = S3Buckets(s3, stack.bucket, f"{stack.bucket}-q", f"{stack.bucket}-plain", f"{stack.bucket}-plain-q")
    s3.create_bucket(Bucket=names.versioned_quarantine)
    s3.put_bucket_versioning(Bucket=names.versioned_quarantine, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=names.unversioned)
    s3.create_bucket(Bucket=names.unversioned_quarantine)
    return names


# -- the in-memory side ------------------------------------------------------------------------------


def memory_side(*, versioned: bool) -> Side:
    objects = InMemoryObjects(FakeClock(), versioned=versioned)

    def put(name: str, body: bytes, content_type: str = "image/png", metadata: dict[str, str] | None = None,
            tags: dict[str, str] | None = None) -> ObjectRef:
        return objects.put("uploads", name, body, content_type, metadata=metadata, tags=tags)

    def snapshot(stored: Any) -> Snapshot:
        return Snapshot(stored.body, stored.content_type, dict(stored.metadata), dict(stored.tags), stored.etag,
                        stored.version_id)

    def read(obj: ObjectRef) -> Snapshot | None:
        found = objects.find(obj)
        return None if isinstance(found, NotScannable) else snapshot(found)

    def current(bucket: str, key: str) -> Snapshot | None:
        found = objects.current(bucket, key)
        return None if found is None else snapshot(found)

    delete = objects.delete
    armed: list[bool] = []

    def delete_once_failing(obj: ObjectRef) -> None:
        if armed:
            armed.pop()
            raise ConnectionError("injected: the delete never reached the bucket")
        delete(obj)

    objects.delete = delete_once_failing  # type: ignore[method-assign]
    return Side(InMemoryObjectActions(objects), versioned, "uploads", "quarantine", "", put, read, current,
                lambda bucket, key: len(objects.objects.get((bucket, key), [])), delete,
                lambda: armed.append(True))


# -- the S3 side -------------------------------------------------------------------------------------


class FlakyS3:
    """The S3 client, with `fail_deletes` DeleteObject calls failing before they reach S3."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.fail_deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def delete_object(self, **params: Any) -> Any:
        if self.fail_deletes:
            self.fail_deletes -= 1
            raise ConnectionError("injected: the delete never reached the bucket")
        return self._s3.delete_object(**params)


def _gone(exc: Exception) -> bool:
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status in (404, 405, 412)


def s3_side(s3: Any, bucket: str, quarantine_bucket: str, *, versioned: bool) -> Side:
    from botocore.exceptions import ClientError

    prefix = uuid.uuid4().hex[:8] + "/"  # this test's keys
    flaky = FlakyS3(s3)

    def put(name: str, body: bytes, content_type: str = "image/png", metadata: dict[str, str] | None = None,
            tags: dict[str, str] | None = None) -> ObjectRef:
        extra: dict[str, Any] = {"Metadata": metadata or {}}
        if tags:
            extra["Tagging"] = "&".join(f"{k}={v}" for k, v in tags.items())
        response = s3.put_object(Bucket=bucket, Key=prefix + name, Body=body, ContentType=content_type, **extra)
        return ObjectRef(bucket=bucket, key=prefix + name, size=len(body), etag=response["ETag"].strip('"'),
                         version_id=response.get("VersionId") or "null")

    def get(bucket_name: str, key: str, **pin: Any) -> Snapshot | None:
        try:
            response = s3.get_object(Bucket=bucket_name, Key=key, **pin)
            tags = s3.get_object_tagging(Bucket=bucket_name, Key=key, **{k: v for k, v in pin.items()
                                                                         if k == "VersionId"})["TagSet"]
        except ClientError as exc:
            if _gone(exc):
                return None
            raise
        version = response.get("VersionId")
        return Snapshot(response["Body"].read(), response.get("ContentType"), dict(response.get("Metadata", {})),
                        {t["Key"]: t["Value"] for t in tags}, response["ETag"].strip('"'),
                        version if version and version != "null" else None)

    def read(obj: ObjectRef) -> Snapshot | None:
        pin = {"VersionId": obj.version_id} if obj.versioned else {"IfMatch": f'"{obj.etag}"'}
        return get(obj.bucket, obj.key, **pin)

    def versions(bucket_name: str, key: str) -> int:
        if not versioned:
            return 0 if get(bucket_name, key) is None else 1
        listed = s3.list_object_versions(Bucket=bucket_name, Prefix=key)
        return sum(1 for v in listed.get("Versions", []) if v["Key"] == key)

    def remove(obj: ObjectRef) -> None:
        s3.delete_object(Bucket=obj.bucket, Key=obj.key, **({"VersionId": obj.version_id} if obj.versioned else {}))

    def fail_next_delete() -> None:
        flaky.fail_deletes += 1

    return Side(S3ObjectActions(flaky), versioned, bucket, quarantine_bucket, prefix, put, read, get, versions, remove,
                fail_next_delete)


@pytest.fixture(params=["memory", pytest.param("s3", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_side(request: pytest.FixtureRequest, backend: str, *, versioned: bool) -> Side:
    if backend == "memory":
        return memory_side(versioned=versioned)
    buckets: S3Buckets = request.getfixturevalue("s3_buckets")
    if versioned:
        return s3_side(buckets.s3, buckets.versioned, buckets.versioned_quarantine, versioned=True)
    return s3_side(buckets.s3, buckets.unversioned, buckets.unversioned_quarantine, versioned=False)


@pytest.fixture(params=["versioned", "unversioned"])
def side(request: pytest.FixtureRequest, backend: str) -> Side:
    return make_side(request, backend, versioned=request.param == "versioned")


@pytest.fixture
def versioned_side(request: pytest.FixtureRequest, backend: str) -> Side:
    return make_side(request, backend, versioned=True)


@pytest.fixture
def unversioned_side(request: pytest.FixtureRequest, backend: str) -> Side:
    return make_side(request, backend, versioned=False)


def only(snapshot: Snapshot | None) -> Snapshot:
    assert snapshot is not None
    return snapshot


# -- tags --------------------------------------------------------------------------------------------


def test_tag_sets_ours_and_keeps_the_others(side: Side) -> None:
    # Given a version tagged by its uploader, and by an earlier decision
    obj = side.put("photo.png", A, tags={"owner": "alice", "greenlight-decision": "allow"})

    # When the new decision is tagged, twice
    side.actions.tag(obj, DECISION)
    side.actions.tag(obj, DECISION)

    # Then ours replace the earlier values and the uploader's tag is kept
    assert only(side.read(obj)).tags == {"owner": "alice", **DECISION}


def test_tag_acts_on_the_judged_version_only(versioned_side: Side) -> None:
    older = versioned_side.put("photo.png", A)
    newer = versioned_side.put("photo.png", B, tags={"owner": "bob"})

    versioned_side.actions.tag(older, DECISION)

    assert only(versioned_side.read(older)).tags == DECISION
    assert only(versioned_side.read(newer)).tags == {"owner": "bob"}


def test_remove_tags_removes_only_those_keys(side: Side) -> None:
    obj = side.put("photo.png", A, tags={"owner": "alice", **DECISION})

    side.actions.remove_tags(obj, ["greenlight-decision", "not-there"])
    side.actions.remove_tags(obj, ["greenlight-decision"])  # again: nothing left to remove
    assert only(side.read(obj)).tags == {"owner": "alice", "greenlight-policy": "7"}

    side.actions.remove_tags(obj, ["owner", "greenlight-policy"])
    assert only(side.read(obj)).tags == {}


def test_tagging_past_ten_tags_is_refused_and_changes_nothing(side: Side) -> None:
    # Given a version with nine tags of its own
    theirs = {f"t{i}": str(i) for i in range(9)}
    obj = side.put("photo.png", A, tags=theirs)

    # When two more would make eleven, the error names the object and nothing changes
    with pytest.raises(ValueError, match=r"photo\.png.*11 tags"):
        side.actions.tag(obj, DECISION)
    assert only(side.read(obj)).tags == theirs

    # Then one more (ten) is fine, and replacing one of ten adds none
    side.actions.tag(obj, {"greenlight-decision": "allow"})
    side.actions.tag(obj, {"greenlight-decision": "block"})
    assert only(side.read(obj)).tags == {**theirs, "greenlight-decision": "block"}


# -- versions that are gone --------------------------------------------------------------------------


def test_a_deleted_version_cannot_be_acted_on(side: Side) -> None:
    # Given a version deleted by its uploader (and, versioned, a newer version kept)
    gone = side.put("photo.png", A)
    kept = side.put("photo.png", B) if side.versioned else None
    side.remove(gone)

    # Then tagging or quarantining it is VersionGone
    with pytest.raises(VersionGone):
        side.actions.tag(gone, DECISION)
    with pytest.raises(VersionGone):
        side.actions.remove_tags(gone, ["owner"])
    with pytest.raises(VersionGone):
        side.actions.quarantine(gone, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))

    # And deleting it again is no error (it is gone, as asked)
    side.actions.delete(gone)

    # And nothing else was touched
    assert side.current(side.quarantine_bucket, side.quarantine_key("photo.png")) is None
    if kept is not None:
        assert only(side.read(kept)) == only(side.current(kept.bucket, kept.key))
        assert only(side.read(kept)).body == B and only(side.read(kept)).tags == {}


def test_an_overwritten_unversioned_key_is_not_acted_on(unversioned_side: Side) -> None:
    # Given A judged, then B written over it before enforcement
    side = unversioned_side
    a = side.put("photo.png", A)
    b = side.put("photo.png", B, tags={"owner": "bob"})

    # Then nothing may be done to A through its key: B is someone else's write
    with pytest.raises(VersionGone):
        side.actions.tag(a, DECISION)
    with pytest.raises(VersionGone):
        side.actions.remove_tags(a, ["owner"])
    with pytest.raises(VersionGone):
        side.actions.quarantine(a, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))
    with pytest.raises(VersionGone):
        side.actions.delete(a)

    # And B is untouched
    assert only(side.read(b)) == Snapshot(B, "image/png", {}, {"owner": "bob"}, str(b.etag), None)
    assert side.current(side.quarantine_bucket, side.quarantine_key("photo.png")) is None


def test_an_unversioned_ref_without_an_etag_is_refused(side: Side) -> None:
    obj = side.put("photo.png", A)
    unpinned = ObjectRef(bucket=obj.bucket, key=obj.key, version_id="null")
    q = side.quarantine_key("photo.png")

    for act in (lambda: side.actions.tag(unpinned, DECISION), lambda: side.actions.remove_tags(unpinned, ["x"]),
                lambda: side.actions.quarantine(unpinned, bucket=side.quarantine_bucket, key=q),
                lambda: side.actions.delete(unpinned)):
        with pytest.raises(ValueError, match="no version id and no ETag"):
            act()
    assert only(side.read(obj)).body == A


# -- quarantine --------------------------------------------------------------------------------------


def test_quarantine_moves_the_version_with_its_metadata_and_tags(side: Side) -> None:
    # Given a tagged version with metadata of its own
    obj = side.put("photo.png", A, content_type="image/gif", metadata={"uploader": "alice"}, tags={"owner": "alice"})
    side.actions.tag(obj, DECISION)
    q = side.quarantine_key("photo.png")

    # When it is quarantined
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=q)

    # Then the copy holds its bytes, content type, metadata (and which version it is) and tags
    assert (copy.bucket, copy.key) == (side.quarantine_bucket, q)
    assert (copy.version_id is not None) == side.versioned
    held = only(side.current(copy.bucket, copy.key))
    assert held.version_id == copy.version_id
    assert (held.body, held.content_type, held.etag) == (A, "image/gif", obj.etag)
    assert held.metadata == {"uploader": "alice", SOURCE_ID: obj.data_id, SOURCE_VERSION: obj.version_id,
                             SOURCE_ETAG: obj.etag}
    assert held.tags == {"owner": "alice", **DECISION}

    # And its own key no longer serves it
    assert side.read(obj) is None
    assert side.current(obj.bucket, obj.key) is None


def test_quarantine_is_idempotent(side: Side) -> None:
    obj = side.put("photo.png", A)
    q = side.quarantine_key("photo.png")

    first = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=q)
    again = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=q)

    assert again == first
    assert side.versions(side.quarantine_bucket, q) == 1
    assert only(side.current(side.quarantine_bucket, q)).body == A


def test_quarantine_of_an_older_version_leaves_the_newer_one_served(versioned_side: Side) -> None:
    side = versioned_side
    older = side.put("photo.png", A)
    newer = side.put("photo.png", B)

    copy = side.actions.quarantine(older, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))

    assert only(side.current(copy.bucket, copy.key)).body == A
    assert side.read(older) is None
    assert only(side.current(newer.bucket, newer.key)).version_id == newer.version_id
    assert side.versions(newer.bucket, newer.key) == 1


def test_quarantine_interrupted_before_the_delete_completes_when_repeated(side: Side) -> None:
    # Given a quarantine that copied the version and then failed to delete it
    obj = side.put("photo.png", A)
    q = side.quarantine_key("photo.png")
    side.fail_next_delete()
    with pytest.raises(ConnectionError):
        side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=q)
    assert only(side.read(obj)).body == A

    # When it is repeated
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=q)

    # Then it uses the copy it made (no second one) and the version is gone from its key
    assert side.versions(side.quarantine_bucket, q) == 1
    assert only(side.current(copy.bucket, copy.key)).version_id == copy.version_id
    assert side.read(obj) is None


def test_quarantine_onto_the_objects_own_key_is_refused(side: Side) -> None:
    obj = side.put("photo.png", A)

    with pytest.raises(ValueError, match="own key"):
        side.actions.quarantine(obj, bucket=obj.bucket, key=obj.key)
    assert only(side.read(obj)).body == A


# -- restore -----------------------------------------------------------------------------------------


def test_restore_puts_the_version_back_and_removes_the_copy(side: Side) -> None:
    # Given a quarantined version
    obj = side.put("photo.png", A, content_type="image/gif", metadata={"uploader": "alice"}, tags={"owner": "alice"})
    side.actions.tag(obj, DECISION)
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))

    # When an override restores it
    restored = side.actions.restore(obj, copy)

    # Then its key serves the same bytes, type, metadata and tags again, as a new version
    assert (restored.bucket, restored.key, restored.size, restored.etag) == (obj.bucket, obj.key, len(A), obj.etag)
    assert restored.versioned == side.versioned
    if side.versioned:
        assert restored.version_id != obj.version_id
    back = only(side.read(restored))
    assert back == only(side.current(obj.bucket, obj.key))
    assert (back.body, back.content_type, back.tags) == (A, "image/gif", {"owner": "alice", **DECISION})
    assert back.metadata == {"uploader": "alice", RESTORED_FROM: back.metadata[RESTORED_FROM]}
    assert copy.key in back.metadata[RESTORED_FROM]

    # And the quarantine copy is gone
    assert side.current(copy.bucket, copy.key) is None

    # And the restored version can be retagged with the override
    side.actions.remove_tags(restored, ["greenlight-decision"])
    side.actions.tag(restored, {"greenlight-override": "allow"})
    assert only(side.read(restored)).tags == {"owner": "alice", "greenlight-policy": "7",
                                              "greenlight-override": "allow"}


def test_restore_is_idempotent(side: Side) -> None:
    obj = side.put("photo.png", A)
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))

    first = side.actions.restore(obj, copy)
    again = side.actions.restore(obj, copy)

    assert again == first
    assert side.versions(obj.bucket, obj.key) == 1
    assert side.current(copy.bucket, copy.key) is None


def test_restore_interrupted_before_the_copy_is_deleted_completes_when_repeated(side: Side) -> None:
    obj = side.put("photo.png", A)
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))
    side.fail_next_delete()
    with pytest.raises(ConnectionError):
        side.actions.restore(obj, copy)

    restored = side.actions.restore(obj, copy)

    assert side.versions(obj.bucket, obj.key) == 1  # no second restored version
    assert only(side.current(obj.bucket, obj.key)).version_id == (restored.version_id if side.versioned else None)
    assert side.current(copy.bucket, copy.key) is None


def test_a_restored_version_can_be_quarantined_and_restored_again(side: Side) -> None:
    obj = side.put("photo.png", A, metadata={"uploader": "alice"})
    q1, q2 = side.quarantine_key("photo-1.png"), side.quarantine_key("photo-2.png")
    restored = side.actions.restore(obj, side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=q1))

    again = side.actions.restore(restored, side.actions.quarantine(restored, bucket=side.quarantine_bucket, key=q2))

    back = only(side.read(again))
    assert back.body == A
    assert back.metadata == {"uploader": "alice", RESTORED_FROM: back.metadata[RESTORED_FROM]}
    assert q2 in back.metadata[RESTORED_FROM]


def test_restore_without_its_copy_is_version_gone(side: Side) -> None:
    obj = side.put("photo.png", A)
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=side.quarantine_key("photo.png"))
    side.remove(ObjectRef(bucket=copy.bucket, key=copy.key, etag=obj.etag, version_id=copy.version_id or "null"))

    with pytest.raises(VersionGone):
        side.actions.restore(obj, copy)
    assert side.current(obj.bucket, obj.key) is None


def test_restore_refuses_the_copy_of_another_version(side: Side) -> None:
    # Given two objects quarantined
    a = side.put("a.png", A)
    b = side.put("b.png", B)
    copy_a = side.actions.quarantine(a, bucket=side.quarantine_bucket, key=side.quarantine_key("a.png"))
    copy_b = side.actions.quarantine(b, bucket=side.quarantine_bucket, key=side.quarantine_key("b.png"))

    # Then A cannot be restored from B's copy: B's bytes would be served under A's key
    with pytest.raises(VersionGone):
        side.actions.restore(a, copy_b)
    assert side.current(a.bucket, a.key) is None
    assert only(side.current(copy_b.bucket, copy_b.key)).body == B
    assert side.actions.restore(a, copy_a).etag == a.etag


# -- delete ------------------------------------------------------------------------------------------


def test_delete_removes_the_version_for_good_and_is_idempotent(side: Side) -> None:
    obj = side.put("photo.png", A)

    side.actions.delete(obj)
    side.actions.delete(obj)

    assert side.read(obj) is None
    assert side.versions(obj.bucket, obj.key) == 0


def test_delete_of_an_older_version_keeps_the_newer(versioned_side: Side) -> None:
    side = versioned_side
    older = side.put("photo.png", A)
    newer = side.put("photo.png", B)

    side.actions.delete(older)

    assert side.read(older) is None
    assert only(side.current(newer.bucket, newer.key)).version_id == newer.version_id
    assert side.versions(newer.bucket, newer.key) == 1


# -- S3 only -----------------------------------------------------------------------------------------


class OverwriteAfterHead:
    """The S3 client, with the key overwritten by another write right after the adapter's HeadObject
    of it: the race CopySourceIfMatch closes."""

    def __init__(self, s3: Any, key: str, body: bytes) -> None:
        self._s3 = s3
        self._key = key
        self._body: bytes | None = body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def head_object(self, **params: Any) -> Any:
        response = self._s3.head_object(**params)
        if params.get("Key") == self._key and params.get("IfMatch") and self._body is not None:
            self._s3.put_object(Bucket=params["Bucket"], Key=self._key, Body=self._body)
            self._body = None
        return response


@pytest.fixture(scope="module")
def moto_checks_copy_source_if_match(s3_buckets: S3Buckets) -> bool:
    """Whether this moto honours CopyObject's x-amz-copy-source-if-match (moto 5.2.5 ignores it)."""
    from botocore.exceptions import ClientError

    s3, bucket, key = s3_buckets.s3, s3_buckets.unversioned, f"probe-{uuid.uuid4().hex}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"probe")
    try:
        s3.copy_object(Bucket=bucket, Key=key + "-copy", CopySource={"Bucket": bucket, "Key": key},
                       CopySourceIfMatch='"00000000000000000000000000000000"')
    except ClientError:
        return True
    return False


@pytest.mark.integration
def test_s3_quarantine_does_not_copy_a_write_that_lands_after_its_check(
        s3_buckets: S3Buckets, moto_checks_copy_source_if_match: bool) -> None:
    # Given A judged on an unversioned key, and B written over it between the check and the copy
    s3, bucket = s3_buckets.s3, s3_buckets.unversioned
    key = f"{uuid.uuid4().hex[:8]}/photo.png"
    a = ObjectRef(bucket=bucket, key=key, size=len(A), etag=s3.put_object(Bucket=bucket, Key=key, Body=A)[
        "ETag"].strip('"'), version_id="null")
    actions = S3ObjectActions(OverwriteAfterHead(s3, key, B))

    if not moto_checks_copy_source_if_match:
        pytest.skip("moto 5.2.5 ignores CopySourceIfMatch (x-amz-copy-source-if-match), which AWS documents "
                    "and the adapter sends: the copy would take B's bytes here, not on AWS")

    # Then A cannot be quarantined (B's bytes must not be kept as A's), and B stays served
    with pytest.raises(VersionGone):
        actions.quarantine(a, bucket=s3_buckets.unversioned_quarantine, key=f"{key}.quarantined")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == B


@pytest.mark.integration
def test_s3_copies_keep_the_content_headers(s3_buckets: S3Buckets) -> None:
    # Given a version with content headers beyond its type (the in-memory bucket keeps only the type)
    s3, bucket = s3_buckets.s3, s3_buckets.versioned
    key = f"{uuid.uuid4().hex[:8]}/photo.png"
    headers = {"ContentType": "image/png", "CacheControl": "max-age=60", "ContentDisposition": "inline",
               "ContentLanguage": "fr"}
    put = s3.put_object(Bucket=bucket, Key=key, Body=A, **headers)
    obj = ObjectRef(bucket=bucket, key=key, size=len(A), etag=put["ETag"].strip('"'), version_id=put["VersionId"])
    actions = S3ObjectActions(s3)

    # When it is quarantined and restored
    copy = actions.quarantine(obj, bucket=s3_buckets.versioned_quarantine, key=f"{key}.quarantined")
    quarantined = s3.head_object(Bucket=copy.bucket, Key=copy.key, VersionId=copy.version_id)
    restored = actions.restore(obj, copy)
    back = s3.head_object(Bucket=bucket, Key=key, VersionId=restored.version_id)

    # Then both copies keep them
    for head in (quarantined, back):
        assert {name: head.get(name) for name in headers} == headers
    assert hashlib.md5(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest() == obj.etag  # noqa: S324




def test_restoring_over_a_newer_unversioned_upload_is_refused_and_keeps_the_copy(unversioned_side: Side) -> None:
    # Given an unversioned object quarantined, and someone else's upload at its key since
    side = unversioned_side
    obj = side.put("taken.png", A)
    copy = side.actions.quarantine(obj, bucket=side.quarantine_bucket, key=side.quarantine_key("taken.png"))
    newer = side.put("taken.png", B)

    # When the first is put back, Then nothing is overwritten and the quarantine copy stays
    with pytest.raises(KeyInUse):
        side.actions.restore(obj, copy)
    assert only(side.read(newer)).etag == newer.etag
    assert side.current(copy.bucket, copy.key) is not None
