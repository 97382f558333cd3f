"""What running the stack needs from AWS, as small ports: its queues, buckets, secrets, the switch that
lets uploads flow, and the verdict table's stream. `Operations` bundles them with the stack's outputs
and parameters; a stack (greenlight_cli.stack.StackContext, or a test's fake) hands one out from `ops()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from greenlight.green.signer import Credentials
from greenlight.ports import GreenScanner, ReviewStore, VerdictStore
from greenlight_cli.stack import CliError


class QueueError(CliError):
    """SQS refused some messages of a batch (the rest were sent)."""

    exit_code = 1


@dataclass(frozen=True)
class Message:
    """One SQS message as received (the receipt deletes it)."""

    message_id: str
    body: str
    receipt: str
    attributes: Mapping[str, str]


class Queues(Protocol):
    def receive(self, url: str, *, limit: int, wait_seconds: int, visibility_seconds: int) -> list[Message]:
        """Up to `limit` (at most 10) messages, hidden from others for `visibility_seconds`."""
        ...

    def send(self, url: str, bodies: Sequence[str]) -> None:
        """Send up to 10 bodies in one request; raises QueueError naming how many were refused."""
        ...

    def delete(self, url: str, receipts: Sequence[str]) -> None:
        """Delete up to 10 received messages."""
        ...

    def depth(self, url: str) -> int:
        """Messages waiting (approximately, as SQS counts them)."""
        ...


@dataclass(frozen=True)
class Listed:
    """An object's current version, as a bucket listing or an S3 Inventory report shows it."""

    bucket: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None  # None in an unversioned bucket ("null" is kept as S3 says it)
    last_modified: str | None  # ISO 8601


class Storage(Protocol):
    def versioned(self, bucket: str) -> bool:
        """Whether versioning is (or was) on: objects then carry version ids."""
        ...

    def current_objects(self, bucket: str, *, prefix: str = "", after: str | None = None) -> Iterator[Listed]:
        """The objects under `prefix` now (not deleted, not overwritten), in key order, from after `after`."""
        ...

    def read(self, bucket: str, key: str) -> bytes: ...

    def notifications(self, bucket: str) -> dict[str, Any]:
        """The bucket's notification configuration, as S3 returns it (without response metadata)."""
        ...

    def put_notifications(self, bucket: str, configuration: Mapping[str, Any]) -> None:
        """Replace the bucket's notification configuration (S3 has no merge: read, change, put)."""
        ...


class Secrets(Protocol):
    def read(self, secret_id: str) -> dict[str, Any]:
        """The secret's JSON object ({} for an empty one)."""
        ...

    def write(self, secret_id: str, value: Mapping[str, Any]) -> None: ...


class Processing(Protocol):
    """Whether the submit function takes uploads from the scan queue (the template's ProcessUploads)."""

    @property
    def where(self) -> str:
        """What is switched, for a person ("the stack's ProcessUploads parameter", ...)."""
        ...

    def enabled(self) -> bool: ...

    def enable(self, *, timeout: float) -> None:
        """Turn it on and wait (at most `timeout` seconds) until it is; raises a CliError when it fails."""
        ...


class StreamBatches(Protocol):
    def record_ids(self, batch: Mapping[str, Any]) -> list[str] | None:
        """The ids of the version records changed in a stream batch (a failure destination's
        DDBStreamBatchInfo), in order; None when the stream no longer holds it (24 hours)."""
        ...


@dataclass
class Operations:
    """A stack as an operator runs it."""

    name: str
    region: str
    bucket: str
    outputs: Mapping[str, str]  # CloudFormation outputs (the local stack: the same names)
    parameters: Mapping[str, str]  # template parameters in force (GreenRegion, GreenScenes, KeyPrefix...)
    store: VerdictStore
    reviews: ReviewStore
    queues: Queues
    storage: Storage
    secrets: Secrets
    processing: Processing
    streams: StreamBatches
    green: Callable[[Credentials], GreenScanner]  # a client of the stack's Green endpoint with these keys
    caller: Callable[[], str]
    local: bool = False

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise CliError(f"stack {self.name!r} has no output {name}: deploy the current template (make deploy)")
        return value

    @property
    def scenes(self) -> list[str]:
        return [s for s in self.parameters.get("GreenScenes", "porn,terrorism").split(",") if s]
