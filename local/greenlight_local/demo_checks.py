"""What the demo uploads, what each sample must end as, and how the outcome is checked and shown."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from green_emulator import make_image
from greenlight.domain.inspection import sniff_image
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_local.readback import DECISION_TAG, ObjectState


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    content_type: str
    state: State
    suggestion: str | None = None
    reason: str | None = None
    decision: str | None = None  # what the stack's initial policy makes of it


def builtin_samples() -> list[Sample]:
    block = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.6}]
    review = [{"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 81.2}]
    return [
        Sample("uploads/clean.png", make_image(seed=1), "image/png", State.FINAL, "pass", decision="pass"),
        Sample("uploads/blocked.jpg", make_image(block, fmt="JPEG", seed=2), "image/jpeg", State.FINAL, "block",
               decision="block"),
        Sample("uploads/review.png", make_image(review, seed=3), "image/png", State.FINAL, "review",
               decision="review"),
        Sample("uploads/holiday photos/plage été ☀️ 1.png", make_image(seed=4), "image/png", State.FINAL, "pass",
               decision="pass"),
        Sample("uploads/notes.txt", b"not an image at all\n", "text/plain", State.SKIPPED, reason="not_an_image",
               decision="pass"),
        Sample("uploads/disguised.jpg", b"<html>a page named like a photo</html>", "image/jpeg", State.SKIPPED,
               reason="not_an_image", decision="pass"),
        Sample("uploads/empty.png", b"", "image/png", State.SKIPPED, reason="zero_bytes", decision="pass"),
    ]


def folder_samples(folder: Path) -> list[Sample]:
    samples = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        body = path.read_bytes()
        is_image = bool(body) and sniff_image(body[:32]) is not None
        samples.append(Sample(
            key=path.relative_to(folder).as_posix(),
            body=body,
            content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            state=State.FINAL if is_image else State.SKIPPED,
        ))
    return samples


def verdict_table(records: list[VerdictRecord], objects: Mapping[str, ObjectState],
                  events: Mapping[str, int]) -> str:
    rows = [("KEY", "STATE", "SUGGESTION", "REASON", "DECISION", "POLICY", "ACTION", "OBJECT NOW", "EVENTS")]
    for record in sorted(records, key=lambda r: r.key):
        actions = "; ".join(a.split(" to s3://")[0] for a in record.enforcement.get("actions") or []) or "-"
        rows.append((record.key, record.state.value, record.suggestion or "-", record.reason or "-",
                     record.decision or "-", record.policy_version or "-", actions,
                     describe(objects.get(record.id)), str(events.get(record.id, 0))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def mismatches(samples: list[Sample], records: list[VerdictRecord]) -> list[str]:
    by_key = {r.key: r for r in records}
    problems = []
    for sample in samples:
        record = by_key.get(sample.key)
        if record is None:
            problems.append(f"{sample.key}: no verdict record")
            continue
        if record.state is not sample.state:
            problems.append(f"{sample.key}: state {record.state.value}, expected {sample.state.value}"
                            + (f" ({record.reason})" if record.reason else ""))
        elif sample.suggestion and record.suggestion != sample.suggestion:
            problems.append(f"{sample.key}: suggestion {record.suggestion}, expected {sample.suggestion}")
        elif sample.reason and record.reason != sample.reason:
            problems.append(f"{sample.key}: reason {record.reason}, expected {sample.reason}")
    return problems


def describe(state: ObjectState | None) -> str:
    if state is None:
        return "-"
    where = "at its key" if state.at_key else ("in quarantine" if state.quarantined_at else "gone")
    tag = state.tags.get(DECISION_TAG)
    return f"{where}, tagged {tag}" if tag else f"{where}, untagged"


def enforcement_mismatches(samples: list[Sample], records: list[VerdictRecord], objects: Mapping[str, ObjectState],
                           events: Mapping[str, list[dict[str, object]]], *, mode: str) -> list[str]:
    """Decisions as expected, acted on (enforce) or not (shadow), and one event per decision."""
    by_key = {r.key: r for r in records}
    problems = []
    for sample in samples:
        record = by_key.get(sample.key)
        if record is None:
            continue  # reported by mismatches()
        expected = sample.decision or record.decision
        if record.decision != expected:
            problems.append(f"{sample.key}: decision {record.decision}, expected {expected}")
            continue
        state = objects.get(record.id)
        announced = events.get(record.id, [])
        if len(announced) != 1 or announced[0].get("decision") != record.decision:
            problems.append(f"{sample.key}: {len(announced)} verdict events, expected one saying {record.decision}")
        if state is None:
            problems.append(f"{sample.key}: the object could not be read back")
        elif mode == "shadow" and (not state.at_key or DECISION_TAG in state.tags):
            problems.append(f"{sample.key}: shadow mode changed the object ({describe(state)})")
        elif mode == "enforce" and record.decision == "block" and (state.at_key or not state.quarantined_at):
            problems.append(f"{sample.key}: blocked but {describe(state)}")
        elif mode == "enforce" and state.tags.get(DECISION_TAG) != record.decision:
            problems.append(f"{sample.key}: {describe(state)}, expected tagged {record.decision}")
    return problems
