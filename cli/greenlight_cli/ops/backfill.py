"""`greenlight backfill`: objects already in the bucket (uploaded before the stack, or while its bucket
sent no events) announced to the scan queue as S3 would have announced them, so the pipeline scans
them like any upload.

- What: the bucket's current objects under a prefix (a listing: list_object_versions in a versioned
  bucket, for each key's current version id), or the rows of an S3 Inventory report (manifest.json,
  CSV files with its fileSchema; only latest versions, no delete markers). Keys outside the stack's
  KeyPrefix/KeySuffix and folder markers are left out; an object that already has a verdict record for
  its version is skipped (the lookup index).
- How: one S3 event notification per object (`message_for`: what greenlight.aws.s3_events.parse_message
  reads), sent in batches of up to 10, at most `rate` objects a second (a token bucket) and at most
  `daily_cap` a UTC day (counted in the resume file), so a backfill leaves the stack's DailyImageBudget
  room for live uploads.
- Resumable: after each batch is sent, the resume file records the position reached (the last key of a
  listing, or the file and row of an inventory) and the day's count; a run started again continues from
  there. An interruption between a send and that write sends at most one batch again, which the pipeline
  takes as duplicates.

Identity of a backfilled object: in a versioned bucket its version id, exactly as S3's own events, so a
real event for the same write (one still waiting in a queue) is the same record. In an unversioned
bucket S3's sequencer is not known from a listing: the message carries the ETag and, as the event
time, the object's LastModified, so the record id is the same at every run of the backfill; a real
event of the same write would carry a sequencer and get a record of its own. Run a backfill of an
unversioned bucket once the scan queue has drained (`greenlight setup` first, then wait for the
backlog), so that no real event of the same writes is still on its way.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from greenlight.domain.record import VerdictRecord
from greenlight.scanning.spend import utc_day
from greenlight_cli.ops.ports import Listed, Operations, Storage
from greenlight_cli.stack import CliError
from greenlight_cli.targets import parse_uri

# Green's list price the README's "Production checklist" (5. Spend) uses: USD per 1,000 image-scenes
# (tier A, definite results; the real price depends on the region and volume tier).
PRICE_PER_1000_IMAGE_SCENES = 1.00
BATCH = 10  # SQS takes up to 10 messages a request


def estimated_cost(images: int, scenes: int) -> float:
    return images * scenes * PRICE_PER_1000_IMAGE_SCENES / 1000


def message_for(listed: Listed, region: str) -> str:
    """An S3 event notification (ObjectCreated) for one object, as S3 writes one: its key URL-encoded, its
    version id in a versioned bucket; no sequencer (only S3 knows it)."""
    obj: dict[str, Any] = {"key": quote_plus(listed.key, safe="/"), "size": listed.size or 0,
                           "eTag": listed.etag or ""}
    if listed.version_id:
        obj["versionId"] = listed.version_id
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": listed.last_modified,
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "greenlight-backfill"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "greenlight-backfill",
               "bucket": {"name": listed.bucket, "arn": f"arn:aws:s3:::{listed.bucket}"}, "object": obj},
    }]}, separators=(",", ":"))


# -- where the objects come from -------------------------------------------------------------------


Position = dict[str, Any]


class Listing:
    """The bucket's current objects under a prefix, in key order; position: the last key handled."""

    def __init__(self, storage: Storage, bucket: str, prefix: str) -> None:
        self.storage, self.bucket, self.prefix = storage, bucket, prefix

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def objects(self, position: Position) -> Iterator[tuple[Position, Listed | None]]:
        for listed in self.storage.current_objects(self.bucket, prefix=self.prefix, after=position.get("after")):
            yield {"after": listed.key}, listed


class Inventory:
    """An S3 Inventory report: manifest.json and its CSV files (gzipped or not), in the manifest's order;
    position: the file and the row within it handled last."""

    def __init__(self, storage: Storage, manifest_uri: str, bucket: str) -> None:
        self.storage, self.manifest_uri, self.bucket = storage, manifest_uri, bucket
        target = parse_uri(manifest_uri)
        self._manifest_bucket, self._manifest_key = target.bucket, target.key

    @property
    def name(self) -> str:
        return self.manifest_uri

    def manifest(self) -> tuple[str, list[str], list[str]]:
        """(the bucket the files are in, the columns, the files' keys)."""
        try:
            manifest = json.loads(self.storage.read(self._manifest_bucket, self._manifest_key))
        except ValueError as exc:
            raise CliError(f"{self.manifest_uri} is not an S3 Inventory manifest (not JSON)") from exc
        if not isinstance(manifest, dict) or "files" not in manifest or "fileSchema" not in manifest:
            raise CliError(f"{self.manifest_uri} is not an S3 Inventory manifest (no files or fileSchema)")
        if str(manifest.get("fileFormat", "CSV")).upper() != "CSV":
            raise CliError(f"{self.manifest_uri} lists {manifest.get('fileFormat')} files: only CSV inventories are "
                           "read (choose CSV in the inventory configuration)")
        source = str(manifest.get("sourceBucket", self.bucket))
        if source != self.bucket:
            raise CliError(f"{self.manifest_uri} is an inventory of s3://{source}; the stack moderates "
                           f"s3://{self.bucket}")
        destination = str(manifest.get("destinationBucket") or self._manifest_bucket).rsplit(":", 1)[-1]
        columns = [c.strip() for c in str(manifest["fileSchema"]).split(",")]
        if "Key" not in columns:
            raise CliError(f"{self.manifest_uri}: its fileSchema has no Key column")
        return destination, columns, [str(f["key"]) for f in manifest["files"]]

    def objects(self, position: Position) -> Iterator[tuple[Position, Listed | None]]:
        """Each row from after `position`: its object, or None for a row that is not a current object."""
        destination, columns, files = self.manifest()
        first_file, after_row = int(position.get("file", 0)), int(position.get("row", -1))
        for index in range(first_file, len(files)):
            raw = self.storage.read(destination, files[index])
            text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
            for row_number, row in enumerate(csv.reader(io.StringIO(text))):
                if index == first_file and row_number <= after_row:
                    continue
                yield {"file": index, "row": row_number}, self._listed(dict(zip(columns, row, strict=False)))

    def _listed(self, row: Mapping[str, str]) -> Listed | None:
        """A row's object: its latest version only (no older versions, no delete markers)."""
        if row.get("IsLatest", "true").lower() != "true" or row.get("IsDeleteMarker", "false").lower() == "true":
            return None
        size = row.get("Size", "")
        return Listed(bucket=row.get("Bucket") or self.bucket, key=unquote_plus(row["Key"]),
                      size=int(size) if size.isdigit() else None, etag=row.get("ETag", "").strip('"') or None,
                      version_id=row.get("VersionId") or None, last_modified=row.get("LastModifiedDate") or None)


Source = Listing | Inventory


# -- the resume file -------------------------------------------------------------------------------


@dataclass
class ResumeState:
    """Where a backfill is, and what it sent each UTC day (the resume file, JSON)."""

    source: str
    position: Position = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)  # UTC date -> objects sent that day
    sent: int = 0
    skipped: int = 0
    finished: bool = False

    @classmethod
    def load(cls, path: Path, source: str) -> ResumeState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(source)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read the resume file {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("source") != source:
            found = data.get("source") if isinstance(data, dict) else None
            raise CliError(f"the resume file {path} is for a backfill of {found}, not {source}: name another "
                           "with --resume-file, or delete it to start over")
        days = {str(k): int(v) for k, v in (data.get("days") or {}).items()}
        return cls(source, dict(data.get("position") or {}), days, int(data.get("sent", 0)),
                   int(data.get("skipped", 0)), bool(data.get("finished", False)))

    def save(self, path: Path) -> None:
        """Replaced whole, so an interruption leaves the old file or the new one."""
        data = {"source": self.source, "position": self.position, "days": self.days, "sent": self.sent,
                "skipped": self.skipped, "finished": self.finished}
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        os.replace(temporary, path)


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Summary:
    eligible: int = 0  # to send (a dry run) or sent (a run)
    skipped_recorded: int = 0  # a verdict record exists for the version
    skipped_filtered: int = 0  # outside the stack's key filter, or a folder marker
    stopped_by_cap: bool = False
    sent_today: int = 0


class Backfill:
    def __init__(self, ops: Operations, source: Source, *, daily_cap: int, pace: Callable[[int], None],
                 clock: Callable[[], float], progress: Callable[[Summary], None]) -> None:
        self.ops = ops
        self.source = source
        self.daily_cap = daily_cap
        self.pace = pace
        self.clock = clock
        self.progress = progress
        self.prefix = ops.parameters.get("KeyPrefix", "")
        self.suffix = ops.parameters.get("KeySuffix", "")

    def candidates(self, position: Position, summary: Summary) -> Iterator[tuple[Position, Listed | None]]:
        """Each object from `position` on, or None (with its position) for one that is not sent."""
        for where, listed in self.source.objects(position):
            if listed is None or (listed.key.endswith("/") and not listed.size) or not self._moderated(listed.key):
                summary.skipped_filtered += 1
                yield where, None
            elif self._recorded(listed):
                summary.skipped_recorded += 1
                yield where, None
            else:
                yield where, listed

    def count(self, state: ResumeState) -> Summary:
        """A dry run: what a run would send from where the resume file is, sending nothing."""
        summary = Summary(sent_today=state.days.get(utc_day(self.clock()), 0))
        for _, listed in self.candidates(state.position, summary):
            if listed is not None:
                summary.eligible += 1
            self.progress(summary)
        return summary

    def run(self, state: ResumeState, resume_file: Path) -> Summary:
        """Send from where the resume file is until the source ends (finished) or today's cap is reached."""
        summary = Summary(sent_today=state.days.get(utc_day(self.clock()), 0))
        batch: list[tuple[Position, Listed]] = []
        last_seen = state.position
        exhausted = True
        for where, listed in self.candidates(state.position, summary):
            last_seen = where
            if listed is None:
                state.skipped += 1
                if not batch:  # nothing unsent before it: a restart may begin after it
                    state.position = where
            elif summary.sent_today + len(batch) >= self.daily_cap:
                summary.stopped_by_cap = True
                exhausted = False
                break
            else:
                batch.append((where, listed))
                if len(batch) == BATCH:
                    self._send(batch, state, summary, resume_file)
                    batch = []
            self.progress(summary)
        if batch:
            self._send(batch, state, summary, resume_file)
        if exhausted:
            state.position = last_seen
            state.finished = True
        state.save(resume_file)
        return summary

    def _send(self, batch: Sequence[tuple[Position, Listed]], state: ResumeState, summary: Summary,
              resume_file: Path) -> None:
        self.pace(len(batch))
        self.ops.queues.send(self.ops.output("QueueUrl"), [message_for(listed, self.ops.region) for _, listed in batch])
        day = utc_day(self.clock())
        state.days[day] = state.days.get(day, 0) + len(batch)
        state.sent += len(batch)
        state.position = batch[-1][0]
        state.save(resume_file)
        summary.eligible += len(batch)
        summary.sent_today = state.days[day]
        self.progress(summary)

    def _moderated(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)

    def _recorded(self, listed: Listed) -> bool:
        """Whether the pipeline has this version already (it was announced, backfilled, or is being scanned)."""
        records: list[VerdictRecord] = self.ops.reviews.versions_of(listed.bucket, listed.key)
        if listed.version_id and listed.version_id != "null":
            return any(r.version_id == listed.version_id for r in records)
        return any(r.etag == listed.etag for r in records if listed.etag)
