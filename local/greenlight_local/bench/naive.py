"""The baseline: Green's sample approach, one image at a time.

Presign a URL, send it alone through a new AcsClient + ImageAsyncScanRequest (the official SDK),
record it PENDING with a plain PutItem. Stdlib only at import: the memory probe runs this as a
handler in a fresh process.
"""

from __future__ import annotations

import json
import time
from typing import Any

GREEN_REGION = "cn-shanghai"
SCENES = ("porn", "terrorism")
PRESIGN = "presign (local)"
SCAN = "new AcsClient + ImageAsyncScanRequest"
PUT = "PutItem"


class NaiveSubmitter:
    def __init__(self, *, endpoint: str, region: str, session_token: str, table: str, secret_id: str,
                 green_port: int) -> None:
        import boto3
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkgreen.request.v20180509.ImageAsyncScanRequest import ImageAsyncScanRequest
        from aliyunsdkgreen.request.v20180509.ImageAsyncScanResultsRequest import ImageAsyncScanResultsRequest
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        aws_session_token=session_token, region_name=region)
        self.s3 = session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        secret = json.loads(session.client("secretsmanager", endpoint_url=endpoint).get_secret_value(
            SecretId=secret_id)["SecretString"])
        self.key_id, self.key_secret = secret["access_key_id"], secret["access_key_secret"]
        self.table = table
        self.port = green_port
        self._client_class = AcsClient
        self._scan_class = ImageAsyncScanRequest
        self._results_class = ImageAsyncScanResultsRequest
        self.timings: dict[str, list[float]] = {PRESIGN: [], SCAN: [], PUT: []}

    def _send(self, request: Any, payload: Any) -> list[dict[str, Any]]:
        client = self._client_class(self.key_id, self.key_secret, GREEN_REGION, port=self.port, auto_retry=False,
                                    timeout=10, connect_timeout=5)
        request.set_endpoint("127.0.0.1")
        request.set_protocol_type("http")
        request.set_accept_format("JSON")
        request.set_content(json.dumps(payload).encode("utf-8"))
        data: list[dict[str, Any]] = json.loads(client.do_action_with_exception(request))["data"]
        return data

    def submit(self, message_body: str) -> str:
        import uuid
        from urllib.parse import unquote_plus

        detail = json.loads(message_body)["detail"]
        bucket, key = detail["bucket"]["name"], unquote_plus(detail["object"]["key"])
        version_id = detail["object"].get("version-id")
        params = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        started = time.perf_counter()
        url = self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
        presigned = time.perf_counter()
        data_id = uuid.uuid4().hex
        task_id = str(self._send(self._scan_class(), {"scenes": list(SCENES),
                                                      "tasks": [{"dataId": data_id, "url": url}]})[0]["taskId"])
        scanned = time.perf_counter()
        self.dynamodb.put_item(TableName=self.table, Item={
            "id": {"S": f"naive-{data_id}"}, "state": {"S": "PENDING"}, "bucket": {"S": bucket}, "key": {"S": key},
            "version_id": {"S": version_id or "null"}, "task_id": {"S": task_id},
            "submitted_epoch": {"N": str(time.time())}})
        # Three clock reads per image: far below the millisecond costs they split.
        self.timings[PRESIGN].append(presigned - started)
        self.timings[SCAN].append(scanned - presigned)
        self.timings[PUT].append(time.perf_counter() - scanned)
        return task_id

    def result(self, task_id: str) -> dict[str, Any]:
        return self._send(self._results_class(), [task_id])[0]

    def handle(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        """A Lambda-shaped entry point, for the memory probe."""
        task_ids = [self.submit(record["body"]) for record in event["Records"]]
        return {"submitted": len(task_ids)}
