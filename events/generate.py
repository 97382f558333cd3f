import json, sys, base64, urllib.parse
sys.path.insert(0, 'layers/greenlight')
from greenlight.checksum import callback_checksum
from greenlight.events import ObjectRef

BUCKET = "greenlight-uploads"
KEY = "photos/red flower+1.jpg"
ETAG = "0123456789abcdef0123456789abcdef"
obj = ObjectRef(BUCKET, KEY, size=1024, etag=ETAG, sequencer="0A1B2C3D4E5F678901")
UID, SEED, TOKEN = "1234567890123456", "s33dEventsFixture", "events-fixture-callback-token"

def sqs_record(body, n=1, receive_count="1"):
    return {"messageId": f"0c4e4b3f-0000-4000-8000-00000000000{n}", "receiptHandle": f"AQEB-receipt-{n}",
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"ApproximateReceiveCount": receive_count, "SentTimestamp": "1795800000000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795800000001"},
            "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:greenlight-ScanQueue", "awsRegion": "us-east-1"}

eb = {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
      "source": "aws.s3", "account": "111122223333", "time": "2026-11-12T00:00:00Z", "region": "us-east-1",
      "resources": [f"arn:aws:s3:::{BUCKET}"],
      "detail": {"version": "0", "bucket": {"name": BUCKET},
                 "object": {"key": "photos/red+flower%2B1.jpg", "size": 1024, "etag": ETAG,
                            "sequencer": "0A1B2C3D4E5F678901"},
                 "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333", "source-ip-address": "1.2.3.4",
                 "reason": "PutObject"}}
json.dump({"Records": [sqs_record(eb)]}, open("events/submit/eventbridge-object-created.json", "w"), indent=2)

eb_versioned = json.loads(json.dumps(eb))
eb_versioned["detail"]["object"].update({"key": "avatars/%E7%8C%AB+%C3%A9t%C3%A9.png", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"})
notif = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                      "eventTime": "2026-11-12T00:00:01.000Z", "eventName": "ObjectCreated:Put",
                      "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                      "requestParameters": {"sourceIPAddress": "1.2.3.4"},
                      "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                      "s3": {"s3SchemaVersion": "1.0", "configurationId": "greenlight",
                             "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                                        "arn": f"arn:aws:s3:::{BUCKET}"},
                             "object": {"key": "photos/red+flower%2B1.jpg", "size": 1024, "eTag": ETAG,
                                        "sequencer": "0A1B2C3D4E5F678901"}}}]}
json.dump({"Records": [sqs_record(notif)]}, open("events/submit/s3-notification.json", "w"), indent=2)
json.dump({"Records": [sqs_record({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-12T00:00:00.000Z",
                                    "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"})]},
          open("events/submit/s3-test-event.json", "w"), indent=2)
deleted = json.loads(json.dumps(eb)); deleted["detail-type"] = "Object Deleted"; deleted["detail"]["reason"] = "DeleteObject"
json.dump({"Records": [sqs_record("this is not JSON {", 1), sqs_record(deleted, 2), sqs_record({"hello": "world"}, 3),
                       sqs_record(eb_versioned, 4)]},
          open("events/submit/mixed-batch.json", "w"), indent=2)

def http_event(method, token, body_bytes, content_type="application/x-www-form-urlencoded; charset=UTF-8"):
    try:
        body, b64 = body_bytes.decode("utf-8"), False
    except UnicodeDecodeError:
        body, b64 = base64.b64encode(body_bytes).decode(), True
    path = f"/callback/{token}"
    return {"version": "2.0", "routeKey": "ANY /callback/{token}", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": content_type, "content-length": str(len(body_bytes)), "host": "abc123.execute-api.us-east-1.amazonaws.com",
                        "user-agent": "Apache-HttpClient/4.5", "x-forwarded-for": "47.100.0.1", "x-forwarded-proto": "https"},
            "requestContext": {"accountId": "111122223333", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                               "domainPrefix": "abc123", "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                               "sourceIp": "47.100.0.1", "userAgent": "Apache-HttpClient/4.5"},
                               "requestId": "JKJaXmPLvHcESHA=", "routeKey": "ANY /callback/{token}", "stage": "$default",
                               "time": "12/Nov/2026:00:00:09 +0000", "timeEpoch": 1794441609000},
            "pathParameters": {"token": token}, "body": body if body_bytes else None, "isBase64Encoded": b64}

content = json.dumps({"code": 200, "msg": "OK", "dataId": obj.data_id, "taskId": "img-events-fixture-0001",
                      "url": f"https://{BUCKET}.s3.amazonaws.com/photos/red%20flower%2B1.jpg",
                      "results": [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.6},
                                  {"scene": "terrorism", "label": "normal", "suggestion": "pass", "rate": 99.9}]},
                     separators=(",", ":"), ensure_ascii=False)
good = urllib.parse.urlencode({"checksum": callback_checksum(UID, SEED, content), "content": content}).encode()
bad = urllib.parse.urlencode({"checksum": "0" * 64, "content": content}).encode()
json.dump(http_event("POST", TOKEN, good), open("events/callback/result-good-checksum.json", "w"), indent=2)
json.dump(http_event("POST", TOKEN, bad), open("events/callback/result-bad-checksum.json", "w"), indent=2)
json.dump(http_event("POST", "not-the-token", good), open("events/callback/wrong-token.json", "w"), indent=2)
json.dump(http_event("GET", TOKEN, b""), open("events/callback/wrong-method.json", "w"), indent=2)
json.dump(http_event("POST", TOKEN, good, "application/json"), open("events/callback/wrong-content-type.json", "w"), indent=2)
json.dump(http_event("POST", TOKEN, b"checksum=%zz&&content"), open("events/callback/garbage-form.json", "w"), indent=2)
json.dump({"bucket": BUCKET, "key": KEY, "etag": ETAG, "size": 1024, "data_id": obj.data_id, "task_id": "img-events-fixture-0001",
           "secret": {"uid": UID, "seed": SEED, "callback_token": TOKEN}},
          open("events/fixture.json", "w"), indent=2)
print(obj.data_id)
