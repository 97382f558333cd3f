"""Regenerate the hand-shaped payloads in events/ (the sam-*.json files come from `sam local generate-event`).

    PYTHONPATH=layers/greenlight python events/generate.py

Shapes follow AWS's documentation (S3 EventBridge events, S3 event notifications, SQS records, HTTP
API payload 2.0). The callback payloads carry real checksums for the uid, seed and token in
fixture.json, which the tests put in the Green secret.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.green.checksum import callback_checksum

HERE = Path(__file__).resolve().parent
BUCKET = "greenlight-uploads"
KEY = "photos/red flower+1.jpg"
ENCODED_KEY = "photos/red+flower%2B1.jpg"
ETAG = "0123456789abcdef0123456789abcdef"
SEQUENCER = "0A1B2C3D4E5F678901"
TASK_ID = "img-events-fixture-0001"
SECRET = {"uid": "1234567890123456", "seed": "s33dEventsFixture",
          "callback_token": "events-fixture-callback-token-0001"}
OBJECT = ObjectRef(BUCKET, KEY, size=1024, etag=ETAG, sequencer=SEQUENCER)


def write(name: str, payload: Any) -> None:
    (HERE / name).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def sqs_record(body: Any, number: int = 1) -> dict[str, Any]:
    return {
        "messageId": f"0c4e4b3f-0000-4000-8000-00000000000{number}",
        "receiptHandle": f"AQEB-receipt-{number}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795800000000", "SenderId": "AIDAEXAMPLE",
                       "ApproximateFirstReceiveTimestamp": "1795800000001"},
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:greenlight-ScanQueue",
        "awsRegion": "us-east-1",
    }


def eventbridge_created(key: str = ENCODED_KEY, **object_fields: Any) -> dict[str, Any]:
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
        "source": "aws.s3", "account": "111122223333", "time": "2026-11-12T00:00:00Z", "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0", "bucket": {"name": BUCKET},
            "object": {"key": key, "size": 1024, "etag": ETAG, "sequencer": SEQUENCER, **object_fields},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333", "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def s3_notification() -> dict[str, Any]:
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-12T00:00:01.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"}, "requestParameters": {"sourceIPAddress": "1.2.3.4"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG"},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "greenlight",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                       "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {"key": ENCODED_KEY, "size": 1024, "eTag": ETAG, "sequencer": SEQUENCER},
        },
    }]}


def http_api_event(method: str, token: str, body: bytes,
                   content_type: str = "application/x-www-form-urlencoded; charset=UTF-8") -> dict[str, Any]:
    path = f"/callback/{token}"
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0", "routeKey": "ANY /callback/{token}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": content_type, "content-length": str(len(body)), "host": host,
                    "user-agent": "Apache-HttpClient/4.5", "x-forwarded-for": "47.100.0.1",
                    "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "111122223333", "apiId": "abc123", "domainName": host, "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "47.100.0.1",
                     "userAgent": "Apache-HttpClient/4.5"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": "ANY /callback/{token}", "stage": "$default",
            "time": "12/Nov/2026:00:00:09 +0000", "timeEpoch": 1794441609000,
        },
        "pathParameters": {"token": token},
        "body": body.decode("utf-8") if body else None,
        "isBase64Encoded": False,
    }


def main() -> None:
    write("submit/eventbridge-object-created.json", {"Records": [sqs_record(eventbridge_created())]})
    write("submit/s3-notification.json", {"Records": [sqs_record(s3_notification())]})
    write("submit/s3-test-event.json", {"Records": [sqs_record({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-12T00:00:00.000Z", "Bucket": BUCKET,
        "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8"})]})
    deleted = eventbridge_created()
    deleted["detail-type"], deleted["detail"]["reason"] = "Object Deleted", "DeleteObject"
    versioned = eventbridge_created("avatars/%E7%8C%AB+%C3%A9t%C3%A9.png",
                                    **{"version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"})
    write("submit/mixed-batch.json", {"Records": [sqs_record("this is not JSON {", 1), sqs_record(deleted, 2),
                                                  sqs_record({"hello": "world"}, 3), sqs_record(versioned, 4)]})

    content = json.dumps({
        "code": 200, "msg": "OK", "dataId": OBJECT.data_id, "taskId": TASK_ID,
        "url": f"https://{BUCKET}.s3.amazonaws.com/photos/red%20flower%2B1.jpg",
        "results": [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.6},
                    {"scene": "terrorism", "label": "normal", "suggestion": "pass", "rate": 99.9}],
    }, separators=(",", ":"), ensure_ascii=False)
    checksum = callback_checksum(SECRET["uid"], SECRET["seed"], content)
    good = urllib.parse.urlencode({"checksum": checksum, "content": content}).encode()
    bad = urllib.parse.urlencode({"checksum": "0" * 64, "content": content}).encode()
    token = SECRET["callback_token"]
    write("callback/result-good-checksum.json", http_api_event("POST", token, good))
    write("callback/result-bad-checksum.json", http_api_event("POST", token, bad))
    write("callback/wrong-token.json", http_api_event("POST", "not-the-token", good))
    write("callback/wrong-method.json", http_api_event("GET", token, b""))
    write("callback/wrong-content-type.json", http_api_event("POST", token, good, "application/json"))
    write("callback/garbage-form.json", http_api_event("POST", token, b"checksum=%zz&&content"))
    binary = http_api_event("POST", token, b"")
    binary.update(body=base64.b64encode(b"\xff\xfe\x00garbage").decode(), isBase64Encoded=True)
    write("callback/binary-body.json", binary)
    write("fixture.json", {"bucket": BUCKET, "key": KEY, "etag": ETAG, "size": 1024, "data_id": OBJECT.data_id,
                           "task_id": TASK_ID, "secret": SECRET})


if __name__ == "__main__":
    main()
