"""The harness's side of the stack: a second, unversioned bucket wired like the first, a tap on the S3
events (the harness sees each real event, duplicates some, and learns each write's sequencer), and
the writes it makes, as it made them.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from greenlight_local.chaos.plan import VERSIONED, Content, Item
from greenlight_local.stack import LocalStack


def s3_object(event: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """An S3 event's bucket, key (decoded: the event carries it URL-encoded) and object fields."""
    detail = event.get("detail") or {}
    obj: dict[str, Any] = detail.get("object") or {}
    return str((detail.get("bucket") or {}).get("name")), unquote_plus(str(obj.get("key", ""))), obj


@dataclass
class Buckets:
    versioned: str = ""
    unversioned: str = ""
    tap_url: str = ""

    def name(self, role: str) -> str:
        return self.versioned if role == VERSIONED else self.unversioned


def wire_buckets(stack: LocalStack, buckets: Buckets) -> dict[str, str]:
    """Create the unversioned bucket (EventBridge notifications on, a rule of its own to the scan
    queue, as an operator adds a second bucket) and the tap on both rules; returns the submit
    function's BUCKET_NAMES with both buckets."""
    s3, events, sqs = stack.client("s3"), stack.client("events"), stack.client("sqs")
    buckets.versioned = stack.bucket
    buckets.unversioned = f"{stack.bucket}-unversioned"[:63]
    s3.create_bucket(Bucket=buckets.unversioned)
    s3.put_bucket_notification_configuration(Bucket=buckets.unversioned,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    buckets.tap_url = sqs.create_queue(QueueName=f"chaos-tap-{time.time_ns()}")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=buckets.tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"{stack.rule_name}-unversioned"
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": [buckets.unversioned]}}}
    events.put_rule(Name=rule, State="ENABLED", EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "scan-queue", "Arn": stack.queue_arn},
                                           {"Id": "chaos-tap", "Arn": tap_arn}])
    events.put_targets(Rule=stack.rule_name, Targets=[{"Id": "chaos-tap", "Arn": tap_arn}])
    return {"BUCKET_NAMES": f"{buckets.versioned},{buckets.unversioned}"}


@dataclass
class Write:
    """One PUT the harness made (and whether it deleted that version or key right after)."""

    item: Item
    step: int
    bucket: str
    key: str
    content: Content
    version_id: str | None  # None in the unversioned bucket
    etag: str
    at: float
    deleted: bool = False
    sequencer: str | None = None  # from the S3 event, once the tap has seen it

    @property
    def versioned(self) -> bool:
        return self.version_id is not None


@dataclass
class Tap:
    """Reads the tap queue: keeps every event, sends copies of some to the scan queue."""

    sqs: Any
    tap_url: str
    queue_url: str
    rate: float
    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)
    duplicated: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-tap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._once()
            except Exception as exc:  # moto busy: try again
                print(f"chaos: tap: {exc!r}", flush=True)
                time.sleep(0.5)

    def _once(self) -> None:
        messages = self.sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=3).get("Messages", [])
        for message in messages:
            self.events.append(json.loads(message["Body"]))
            if self.rng.random() < self.rate:
                self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message["Body"],
                                      DelaySeconds=self.rng.randrange(0, 5))
                self.duplicated += 1
            self.sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=message["ReceiptHandle"])

    def sequencers(self) -> dict[tuple[str, str], list[tuple[str, str | None, str]]]:
        """(bucket, key) -> [(sequencer, version id, etag)] in write order (the sequencer's)."""
        found: dict[tuple[str, str], list[tuple[str, str | None, str]]] = {}
        for event in list(self.events):
            bucket, key, obj = s3_object(event)
            found.setdefault((bucket, key), []).append(
                (str(obj.get("sequencer", "")).upper(), obj.get("version-id"), str(obj.get("etag", ""))))
        for writes in found.values():
            writes.sort(key=lambda w: w[0].rjust(32, "0"))
        return found


def match_sequencers(writes: list[Write], tap: Tap) -> int:
    """Give every write the sequencer of its event; returns how many writes have none yet."""
    seen = tap.sequencers()
    missing = 0
    by_key: dict[tuple[str, str], list[Write]] = {}
    for write in writes:
        by_key.setdefault((write.bucket, write.key), []).append(write)
    for key, key_writes in by_key.items():
        events = seen.get(key, [])
        for write in key_writes:
            if write.versioned:
                found = [seq for seq, version, _ in events if version == write.version_id]
                write.sequencer = found[0] if found else None
        unversioned = sorted((w for w in key_writes if not w.versioned), key=lambda w: w.at)
        if unversioned and len(events) == len(unversioned):  # one event per write (duplicates are copies)
            for write, event in zip(unversioned, events, strict=True):
                write.sequencer = event[0]
        missing += sum(1 for w in key_writes if w.sequencer is None)
    return missing


def live_writes(writes: list[Write]) -> set[int]:
    """ids of the writes whose bytes are still what the key serves (or, versioned, the newest version
    left): the last write of each key that was not deleted."""
    last: dict[tuple[str, str], Write] = {}
    for write in sorted(writes, key=lambda w: w.at):
        if write.deleted:
            if not write.versioned:  # deleting an unversioned key deletes the object
                last.pop((write.bucket, write.key), None)
            continue
        last[(write.bucket, write.key)] = write
    return {id(w) for w in last.values()}


class Uploader:
    """Carries out items: their puts and deletes, in order, with their delays; keeps every write."""

    def __init__(self, s3: Any, buckets: Buckets, workers: int) -> None:
        self._s3 = s3
        self._buckets = buckets
        self._workers = workers
        self._lock = threading.Lock()
        self.writes: list[Write] = []
        self.errors: list[str] = []

    def _call(self, function: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        for attempt in range(5):
            try:
                return function(**kwargs)
            except Exception:  # moto briefly overloaded
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def item(self, item: Item) -> None:
        bucket = self._buckets.name(item.bucket)
        last: Write | None = None
        try:
            for number, step in enumerate(item.steps):
                if step.after:
                    time.sleep(step.after)
                if step.action == "delete":
                    assert last is not None
                    extra = {"VersionId": last.version_id} if last.versioned else {}
                    self._call(self._s3.delete_object, Bucket=bucket, Key=item.key, **extra)
                    last.deleted = True
                    continue
                assert step.content is not None
                response = self._call(self._s3.put_object, Bucket=bucket, Key=item.key, Body=step.content.body,
                                      ContentType=step.content.content_type)
                version = response.get("VersionId")
                last = Write(item, number, bucket, item.key, step.content,
                             version if version and version != "null" else None,
                             str(response["ETag"]).strip('"'), time.time())
                with self._lock:
                    self.writes.append(last)
        except Exception as exc:
            self.errors.append(f"{item.key}: upload failed: {exc!r}")

    def phase(self, items: list[Item], spread: float) -> None:
        """Start the items evenly over `spread` seconds; return when all are done."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            for number, item in enumerate(items):
                delay = started + spread * number / max(1, len(items)) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self.item, item)
