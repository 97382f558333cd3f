"""`greenlight rescan`: a person's second try at versions that were not scanned (ERROR, SKIPPED).

Each record is reopened (greenlight.ports.ReviewStore.reopen): RECEIVED, nothing counted, due now in the
`pending` index, so the poller takes it over within a run as it recovers a stranded record, and it is
inspected, sent to Green and decided again. The records are found:
- one object: its newest version (or the one named by ?versionId=), by the lookup index;
- a prefix: the bucket's current objects under it, each one's record of its current version;
- a state: a full Scan of the verdict table (rare and operator-run: DynamoDB bills the data it reads,
  whatever the filter keeps: 0.5 read units per 4 KB, eventually consistent).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import REOPENABLE, State
from greenlight_cli.errors import NotFound
from greenlight_cli.ops.ports import Listed, Operations
from greenlight_cli.session import Stack
from greenlight_cli.targets import ObjectUri, choose, version_label, versions

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Rescanned:
    reopened: list[VerdictRecord]
    changed: list[VerdictRecord]  # changed since they were read: left alone


def of_object(target: Stack, uri: ObjectUri) -> list[VerdictRecord]:
    """The version named (the newest without ?versionId=), if it was not scanned."""
    record = choose(versions(target, uri), uri, None)
    if record.state not in REOPENABLE:
        raise NotFound(f"{uri} (version {version_label(record)}) is {record.state.value}: only ERROR and SKIPPED "
                       "versions are rescanned (a decision is changed with `greenlight override`)")
    return [record]


def under_prefix(ops: Operations, prefix: str, states: Collection[State], progress: Progress) -> list[VerdictRecord]:
    """The current version of every object under `prefix`, when its record is in `states`."""
    found: list[VerdictRecord] = []
    for listed in ops.storage.current_objects(ops.bucket, prefix=prefix):
        progress(1)
        for record in ops.reviews.versions_of(listed.bucket, listed.key):
            if record.state in states and _is_current(record, listed):
                found.append(record)
    return found


def in_states(ops: Operations, states: Collection[State], progress: Progress) -> list[VerdictRecord]:
    return sorted(ops.reviews.scan(states=states, on_page=progress), key=lambda r: (r.bucket, r.key, r.id))


def reopen(ops: Operations, records: list[VerdictRecord], *, actor: str, reason: str,
           progress: Progress) -> Rescanned:
    reopened: list[VerdictRecord] = []
    changed: list[VerdictRecord] = []
    for record in records:
        (reopened if ops.reviews.reopen(record, actor=actor, reason=reason) else changed).append(record)
        progress(1)
    return Rescanned(reopened, changed)


def _is_current(record: VerdictRecord, listed: Listed) -> bool:
    if listed.version_id and listed.version_id != "null":
        return record.version_id == listed.version_id
    return bool(listed.etag) and record.etag == listed.etag

