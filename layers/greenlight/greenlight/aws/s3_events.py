"""Turn an SQS message body into the S3 objects it announces.

Understood bodies: an EventBridge "Object Created" event from aws.s3 (what the stack's rule
delivers), an S3 event notification (`Records`, also inside an SNS envelope), and S3's
`s3:TestEvent`. Anything else is an `Ignored` with a reason, never an exception: a message that
can never be processed must be acknowledged, not retried into the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent

from greenlight.domain.identity import ObjectRef


@dataclass(frozen=True)
class Ignored:
    """A message that announces nothing to scan; acknowledged with this reason."""

    reason: str


def _normalise_time(value: Any) -> str | None:
    """ISO 8601 UTC with microseconds, so event times sort as strings (some emitters send epoch numbers)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or str(value).replace(".", "", 1).isdigit():
            moment = datetime.fromtimestamp(float(value), UTC)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return str(value)[:64]
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clean_etag(etag: Any) -> str | None:
    return str(etag).strip('"') if etag else None


def _text_or_none(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    return value


def _sequencer(value: Any) -> str | None:
    """S3's sequencer: a hex string (it orders writes to a key); anything else makes the event malformed."""
    text = _text_or_none(value, "sequencer")
    if text is not None and not (len(text) <= 64 and all(c in "0123456789abcdefABCDEF" for c in text)):
        raise ValueError("sequencer is not hexadecimal")
    return text


def _from_eventbridge(body: dict[str, Any]) -> list[ObjectRef] | Ignored:
    if body.get("source") != "aws.s3":
        return Ignored(f"unsupported_source:{str(body.get('source'))[:64]}")
    if body.get("detail-type") != "Object Created":
        return Ignored(f"unsupported_event:{str(body.get('detail-type'))[:64]}")
    event = S3EventBridgeNotificationEvent(body)
    detail = event.detail
    raw_object = body["detail"].get("object") or {}
    return [
        ObjectRef(
            bucket=detail.bucket.name,
            key=detail.object.key,
            size=_int_or_none(raw_object.get("size")),
            etag=_clean_etag(raw_object.get("etag") or raw_object.get("eTag")),
            version_id=_text_or_none(raw_object.get("version-id"), "version-id"),
            sequencer=_sequencer(raw_object.get("sequencer")),
            event_time=_normalise_time(body.get("time")),
        )
    ]


def _from_notification(body: dict[str, Any]) -> list[ObjectRef] | Ignored:
    refs: list[ObjectRef] = []
    for record in S3Event(body).records:
        if record.event_source != "aws:s3" or not record.event_name.startswith("ObjectCreated:"):
            continue
        raw_object = record["s3"]["object"]
        refs.append(
            ObjectRef(
                bucket=record.s3.bucket.name,
                key=unquote_plus(raw_object["key"]),
                size=_int_or_none(raw_object.get("size")),
                etag=_clean_etag(raw_object.get("eTag") or raw_object.get("etag")),
                version_id=_text_or_none(raw_object.get("versionId"), "versionId"),
                sequencer=_sequencer(raw_object.get("sequencer")),
                event_time=_normalise_time(record.get("eventTime")),
            )
        )
    return refs or Ignored("no_object_created_records")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_message(body: str) -> list[ObjectRef] | Ignored:
    """Objects announced by one SQS message body, or why there are none."""
    try:
        decoded = json.loads(body)
    except (TypeError, ValueError):
        return Ignored("malformed_body")
    if not isinstance(decoded, dict):
        return Ignored("malformed_body")
    if decoded.get("Type") == "Notification" and isinstance(decoded.get("Message"), str):
        return parse_message(decoded["Message"])  # S3 -> SNS -> SQS
    if decoded.get("Event") == "s3:TestEvent":
        return Ignored("s3_test_event")
    try:
        if "detail-type" in decoded:
            return _from_eventbridge(decoded)
        if isinstance(decoded.get("Records"), list):
            return _from_notification(decoded)
    except (KeyError, TypeError, AttributeError, ValueError):
        return Ignored("malformed_event")
    return Ignored("unrecognised_message")
