"""S3ObjectActions without a server: its pure helpers, and the exact requests it makes (botocore's
Stubber), for what moto cannot show (moto 5.2.5 ignores CopySourceIfMatch)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from greenlight.aws.object_actions import (
    MAX_TAGS,
    RESTORED_FROM,
    SOURCE_ETAG,
    SOURCE_ID,
    SOURCE_VERSION,
    S3ObjectActions,
    merge_tags,
    restored_marker,
    restored_metadata,
    source_markers,
    without_tags,
)
from greenlight.domain.identity import ObjectRef
from greenlight.ports import QuarantineCopy, VersionGone

VERSIONED = ObjectRef("uploads", "photos/cat.png", size=5, etag="e1", version_id="3sL4kqtJ")
UNVERSIONED = ObjectRef("uploads", "photos/cat.png", size=5, etag="e1", version_id="null", sequencer="0055")
HEAD = {"ETag": '"e1"', "ContentLength": 5, "ContentType": "image/png", "CacheControl": "max-age=60",
        "Metadata": {"uploader": "alice"}}


# -- helpers -----------------------------------------------------------------------------------------


def test_merge_tags_sets_ours_over_theirs() -> None:
    assert merge_tags({"owner": "alice", "decision": "allow"}, {"decision": "block", "policy": "7"}, VERSIONED) == {
        "owner": "alice", "decision": "block", "policy": "7"}


def test_merge_tags_allows_ten_and_names_the_object_past_them() -> None:
    theirs = {f"t{i}": "x" for i in range(MAX_TAGS - 1)}
    assert len(merge_tags(theirs, {"decision": "block"}, VERSIONED)) == MAX_TAGS

    with pytest.raises(ValueError, match=r"s3://uploads/photos/cat\.png \(version 3sL4kqtJ\).*11 tags.*t0, t1"):
        merge_tags(theirs, {"decision": "block", "policy": "7"}, VERSIONED)
    with pytest.raises(ValueError, match=r"\(ETag e1\)"):
        merge_tags(theirs, {"decision": "block", "policy": "7"}, UNVERSIONED)


def test_without_tags_drops_only_those_keys() -> None:
    assert without_tags({"owner": "alice", "decision": "block"}, ["decision", "absent"]) == {"owner": "alice"}


def test_a_quarantine_copy_names_its_version() -> None:
    assert source_markers(VERSIONED) == {SOURCE_ID: VERSIONED.data_id, SOURCE_VERSION: "3sL4kqtJ", SOURCE_ETAG: "e1"}
    assert source_markers(UNVERSIONED)[SOURCE_ID] == UNVERSIONED.data_id  # ETag and sequencer: this write only


def test_restored_metadata_replaces_our_markers() -> None:
    copy = QuarantineCopy("quarantine", "q/cat.png", "qv1")
    metadata = {"uploader": "alice", **source_markers(VERSIONED), RESTORED_FROM: "an earlier restore"}

    assert restored_metadata(metadata, copy) == {"uploader": "alice",
                                                 RESTORED_FROM: "quarantine/q/cat.png?versionId=qv1"}


def test_the_restored_from_marker_is_ascii_and_bounded() -> None:
    assert restored_marker(QuarantineCopy("q", "photos/été 猫.png", None)) == "q/photos/%C3%A9t%C3%A9%20%E7%8C%AB.png"
    long = restored_marker(QuarantineCopy("q", "猫" * 300, "v1"))
    assert long.startswith("sha256:") and len(long) == 71
    assert long != restored_marker(QuarantineCopy("q", "猫" * 300, "v2"))


# -- requests ----------------------------------------------------------------------------------------


@pytest.fixture
def stub() -> Iterator[tuple[S3ObjectActions, Stubber]]:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(s3) as stubber:
        yield S3ObjectActions(s3), stubber
        stubber.assert_no_pending_responses()


def copy_params(**overrides: Any) -> dict[str, Any]:
    return {"Bucket": "quarantine", "Key": "q/cat.png", "MetadataDirective": "REPLACE", "TaggingDirective": "COPY",
            "ContentType": "image/png", "CacheControl": "max-age=60", **overrides}


def test_versioned_quarantine_names_the_version_in_every_request(stub: tuple[S3ObjectActions, Stubber]) -> None:
    actions, s3 = stub
    s3.add_response("head_object", HEAD, {"Bucket": "uploads", "Key": "photos/cat.png", "VersionId": "3sL4kqtJ"})
    s3.add_client_error("head_object", "404", http_status_code=404,
                        expected_params={"Bucket": "quarantine", "Key": "q/cat.png"})
    s3.add_response("copy_object", {"CopyObjectResult": {"ETag": '"e1"'}, "VersionId": "qv1"}, copy_params(
        CopySource={"Bucket": "uploads", "Key": "photos/cat.png", "VersionId": "3sL4kqtJ"},
        Metadata={"uploader": "alice", **source_markers(VERSIONED)}))
    s3.add_response("delete_object", {}, {"Bucket": "uploads", "Key": "photos/cat.png", "VersionId": "3sL4kqtJ"})

    assert actions.quarantine(VERSIONED, bucket="quarantine", key="q/cat.png") == QuarantineCopy(
        "quarantine", "q/cat.png", "qv1")


def test_unversioned_quarantine_copies_and_deletes_only_the_judged_etag(stub: tuple[S3ObjectActions, Stubber]) -> None:
    actions, s3 = stub
    s3.add_response("head_object", HEAD, {"Bucket": "uploads", "Key": "photos/cat.png", "IfMatch": '"e1"'})
    s3.add_client_error("head_object", "404", http_status_code=404,
                        expected_params={"Bucket": "quarantine", "Key": "q/cat.png"})
    s3.add_response("copy_object", {"CopyObjectResult": {"ETag": '"e1"'}}, copy_params(
        CopySource={"Bucket": "uploads", "Key": "photos/cat.png"}, CopySourceIfMatch='"e1"',
        Metadata={"uploader": "alice", **source_markers(UNVERSIONED)}))
    s3.add_response("delete_object", {}, {"Bucket": "uploads", "Key": "photos/cat.png", "IfMatch": '"e1"'})

    assert actions.quarantine(UNVERSIONED, bucket="quarantine", key="q/cat.png") == QuarantineCopy(
        "quarantine", "q/cat.png", None)


def test_a_write_landing_between_the_check_and_the_copy_is_not_quarantined(
        stub: tuple[S3ObjectActions, Stubber]) -> None:
    # Given the check passes, then another write replaces the key: S3 refuses the conditional copy
    actions, s3 = stub
    s3.add_response("head_object", HEAD, {"Bucket": "uploads", "Key": "photos/cat.png", "IfMatch": '"e1"'})
    s3.add_client_error("head_object", "404", http_status_code=404,
                        expected_params={"Bucket": "quarantine", "Key": "q/cat.png"})
    s3.add_client_error("copy_object", "PreconditionFailed", http_status_code=412)
    s3.add_client_error("head_object", "404", http_status_code=404,
                        expected_params={"Bucket": "quarantine", "Key": "q/cat.png"})

    # Then it is VersionGone, and nothing is deleted (no DeleteObject is stubbed: one would fail the test)
    with pytest.raises(VersionGone):
        actions.quarantine(UNVERSIONED, bucket="quarantine", key="q/cat.png")


def test_tag_writes_the_merged_set_to_the_version_and_only_when_it_changes(
        stub: tuple[S3ObjectActions, Stubber]) -> None:
    actions, s3 = stub
    pinned = {"Bucket": "uploads", "Key": "photos/cat.png", "VersionId": "3sL4kqtJ"}
    s3.add_response("get_object_tagging", {"TagSet": [{"Key": "owner", "Value": "alice"}]}, pinned)
    s3.add_response("put_object_tagging", {}, {**pinned, "Tagging": {"TagSet": [
        {"Key": "decision", "Value": "block"}, {"Key": "owner", "Value": "alice"}]}})
    s3.add_response("get_object_tagging", {"TagSet": [{"Key": "decision", "Value": "block"},
                                                      {"Key": "owner", "Value": "alice"}]}, pinned)

    actions.tag(VERSIONED, {"decision": "block"})
    actions.tag(VERSIONED, {"decision": "block"})  # unchanged: read, no write


def test_removing_every_tag_deletes_the_tag_set(stub: tuple[S3ObjectActions, Stubber]) -> None:
    # (moto answers 500 to a PutObjectTagging with an empty TagSet; DeleteObjectTagging is what S3 offers)
    actions, s3 = stub
    pinned = {"Bucket": "uploads", "Key": "photos/cat.png", "VersionId": "3sL4kqtJ"}
    s3.add_response("get_object_tagging", {"TagSet": [{"Key": "decision", "Value": "block"}]}, pinned)
    s3.add_response("delete_object_tagging", {}, pinned)

    actions.remove_tags(VERSIONED, ["decision"])


def test_a_missing_version_is_version_gone_for_tags_and_done_for_delete(stub: tuple[S3ObjectActions, Stubber]) -> None:
    actions, s3 = stub
    s3.add_client_error("get_object_tagging", "NoSuchVersion", http_status_code=404)
    s3.add_client_error("delete_object", "NoSuchKey", http_status_code=404)

    with pytest.raises(VersionGone, match="3sL4kqtJ"):
        actions.tag(VERSIONED, {"decision": "block"})
    actions.delete(UNVERSIONED)


def test_other_s3_errors_are_raised_as_they_are(stub: tuple[S3ObjectActions, Stubber]) -> None:
    from botocore.exceptions import ClientError

    actions, s3 = stub
    s3.add_client_error("get_object_tagging", "AccessDenied", http_status_code=403)

    with pytest.raises(ClientError, match="AccessDenied"):
        actions.tag(VERSIONED, {"decision": "block"})
