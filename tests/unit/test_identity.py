"""What one object version is: the record id (Green's dataId), the key's head id, and write order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from greenlight.domain.identity import SEQUENCER_WIDTH, ObjectRef
from greenlight.domain.record import VerdictRecord, object_fields
from greenlight.domain.states import State

KEY = "photos/cat.png"


def write(etag: str, sequencer: str | None, *, version_id: str | None = None,
          event_time: str = "2026-11-12T00:00:00.000000Z") -> ObjectRef:
    return ObjectRef("uploads", KEY, size=100, etag=etag, version_id=version_id, sequencer=sequencer,
                     event_time=event_time)


def test_versions_of_a_versioned_key_are_told_apart_by_version_id() -> None:
    v1 = write("aaaa", "0055", version_id="3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH")
    v2 = write("aaaa", "0056", version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")  # the same bytes again

    assert v1.versioned and v2.versioned
    assert v1.data_id != v2.data_id
    assert v1.head_id == v2.head_id
    # the version id alone decides: another sequencer or ETag for the same version changes nothing
    assert replace(v1, sequencer="0099", etag="other").data_id == v1.data_id


def test_upload_a_overwrite_b_upload_a_again_gives_three_versions_in_an_unversioned_bucket() -> None:
    # Given A, then B over it, then A's bytes once more (same ETag as the first A)
    first_a, b, second_a = write("aaaa", "0055"), write("bbbb", "0056"), write("aaaa", "0057")

    # Then each write has a record of its own: the first A may have been judged on B's bytes
    assert len({first_a.data_id, b.data_id, second_a.data_id}) == 3
    assert first_a.head_id == b.head_id == second_a.head_id
    assert first_a.order < b.order < second_a.order


@pytest.mark.parametrize("version_id", [None, "null"])
def test_an_unversioned_write_has_no_version_id_whichever_way_it_is_announced(version_id: str | None) -> None:
    obj = write("aaaa", "0055", version_id=version_id)

    assert not obj.versioned
    assert obj.data_id == write("aaaa", "0055").data_id
    assert obj.version_token == "e:aaaa|s:0055"


def test_one_write_announced_twice_has_one_data_id_and_one_order() -> None:
    # The S3 notification and the EventBridge event of one write: same sequencer, times a second apart
    notification = write("aaaa", "0A1B2C3D4E5F678901", event_time="2026-11-12T00:00:01.000000Z")
    eventbridge = write("aaaa", "0A1B2C3D4E5F678901", event_time="2026-11-12T00:00:00.000000Z")

    assert notification.data_id == eventbridge.data_id
    assert notification.order == eventbridge.order  # so neither supersedes the other


def test_sequencers_are_compared_right_padded_and_regardless_of_case() -> None:
    # S3: pad the shorter sequencer with zeros on the right, then compare as strings
    short, padded = write("a", "0A1B"), write("a", "0A1B0000")
    assert short.order == padded.order
    assert len(short.order.split("|")[0]) == SEQUENCER_WIDTH
    assert short.order < write("a", "0A1B01").order < write("a", "0A1C").order
    # lower-case hex sorts with upper-case ('a' > 'B' as characters, not as digits)
    assert write("a", "00af").order < write("a", "00B0").order
    assert write("a", "00af").data_id == write("a", "00AF").data_id


def test_without_a_sequencer_the_event_time_orders_writes() -> None:
    earlier = write("aaaa", None, event_time="2026-11-12T00:00:00.000000Z")
    later = write("bbbb", None, event_time="2026-11-12T00:00:01.000000Z")

    assert earlier.order < later.order
    # and tells two writes of the same bytes apart
    assert write("aaaa", None, event_time="2026-11-12T00:00:01.000000Z").data_id != earlier.data_id


def test_ids_are_prefixed_fixed_length_and_separate_buckets_and_keys() -> None:
    obj = write("aaaa", "0055")

    assert obj.data_id.startswith("v-") and len(obj.data_id) == 34
    assert obj.head_id.startswith("k-") and len(obj.head_id) == 34
    assert replace(obj, bucket="other").data_id != obj.data_id
    assert replace(obj, key="photos/dog.png").head_id != obj.head_id
    # the separator cannot be faked by moving characters between bucket and key
    assert ObjectRef("ab", "c").head_id != ObjectRef("a", "bc").head_id
    assert obj.s3_uri == "s3://uploads/photos/cat.png"


@pytest.mark.parametrize("obj", [
    write("aaaa", "0055"), write("aaaa", "0055", version_id="3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"),
    write("aaaa", None), ObjectRef("uploads", KEY),
], ids=["unversioned", "versioned", "no-sequencer", "bare"])
def test_a_record_knows_the_version_it_is_about(obj: ObjectRef) -> None:
    record = VerdictRecord(**object_fields(obj), state=State.RECEIVED)

    assert record.id == obj.data_id
    assert record.object_ref() == obj
    assert record.object_ref().data_id == record.id
