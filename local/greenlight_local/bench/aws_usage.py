"""What the pipeline asks of AWS per image, from a metered pipeline run: requests by service and
operation, DynamoDB capacity units from the real item sizes, Lambda invocations and GB-seconds from
measured durations, log bytes; and the AWS cost of 1,000 images from list prices (costs.py).

Counted per upload over a whole run. Work that does not scale with uploads is kept apart: the event
sources' idle polling (empty SQS receives), the DynamoDB stream reads of Lambda's event source
mapping (free), and per-container reads of the secrets and the policy (cached; in AWS each warm
container re-reads them every SECRET_MAX_AGE / POLICY_MAX_AGE seconds).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenlight_local.bench.sizing import Index, index_write_units, item_size, read_units, write_units

MEMORY_GB = 0.5  # the template's MemorySize (512 MB), every function
TYPICAL_IMAGE_BYTES = 1_000_000  # ASSUMPTION: a typical upload (the bench's own PNGs are a few hundred bytes)
PLATFORM_LOG_BYTES = 300  # ASSUMPTION: Lambda's START, END and REPORT lines per invocation
ACCESS_LOG_BYTES = 250  # ASSUMPTION: one access log line of the callback API per request (template format)
PER_CONTAINER = {("secretsmanager", "GetSecretValue"), ("ssm", "GetParameter")}
S3_PUT_CLASS = {"PutObject", "CopyObject", "PutObjectTagging", "ListObjects", "ListObjectsV2", "ListObjectVersions",
                "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObjectAcl"}
S3_FREE = {"DeleteObject", "DeleteObjects"}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass
class Usage:
    images: int
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (function, service, op) -> HTTP requests
    idle: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # not per image (polling, caches)
    invocations: Counter[str] = field(default_factory=Counter)
    gb_seconds: dict[str, float] = field(default_factory=dict)
    wru_table: float = 0.0
    wru_indexes: Counter[str] = field(default_factory=Counter)
    wru_failed: float = 0.0  # conditional writes refused (capacity still consumed)
    wru_unseen: float = 0.0  # writes that left no stream record (a delete of an absent item): 1 unit each
    rru: float = 0.0
    writes_in_stream: int = 0
    log_bytes: int = 0
    green_downloads: int = 0
    callbacks: int = 0
    scan_messages: int = 0  # S3 events put on the scan queue (one SendMessage each, by EventBridge)
    item_sizes: list[int] = field(default_factory=list)  # final version records
    notes: list[str] = field(default_factory=list)

    @property
    def wru_total(self) -> float:
        return self.wru_table + sum(self.wru_indexes.values()) + self.wru_failed + self.wru_unseen

    def per_image(self, count: float) -> float:
        return count / self.images

    def service_requests(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for (_, service, _), n in self.requests.items():
            found[service] += n
        return found

    def usage_per_1000(self, image_bytes: int) -> dict[str, float]:
        """Priced usage (costs.PRICES keys) per 1,000 images."""
        k = 1000 / self.images
        s3_put = sum(n for (_, svc, op), n in self.requests.items() if svc == "s3" and op in S3_PUT_CLASS)
        s3_get = sum(n for (_, svc, op), n in self.requests.items()
                     if svc == "s3" and op not in S3_PUT_CLASS and op not in S3_FREE) + self.green_downloads
        sqs = sum(n for (_, svc, _), n in self.requests.items() if svc == "sqs") + self.scan_messages
        events = sum(n for (_, svc, op), n in self.requests.items() if svc == "events" and op == "PutEvents")
        return {
            "lambda_requests": k * sum(self.invocations.values()),
            "lambda_gb_seconds": k * sum(self.gb_seconds.values()),
            "dynamodb_wru": k * self.wru_total,
            "dynamodb_rru": k * self.rru,
            "s3_put_requests": k * s3_put,
            "s3_get_requests": k * s3_get,
            "s3_egress_gb": k * self.green_downloads * image_bytes / 1e9,
            "sqs_requests": k * sqs,
            "eventbridge_events": k * events,
            "apigw_requests": k * self.callbacks,
            "logs_gb": k * self.log_bytes / 1e9,
        }


def usage_of(*, images: int, meter: Sequence[Mapping[str, Any]], stream: Sequence[Mapping[str, Any]],
             items: Sequence[Mapping[str, Any]], indexes: Sequence[Mapping[str, Any]], log_bytes: int,
             green: Mapping[str, Any], scan_queue: str) -> Usage:
    """Everything a run asked of AWS. `meter`: the metered handler's lines (each with "fn"); `stream`:
    the table's stream records; `items`: the table at the end; `green`: the emulator's counters."""
    usage = Usage(images=images)
    sizes = {item["id"]["S"]: item_size(item) for item in items if "id" in item}
    usage.item_sizes = sorted(size for item_id, size in sizes.items() if item_id.startswith("v-"))
    for line in meter:
        if line.get("k") == "invoke":
            usage.invocations[line["fn"]] += 1
            billed = math.ceil(float(line.get("ms", 0)))  # 1 ms granularity
            usage.gb_seconds[line["fn"]] = usage.gb_seconds.get(line["fn"], 0.0) + billed / 1000 * MEMORY_GB
            continue
        if line.get("k") != "call":
            continue
        key = (str(line["fn"]), str(line["svc"]), str(line["op"]))
        attempts = int(line.get("attempts", 1))
        if (key[1], key[2]) in PER_CONTAINER or key[1] == "dynamodbstreams" or (
                key[1] == "sqs" and key[2] == "ReceiveMessage" and not line.get("messages")):
            usage.idle[key] += attempts
            continue
        usage.requests[key] += attempts
        if key[1] == "dynamodb":
            _dynamodb_read(usage, line)
            if key[2] in DYNAMODB_WRITES and line.get("error") == CONDITION_FAILED:
                usage.wru_failed += max(1, math.ceil(sizes.get(str(line.get("id")), 0) / 1024))
    indexes_ = [Index.from_description(i) for i in indexes]
    changes = changed(stream)
    for old, new in changes:
        usage.writes_in_stream += 1
        usage.wru_table += write_units(old, new)
        usage.wru_indexes.update(index_write_units(indexes_, old, new, ("id",)))
    writes = sum(n for (_, svc, op), n in usage.requests.items() if svc == "dynamodb" and op in DYNAMODB_WRITES)
    failed = sum(1 for line in meter if line.get("svc") == "dynamodb" and line.get("op") in DYNAMODB_WRITES
                 and line.get("error") == CONDITION_FAILED)
    unseen = writes - failed - usage.writes_in_stream
    usage.wru_unseen = max(0, unseen)
    if len(changes) != len(stream):
        usage.notes.append(f"{len(stream) - len(changes)} of {len(stream)} stream records repeated the item as it "
                           "already was (moto writes two records when an UpdateItem creates an item; DynamoDB writes "
                           "none for a change that changes nothing): not counted")
    if unseen > 0:
        usage.notes.append(f"{unseen} successful DynamoDB writes left no stream record (DeleteItem of an item "
                           "that was not there): 1 write unit each")
    elif unseen < 0:
        usage.notes.append(f"{-unseen} more stream records than metered writes: capacity is counted from the stream")
    invocations = sum(usage.invocations.values())
    callbacks = int((green.get("callbacks") or {}).get("sent", 0))
    usage.log_bytes = log_bytes + PLATFORM_LOG_BYTES * invocations + ACCESS_LOG_BYTES * callbacks
    usage.green_downloads = int(green.get("downloads", 0))
    usage.callbacks = callbacks
    usage.scan_messages = images  # EventBridge puts one message per upload on the scan queue
    received = sum(int(line.get("messages", 0)) for line in meter
                   if line.get("op") == "ReceiveMessage" and line.get("queue") == scan_queue)
    if received > images:
        usage.notes.append(f"the scan queue's {images} messages were received {received} times (redeliveries)")
    return usage


def changed(stream: Sequence[Mapping[str, Any]]) -> list[tuple[Any, Any]]:
    """(old image, new image) of every stream record that changed its item. Dropped, as DynamoDB would
    not write them: a record whose new image is the item's previous new image (a change that changed
    nothing), and moto's extra record when an UpdateItem creates an item (an INSERT holding only the
    key, followed by an INSERT of the whole item)."""
    keys = [str((record.get("dynamodb") or {}).get("Keys")) for record in stream]
    following: dict[int, int] = {}
    seen: dict[str, int] = {}
    for index in range(len(stream) - 1, -1, -1):
        if keys[index] in seen:
            following[index] = seen[keys[index]]
        seen[keys[index]] = index
    last: dict[str, Any] = {}
    found: list[tuple[Any, Any]] = []
    for index, record in enumerate(stream):
        change = record.get("dynamodb") or {}
        old, new = change.get("OldImage"), change.get("NewImage")
        key = keys[index]
        after = following.get(index)
        if (record.get("eventName") == "INSERT" and new == change.get("Keys") and after is not None
                and stream[after].get("eventName") == "INSERT"):
            continue
        if key in last and last[key] == new:
            continue
        last[key] = new
        found.append((old, new))
    return found


def _dynamodb_read(usage: Usage, line: Mapping[str, Any]) -> None:
    op = line["op"]
    consistent = bool(line.get("consistent"))
    if op == "GetItem" or op in ("Query", "Scan"):
        usage.rru += read_units(int(line.get("read_bytes", 0)), consistent=consistent)
    elif op == "BatchGetItem":
        found = [int(b) for b in line.get("item_bytes") or []]
        usage.rru += sum(read_units(b, consistent=consistent) for b in found)
        usage.rru += max(0, int(line.get("keys", 0)) - len(found)) * read_units(0, consistent=consistent)
