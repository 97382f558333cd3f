"""moto in server mode, with S3's EventBridge events in the shape AWS documents.

moto 5.2's "Object Created" events differ from AWS's in ways that matter to this product:
the key is not URL-encoded (AWS encodes it as S3 notifications do), the ETag field is `eTag`
(AWS: `etag`), the `sequencer` is a constant (AWS: increasing per key, which is how overwrites
are ordered) and `reason` is `ObjectCreated` (AWS: `PutObject`, ...). This wrapper replaces moto's
event builder with one that emits AWS's shape, makes moto's DynamoDB item writes atomic (as
DynamoDB's conditional writes are; moto's threaded server lets two pass the same condition), and
then runs moto's own server.

    python -m greenlight_local.moto_server -H 127.0.0.1 -p 5000
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from greenlight_local.processes import free_port, pythonpath, terminate, wait_until

_sequence_lock = threading.Lock()
_last_sequencer = 0


def _next_sequencer() -> str:
    """Strictly increasing hex, like S3's sequencer for successive writes."""
    global _last_sequencer
    with _sequence_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:018X}"


def _reason(event_name: str) -> str:
    return {"Put": "PutObject", "Post": "PostObject", "Copy": "CopyObject",
            "CompleteMultipartUpload": "CompleteMultipartUpload"}.get(event_name.rsplit(":", 1)[-1], "PutObject")


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    from moto.events.models import events_backends
    from moto.s3 import notifications

    try:
        detail_object: dict[str, Any] = {
            "key": quote_plus(key.name, safe="/"),
            "size": key.size,
            "etag": key.etag.replace('"', ""),
            "sequencer": _next_sequencer(),
        }
        if key.version_id and key.version_id != "null":
            detail_object["version-id"] = key.version_id
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": notifications._detail_type(event_name),
            "source": "aws.s3",
            "account": account_id,
            "time": time.time(),  # moto's SQS delivery formats it as AWS's ISO timestamp
            "region": bucket.region_name,
            "resources": [bucket.arn],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket.name},
                "object": detail_object,
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": account_id,
                "source-ip-address": "127.0.0.1",
                "reason": _reason(event_name),
            },
        }
        backend = events_backends[account_id][bucket.region_name]
        for event_bus in backend.event_buses.values():
            for rule in event_bus.rules.values():
                rule.send_to_targets(event, transform_input=False)  # type: ignore[arg-type]
    except Exception:  # as in moto (and AWS): a failed delivery must not fail the upload
        import traceback

        traceback.print_exc(file=sys.stderr)


class MotoServer:
    """This wrapper in a subprocess on a free loopback port; `stop()` ends it."""

    def __init__(self, log_path: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "greenlight_local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": pythonpath()},
        )
        try:
            wait_until(self._ready, timeout=30, what="moto server")
        except TimeoutError:
            self.stop()
            raise

    def _ready(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.url}/moto-api/", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def stop(self) -> None:
        terminate(self.process)
        self._log.close()


def _serialize_dynamodb_writes() -> None:
    """DynamoDB applies a conditional write to an item atomically; moto's threaded server does not: two
    concurrent conditional updates can both pass their condition against the same old item (both show it
    as the stream's OldImage) and both apply. One lock around moto's item writes restores the guarantee
    the product relies on (the chaos run found a FINAL record turned back to PENDING without it)."""
    import functools

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))


def main(argv: list[str] | None = None) -> None:
    from moto.s3 import notifications
    from moto.server import main as moto_main

    notifications._send_event_bridge_message = _send_event_bridge_message
    _serialize_dynamodb_writes()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
