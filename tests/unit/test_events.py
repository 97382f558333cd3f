"""Parsing SQS message bodies into the S3 objects they announce (greenlight.aws.s3_events).

What an announced object's identity and order mean is tested in test_identity.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenlight.aws.s3_events import Ignored, parse_message
from greenlight.domain.identity import ObjectRef

EVENTS = Path(__file__).resolve().parents[2] / "events"


def bodies(name: str) -> list[str]:
    return [r["body"] for r in json.loads((EVENTS / name).read_text(encoding="utf-8"))["Records"]]


def test_eventbridge_object_created_is_decoded_like_an_s3_notification_key() -> None:
    [body] = bodies("submit/eventbridge-object-created.json")

    [ref] = parse_message(body)  # type: ignore[misc]

    assert ref == ObjectRef(bucket="greenlight-uploads", key="photos/red flower+1.jpg", size=1024,
                            etag="0123456789abcdef0123456789abcdef", version_id=None,
                            sequencer="0A1B2C3D4E5F678901", event_time="2026-11-12T00:00:00.000000Z")


def test_s3_notification_in_sqs_gives_the_same_object_as_eventbridge() -> None:
    # The two announcements of one write: event times a second apart, the same sequencer
    [notification] = bodies("submit/s3-notification.json")
    [eventbridge] = bodies("submit/eventbridge-object-created.json")

    [from_notification] = parse_message(notification)  # type: ignore[misc]
    [from_eventbridge] = parse_message(eventbridge)  # type: ignore[misc]

    assert from_notification.event_time != from_eventbridge.event_time
    assert from_notification.data_id == from_eventbridge.data_id
    assert from_notification.order == from_eventbridge.order
    assert from_notification.key == "photos/red flower+1.jpg"


def test_unicode_keys_and_version_ids_are_read() -> None:
    *_, versioned = bodies("submit/mixed-batch.json")

    [ref] = parse_message(versioned)  # type: ignore[misc]

    assert ref.key == "avatars/猫 été.png"
    assert ref.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert ref.version_token == "v:IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"


@pytest.mark.parametrize(("body", "reason"), [
    ("this is not JSON {", "malformed_body"),
    ("[1, 2]", "malformed_body"),
    ('{"hello": "world"}', "unrecognised_message"),
    ('{"Event": "s3:TestEvent", "Service": "Amazon S3"}', "s3_test_event"),
    ('{"detail-type": "Object Deleted", "source": "aws.s3", "detail": {}}', "unsupported_event:Object Deleted"),
    ('{"detail-type": "Object Created", "source": "aws.ec2", "detail": {}}', "unsupported_source:aws.ec2"),
    ('{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": 5}}', "malformed_event"),
    ('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete", "s3": {}}]}',
     "no_object_created_records"),
    ("Hello from SQS!", "malformed_body"),
    ('{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}, '
     '"object": {"key": "k", "sequencer": ["0A"]}}}', "malformed_event"),
    ('{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}, '
     '"object": {"key": "k", "sequencer": "not-hex"}}}', "malformed_event"),
    ('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, '
     '"object": {"key": "k", "versionId": 7}}}]}', "malformed_event"),
])
def test_messages_that_announce_nothing_are_ignored_with_a_reason(body: str, reason: str) -> None:
    assert parse_message(body) == Ignored(reason)


def test_an_s3_notification_inside_an_sns_envelope_is_unwrapped() -> None:
    [notification] = bodies("submit/s3-notification.json")
    envelope = json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": notification})

    [ref] = parse_message(envelope)  # type: ignore[misc]

    assert ref.key == "photos/red flower+1.jpg"


def test_sam_generated_s3_put_event_is_understood() -> None:
    event = (EVENTS / "submit/sam-s3-put.json").read_text(encoding="utf-8")

    [ref] = parse_message(event)  # type: ignore[misc]

    assert (ref.bucket, ref.key, ref.size) == ("greenlight-uploads", "photos/red flower+1.jpg", 1024)


def test_epoch_event_times_are_normalised_to_sortable_iso() -> None:
    body = json.dumps({"detail-type": "Object Created", "source": "aws.s3", "time": 1795811140.9,
                       "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "eTag": "e"}}})

    [ref] = parse_message(body)  # type: ignore[misc]

    assert ref.event_time == "2026-11-27T20:25:40.900000Z"
    assert ref.etag == "e"
