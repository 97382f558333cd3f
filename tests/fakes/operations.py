"""In-memory fakes of the operator's ports (greenlight_cli.ops.ports): queues, buckets, secrets, the uploads
switch and the table's stream, and `FakeOperations` bundling them with a world's verdict store, for the
`greenlight setup`, `rescan`, `redrive` and `backfill` commands without any server. The boto3 adapters
(greenlight_cli.ops.aws) are run on moto by tests/integration/test_cli_*.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fakes.green import FakeGreen
from fakes.reviews import InMemoryReviews
from fakes.verdict_store import InMemoryVerdictStore
from greenlight.green.signer import Credentials
from greenlight.ports import GreenScanner
from greenlight_cli.ops.ports import Listed, Message, Operations, QueueError
from greenlight_cli.stack import CliError

QUEUES = {"QueueUrl": "https://sqs/scan", "DeadLetterQueueUrl": "https://sqs/scan-dlq",
          "EventDeliveryDeadLetterQueueUrl": "https://sqs/event-dlq",
          "EnforcementRetryQueueUrl": "https://sqs/enforcement-retries",
          "EnforcementDeadLetterQueueUrl": "https://sqs/enforcement-dlq"}
SECRETS = {"GreenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:green-AbC",
           "CallbackSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:callback-DeF"}


@dataclass
class FakeQueues:
    """SQS queues by URL: messages in order; received ones are hidden until deleted (no timeouts here)."""

    messages: dict[str, list[Message]] = field(default_factory=dict)
    hidden: dict[str, list[Message]] = field(default_factory=dict)
    fail_sends_after: int | None = None  # refuse every send once this many bodies were sent (an injected failure)
    sent_bodies: int = 0

    def put(self, url: str, body: str) -> None:
        self.messages.setdefault(url, []).append(Message(uuid.uuid4().hex, body, uuid.uuid4().hex, {}))

    def bodies(self, url: str) -> list[str]:
        return [m.body for m in self.messages.get(url, [])]

    def receive(self, url: str, *, limit: int, wait_seconds: int, visibility_seconds: int) -> list[Message]:
        waiting = self.messages.get(url, [])
        batch = waiting[:min(10, limit)]
        if visibility_seconds > 0:
            self.messages[url] = waiting[len(batch):]
            self.hidden.setdefault(url, []).extend(batch)
        return list(batch)

    def send(self, url: str, bodies: Sequence[str]) -> None:
        assert len(bodies) <= 10, "SQS takes at most 10 messages a request"
        if self.fail_sends_after is not None and self.sent_bodies >= self.fail_sends_after:
            raise QueueError(f"SQS refused {len(bodies)} of {len(bodies)} messages (InternalError)")
        for body in bodies:
            self.put(url, body)
        self.sent_bodies += len(bodies)

    def delete(self, url: str, receipts: Sequence[str]) -> None:
        assert len(receipts) <= 10
        self.hidden[url] = [m for m in self.hidden.get(url, []) if m.receipt not in receipts]
        self.messages[url] = [m for m in self.messages.get(url, []) if m.receipt not in receipts]

    def depth(self, url: str) -> int:
        return len(self.messages.get(url, []))


@dataclass
class FakeStorage:
    """Buckets of current objects (key -> Listed), their notification configurations and plain files."""

    objects: dict[str, dict[str, Listed]] = field(default_factory=dict)
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    configurations: dict[str, dict[str, Any]] = field(default_factory=dict)
    versioning: dict[str, bool] = field(default_factory=dict)
    puts: int = 0

    def add(self, bucket: str, key: str, *, size: int = 100, etag: str | None = None, version_id: str | None = None,
            last_modified: str = "2026-11-01T10:00:00.000Z") -> Listed:
        listed = Listed(bucket, key, size, etag or uuid.uuid4().hex, version_id, last_modified)
        self.objects.setdefault(bucket, {})[key] = listed
        return listed

    def versioned(self, bucket: str) -> bool:
        return self.versioning.get(bucket, False)

    def current_objects(self, bucket: str, *, prefix: str = "", after: str | None = None) -> Iterator[Listed]:
        for key in sorted(self.objects.get(bucket, {})):
            if key.startswith(prefix) and (after is None or key > after):
                yield self.objects[bucket][key]

    def read(self, bucket: str, key: str) -> bytes:
        if (bucket, key) not in self.files:
            raise CliError(f"no such object s3://{bucket}/{key}")
        return self.files[(bucket, key)]

    def notifications(self, bucket: str) -> dict[str, Any]:
        return {name: value for name, value in self.configurations.get(bucket, {}).items()}

    def put_notifications(self, bucket: str, configuration: Mapping[str, Any]) -> None:
        self.configurations[bucket] = dict(configuration)
        self.puts += 1


@dataclass
class FakeSecrets:
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: int = 0

    def read(self, secret_id: str) -> dict[str, Any]:
        return dict(self.values.get(secret_id, {}))

    def write(self, secret_id: str, value: Mapping[str, Any]) -> None:
        self.values[secret_id] = dict(value)
        self.writes += 1


@dataclass
class FakeProcessing:
    on: bool = False
    turned_on: int = 0

    @property
    def where(self) -> str:
        return "stack 'greenlight', parameter ProcessUploads"

    def enabled(self) -> bool:
        return self.on

    def enable(self, *, timeout: float) -> None:
        self.on = True
        self.turned_on += 1


@dataclass
class FakeStreams:
    """Stream batches by their start sequence number: the record ids in them (absent: past the 24 hours)."""

    batches: dict[str, list[str]] = field(default_factory=dict)

    def record_ids(self, batch: Mapping[str, Any]) -> list[str] | None:
        found = self.batches.get(str(batch.get("startSequenceNumber")))
        return list(found) if found is not None else None


@dataclass
class FakeOperations:
    """Every operator port in memory, over a verdict store (a unit test's world's)."""

    store: InMemoryVerdictStore
    clock: Callable[[], float]
    bucket: str = "uploads"
    queues: FakeQueues = field(default_factory=FakeQueues)
    storage: FakeStorage = field(default_factory=FakeStorage)
    secrets: FakeSecrets = field(default_factory=FakeSecrets)
    processing: FakeProcessing = field(default_factory=FakeProcessing)
    streams: FakeStreams = field(default_factory=FakeStreams)
    green: FakeGreen = field(default_factory=FakeGreen)
    parameters: dict[str, str] = field(default_factory=lambda: {
        "GreenRegion": "ap-southeast-1", "GreenScenes": "porn,terrorism", "KeyPrefix": "", "KeySuffix": "",
        "ProcessUploads": "false"})
    green_keys: list[Credentials] = field(default_factory=list)  # the keys each Green client was made with
    actor: str = "arn:aws:iam::123456789012:user/operator"

    def __post_init__(self) -> None:
        self.reviews = InMemoryReviews(self.store, self.clock)
        self.secrets.values.setdefault(SECRETS["GreenSecretArn"], {"access_key_id": "", "access_key_secret": ""})
        self.secrets.values.setdefault(SECRETS["CallbackSecretArn"], {"uid": "", "callback_token": "",
                                                                       "seed": "GeneratedSeed" + "x" * 27})

    def _green(self, credentials: Credentials) -> GreenScanner:
        self.green_keys.append(credentials)
        return self.green

    def operations(self) -> Operations:
        return Operations(name="greenlight", region="us-east-1", bucket=self.bucket,
                          outputs={**QUEUES, **SECRETS, "BucketName": self.bucket}, parameters=self.parameters,
                          store=self.store, reviews=self.reviews, queues=self.queues, storage=self.storage,
                          secrets=self.secrets, processing=self.processing, streams=self.streams, green=self._green,
                          caller=lambda: self.actor)
