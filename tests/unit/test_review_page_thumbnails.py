"""Thumbnails for the reviewer page: a short-lived presigned GET of the exact version judged (its quarantine
copy once moved), made with the operator's S3 client; none for a version no longer at an unversioned key."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_cli.web.backend import MAX_PREVIEW_BYTES, S3Thumbnails, image_origins


class StubS3:
    """Records presign and HEAD calls; `head_fails` makes HEAD raise (a 412: the key holds other bytes)."""

    def __init__(self, head_fails: bool = False) -> None:
        self.presigned: list[dict[str, Any]] = []
        self.heads: list[dict[str, Any]] = []
        self.head_fails = head_fails

    def generate_presigned_url(self, operation: str, *, Params: dict[str, Any], ExpiresIn: int) -> str:
        self.presigned.append({"operation": operation, **Params, "ExpiresIn": ExpiresIn})
        return f"https://s3.example/{Params['Bucket']}/{Params['Key']}"

    def head_object(self, **params: Any) -> dict[str, Any]:
        self.heads.append(params)
        if self.head_fails:
            raise RuntimeError("PreconditionFailed (412)")
        return {}


def record(**changes: Any) -> VerdictRecord:
    fields: dict[str, Any] = {"id": "v-1", "bucket": "uploads", "key": "a/b.png", "state": State.FINAL,
                              "version_id": "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd",
                              "etag": "9b2cf535f27731c974343645a3985328", "size": 2048, "decision": "review"}
    return VerdictRecord(**{**fields, **changes})


def test_a_versioned_object_is_presigned_for_its_version_for_five_minutes() -> None:
    s3 = StubS3()

    thumbnail = S3Thumbnails(s3).thumbnail(record())

    assert thumbnail.url == "https://s3.example/uploads/a/b.png"
    assert s3.presigned == [{"operation": "get_object", "Bucket": "uploads", "Key": "a/b.png",
                             "VersionId": "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd", "ExpiresIn": 300}]
    assert s3.heads == []


def test_a_quarantined_version_is_presigned_at_its_quarantine_copy() -> None:
    s3 = StubS3()
    moved = {"bucket": "jail", "key": "quarantine/uploads/a/b.png/v-1", "version_id": "qv"}

    S3Thumbnails(s3).thumbnail(record(quarantine=moved))

    assert s3.presigned == [{"operation": "get_object", "Bucket": "jail", "Key": "quarantine/uploads/a/b.png/v-1",
                             "VersionId": "qv", "ExpiresIn": 300}]


def test_a_version_still_moving_to_quarantine_is_shown_from_its_key() -> None:
    s3 = StubS3()

    S3Thumbnails(s3).thumbnail(record(quarantine={"bucket": "jail", "key": "q/x", "moving": True}))

    assert s3.presigned[0]["Bucket"] == "uploads" and s3.presigned[0]["Key"] == "a/b.png"


def test_an_unversioned_key_still_holding_the_bytes_judged_is_shown_without_a_version() -> None:
    s3 = StubS3()

    thumbnail = S3Thumbnails(s3).thumbnail(record(version_id="null"))

    assert s3.heads == [{"Bucket": "uploads", "Key": "a/b.png", "IfMatch": '"9b2cf535f27731c974343645a3985328"'}]
    assert thumbnail.url is not None
    assert s3.presigned == [{"operation": "get_object", "Bucket": "uploads", "Key": "a/b.png", "ExpiresIn": 300}]


def test_an_unversioned_key_overwritten_since_the_verdict_is_not_shown() -> None:
    s3 = StubS3(head_fails=True)

    thumbnail = S3Thumbnails(s3).thumbnail(record(version_id="null"))

    assert thumbnail.url is None and thumbnail.note == "the version judged is no longer at its key"
    assert s3.presigned == []


def test_a_version_too_large_to_preview_gets_no_url() -> None:
    s3 = StubS3()

    thumbnail = S3Thumbnails(s3).thumbnail(record(size=MAX_PREVIEW_BYTES + 1))

    assert thumbnail.url is None and thumbnail.note and "too large" in thumbnail.note
    assert s3.presigned == []


def test_a_real_s3_client_signs_a_sigv4_url_that_expires_in_five_minutes() -> None:
    # Presigning is local: no request leaves the process.
    s3 = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example-secret",
                               region_name="eu-west-1").client("s3", config=Config(signature_version="s3v4"))

    url = S3Thumbnails(s3).thumbnail(record()).url

    assert url is not None and url.startswith("https://uploads.s3.")
    assert "versionId=3HL4kqtJlcpXroDTDmjVBH40Nrjfkd" in url and "X-Amz-Expires=300" in url
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url


def test_thumbnails_may_load_from_s3_or_the_local_endpoint_only() -> None:
    assert image_origins(None) == ("https://*.amazonaws.com", "https://*.amazonaws.com.cn")
    assert image_origins("http://127.0.0.1:5123/") == ("http://127.0.0.1:5123",)
