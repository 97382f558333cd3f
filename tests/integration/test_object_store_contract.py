"""The ObjectStore contract: the in-memory bucket (tests/fakes) and S3 on moto judge the same objects
the same way and presign the same version, so logic tested on the fake holds on S3.

Every test runs against both with the same expectations. On S3 an object is uploaded and its
ObjectRef built from the PutObject response, as the event announcing it would carry it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from fakes import FakeClock, InMemoryObjects
from green_emulator import make_image
from greenlight.aws.s3_objects import S3Objects
from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import MISSING, OVERWRITTEN, NotScannable, ObjectInfo
from greenlight.domain.states import State
from greenlight.green.wire import MAX_IMAGE_BYTES
from greenlight.ports import ObjectStore
from greenlight_local.stack import create_stack

URL_EXPIRY = 3600
PNG = make_image(fmt="PNG", size=(64, 64))  # larger than the 32 bytes inspect reads: its size is the object's
JPEG = make_image(fmt="JPEG", size=(16, 16))
TEXT = b"just some text, not an image at all"


@dataclass
class Bucket:
    """One bucket as a test drives it: `put` uploads and returns the version's ObjectRef."""

    objects: ObjectStore
    put: Callable[[str, bytes, str], ObjectRef]
    delete: Callable[[ObjectRef], None]


@dataclass
class Subject:
    clock: FakeClock
    versioned: Bucket
    unversioned: Bucket


@dataclass
class S3Buckets:
    s3: Any
    versioned: str
    unversioned: str


@pytest.fixture(scope="module")
def s3_buckets(moto_url: str) -> S3Buckets:
    """The template's stack (its bucket versioned, as deployed) and one unversioned bucket beside it,
    made once for this module (as the `stack` fixture makes them per test); each test writes under
    keys of its own."""
    stack = create_stack(moto_url)
    s3 = stack.client("s3")
    unversioned = f"{stack.bucket}-plain"
    s3.create_bucket(Bucket=unversioned)
    return S3Buckets(s3, stack.bucket, unversioned)


def memory_bucket(clock: FakeClock, *, versioned: bool) -> Bucket:
    objects = InMemoryObjects(clock, url_expiry=URL_EXPIRY, versioned=versioned)
    return Bucket(objects, lambda key, body, content_type: objects.put("uploads", key, body, content_type),
                  objects.delete)


def s3_bucket(s3: Any, name: str, clock: FakeClock) -> Bucket:
    prefix = uuid.uuid4().hex[:8] + "/"  # this test's keys

    def put(key: str, body: bytes, content_type: str) -> ObjectRef:
        response = s3.put_object(Bucket=name, Key=prefix + key, Body=body, ContentType=content_type)
        return ObjectRef(bucket=name, key=prefix + key, size=len(body), etag=response["ETag"].strip('"'),
                         version_id=response.get("VersionId") or "null")

    def delete(obj: ObjectRef) -> None:
        version = {"VersionId": obj.version_id} if obj.versioned else {}
        s3.delete_object(Bucket=obj.bucket, Key=obj.key, **version)

    return Bucket(S3Objects(s3, url_signing="role", url_expiry=URL_EXPIRY, clock=clock), put, delete)


@pytest.fixture(params=["memory", pytest.param("s3", marks=pytest.mark.integration)])
def subject(request: pytest.FixtureRequest) -> Subject:
    clock = FakeClock()
    if request.param == "memory":
        return Subject(clock, memory_bucket(clock, versioned=True), memory_bucket(clock, versioned=False))
    buckets: S3Buckets = request.getfixturevalue("s3_buckets")
    return Subject(clock, s3_bucket(buckets.s3, buckets.versioned, clock),
                   s3_bucket(buckets.s3, buckets.unversioned, clock))


# -- inspect ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "content_type", "max_bytes", "expected"), [
    (PNG, "image/png", MAX_IMAGE_BYTES, ObjectInfo(len(PNG), "image/png", "png")),
    (JPEG, "application/octet-stream", MAX_IMAGE_BYTES, ObjectInfo(len(JPEG), "application/octet-stream", "jpeg")),
    (TEXT, "text/plain", MAX_IMAGE_BYTES,
     NotScannable(State.SKIPPED, "not_an_image", {"size": len(TEXT), "content_type": "text/plain"})),
    (TEXT, "image/png", MAX_IMAGE_BYTES,  # the declared type is the uploader's word, not the bytes'
     NotScannable(State.SKIPPED, "not_an_image", {"size": len(TEXT), "content_type": "image/png"})),
    (b"", "image/png", MAX_IMAGE_BYTES, NotScannable(State.SKIPPED, "zero_bytes")),
    (PNG, "image/png", len(PNG) - 1,
     NotScannable(State.SKIPPED, "too_large", {"size": len(PNG), "content_type": "image/png"})),
], ids=["png", "jpeg-untyped", "text", "text-as-png", "empty", "too-large"])
def test_inspect_judges_an_object_by_its_bytes(subject: Subject, body: bytes, content_type: str, max_bytes: int,
                                               expected: ObjectInfo | NotScannable) -> None:
    for bucket in (subject.versioned, subject.unversioned):
        obj = bucket.put("upload.png", body, content_type)

        assert bucket.objects.inspect(obj, max_bytes) == expected


def test_inspect_reads_the_announced_version_of_a_versioned_key(subject: Subject) -> None:
    # Given a PNG overwritten by text under the same key of a versioned bucket
    bucket = subject.versioned
    image = bucket.put("avatar.png", PNG, "image/png")
    text = bucket.put("avatar.png", TEXT, "text/plain")
    assert image.versioned and text.versioned and image.version_id != text.version_id

    # Then each event's version is judged on its own bytes
    assert bucket.objects.inspect(image, MAX_IMAGE_BYTES) == ObjectInfo(len(PNG), "image/png", "png")
    assert bucket.objects.inspect(text, MAX_IMAGE_BYTES) == NotScannable(
        State.SKIPPED, "not_an_image", {"size": len(TEXT), "content_type": "text/plain"})


def test_a_deleted_version_or_key_is_missing(subject: Subject) -> None:
    # Given two versions of a key, the older one deleted, and an unversioned key deleted
    deleted = subject.versioned.put("gone.png", PNG, "image/png")
    kept = subject.versioned.put("gone.png", JPEG, "image/jpeg")
    subject.versioned.delete(deleted)
    unversioned = subject.unversioned.put("gone.png", PNG, "image/png")
    subject.unversioned.delete(unversioned)

    # Then what was deleted is missing, and only that
    assert subject.versioned.objects.inspect(deleted, MAX_IMAGE_BYTES) == MISSING
    assert subject.versioned.objects.inspect(kept, MAX_IMAGE_BYTES) == ObjectInfo(len(JPEG), "image/jpeg", "jpeg")
    assert subject.unversioned.objects.inspect(unversioned, MAX_IMAGE_BYTES) == MISSING


def test_an_unversioned_key_overwritten_since_its_event_is_overwritten(subject: Subject) -> None:
    # Given image A, then B written over it: A's event is read after the overwrite
    bucket = subject.unversioned
    first_a = bucket.put("photo.png", PNG, "image/png")
    b = bucket.put("photo.png", JPEG, "image/jpeg")

    # Then A is no longer there to judge (B's bytes must not be judged as A), and B is
    assert bucket.objects.inspect(first_a, MAX_IMAGE_BYTES) == OVERWRITTEN
    assert bucket.objects.inspect(b, MAX_IMAGE_BYTES) == ObjectInfo(len(JPEG), "image/jpeg", "jpeg")

    # When A's bytes are written once more, both of A's events find A's bytes (the same ETag)
    second_a = bucket.put("photo.png", PNG, "image/png")
    assert second_a.etag == first_a.etag
    assert bucket.objects.inspect(first_a, MAX_IMAGE_BYTES) == ObjectInfo(len(PNG), "image/png", "png")
    assert bucket.objects.inspect(b, MAX_IMAGE_BYTES) == OVERWRITTEN


# -- presign ----------------------------------------------------------------------------------------


def test_presign_names_the_version_and_its_expiry(subject: Subject) -> None:
    obj = subject.versioned.put("photos/été 1+猫.png", PNG, "image/png")
    subject.clock.advance(42)

    presigned = subject.versioned.objects.presign(obj)

    url = urlsplit(presigned.url)
    assert parse_qs(url.query)["versionId"] == [obj.version_id]
    # the key percent-encoded as S3 signs it (what the URL length limit is checked on)
    assert obj.bucket in url.netloc + url.path and url.path.endswith("/" + quote(obj.key, safe="/~"))
    assert presigned.expires_at == subject.clock() + URL_EXPIRY


def test_presign_of_an_unversioned_key_names_no_version(subject: Subject) -> None:
    obj = subject.unversioned.put("photo.png", PNG, "image/png")

    presigned = subject.unversioned.objects.presign(obj)

    assert "versionId" not in parse_qs(urlsplit(presigned.url).query)
    assert presigned.expires_at == subject.clock() + URL_EXPIRY
