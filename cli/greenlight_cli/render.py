"""Verdict records for a person (Rich tables) and for a program (JSON).

Every value from a record goes into a table as plain `Text`: keys, reasons and ARNs are never read as
Rich markup.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_cli.targets import version_label

NONE = "-"
UNSCANNED = (State.SKIPPED, State.ERROR, State.SUPERSEDED)
HIDDEN = ("lease_token",)  # a submitter's lease: nothing a person or a program outside needs


def console() -> Console:
    """stdout as it is now (a test's runner swaps it); no colour or highlighting unless a terminal."""
    return Console(highlight=False)


# -- JSON ------------------------------------------------------------------------------------------


def record_json(record: VerdictRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    for name in HIDDEN:
        data.pop(name, None)
    data["state"] = record.state.value
    data["task_ids"] = sorted(record.task_ids)
    data["override_ids"] = sorted(record.override_ids)
    data["s3_uri"] = f"s3://{record.bucket}/{record.key}"
    return data


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


# -- one-line summaries -----------------------------------------------------------------------------


def decision_text(record: VerdictRecord) -> str:
    if not record.decision:
        return NONE
    return record.decision + (" (shadow)" if record.decision_mode == "shadow" else "")


def actions_text(record: VerdictRecord) -> str:
    """What was done about the current decision (or that it is still to be done)."""
    parts: list[str] = []
    if record.decision and record.enforcement.get("decision_rev") != record.decision_rev:
        parts.append("enforcement pending")
    elif record.enforcement:
        parts.extend(str(action) for action in record.enforcement.get("actions") or ())
    if record.quarantine:
        parts.append(f"in quarantine: {quarantine_uri(record.quarantine)}")
    return "; ".join(parts) or NONE


def quarantine_uri(quarantine: Mapping[str, Any]) -> str:
    version = f" (version {quarantine['version_id']})" if quarantine.get("version_id") else ""
    return f"s3://{quarantine.get('bucket')}/{quarantine.get('key')}{version}"


def why_queued(record: VerdictRecord) -> str:
    """What put a record in the review queue: the policy's reasons, or the failure that left it unscanned."""
    if record.state in UNSCANNED:
        return f"{record.state.value} {record.reason or ''}".strip()
    return "; ".join(record.decision_reasons) or NONE


def scenes_summary(scenes: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(f"{name}/{scene.get('label', '?')} {_rate(scene.get('rate'))}" for name, scene in scenes.items()) \
        or NONE


def _rate(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _text(value: Any) -> Text:
    return Text(NONE if value is None or value == "" else str(value))


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(*columns, title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in table.columns:
        column.overflow = "fold"
    return table


# -- greenlight verdict ---------------------------------------------------------------------------


def versions_table(records: Sequence[VerdictRecord], chosen: VerdictRecord) -> Table:
    uri = f"s3://{chosen.bucket}/{chosen.key}"
    table = _table("", "version", "state", "decision", "policy", "source", "decided at", "actions",
                   title=f"{uri}: {len(records)} version{'s' * (len(records) != 1)}, newest first")
    for record in records:
        table.add_row(Text("*" if record.id == chosen.id else ""), _text(version_label(record)),
                      _text(record.state.value), _text(decision_text(record)), _text(record.policy_version),
                      _text(record.source), _text(record.decided_at), _text(actions_text(record)))
    return table


def details(record: VerdictRecord) -> RenderableType:
    """One version in full: the verdict, the decision and why, what was done, the override and its feedback."""
    parts: list[RenderableType] = [_fields(f"version {version_label(record)}", _summary(record))]
    if record.scenes:
        scenes = _table("scene", "label", "suggestion", "rate", title="scenes")
        for name, scene in record.scenes.items():
            scenes.add_row(_text(name), _text(scene.get("label")), _text(scene.get("suggestion")),
                           _text(_rate(scene.get("rate"))))
        parts.append(scenes)
    if record.override:
        parts.append(_fields("override", _override(record.override)))
    if record.decision:
        parts.append(_fields("enforcement", _enforcement(record)))
    if record.override:
        parts.append(_fields("feedback to Green", _feedback(record)))
    parts.append(_history(record))
    return Group(*parts)


def _summary(record: VerdictRecord) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("record", record.id), ("object", f"s3://{record.bucket}/{record.key}"),
        ("version id", record.version_id), ("etag", record.etag), ("size", record.size),
        ("type", record.content_type or record.image_format),
        ("state", f"{record.state.value} ({record.reason})" if record.reason else record.state.value),
        ("source", record.source), ("Green suggests", record.suggestion),
        ("decision", decision_text(record)), ("policy", record.policy_version), ("decided at", record.decided_at),
    ]
    rows += [("because", reason) for reason in record.decision_reasons]
    rows += [("created at", record.created_at), ("updated at", record.updated_at)]
    return rows


def _override(override: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [("by", override.get("by")), ("at", override.get("at")), ("why", override.get("reason")),
            ("decision", f"{override.get('previous_decision') or NONE} ({override.get('previous_state')}) -> "
                         f"{override.get('decision')}"),
            ("request", override.get("request_id"))]


def _enforcement(record: VerdictRecord) -> list[tuple[str, Any]]:
    enforcement = record.enforcement
    if enforcement.get("decision_rev") != record.decision_rev:
        done = f"for an earlier decision ({enforcement.get('decision')})" if enforcement else "nothing yet"
        rows: list[tuple[str, Any]] = [("status", f"pending: the enforce function acts on it shortly ({done})")]
    else:
        mode = "enforced" if enforcement.get("enforced") else "shadow: recorded, not carried out"
        rows = [("status", f"{enforcement.get('decision')} ({mode}) at {enforcement.get('at')}")]
        rows += [("action", action) for action in enforcement.get("actions") or ()]
    if record.quarantine:
        rows.append(("quarantine", quarantine_uri(record.quarantine)))
    return rows


def _feedback(record: VerdictRecord) -> list[tuple[str, Any]]:
    feedback = record.feedback
    if feedback.get("decision_rev") != record.decision_rev:
        return [("status", "pending: sent by the enforce function after it acts")]
    sent = "sent" if feedback.get("sent") else "not sent"
    attempt = f"attempt {feedback.get('attempts')}, at {feedback.get('at')}"
    return [("status", f"{feedback.get('status')} ({sent}, {attempt})")]


def _history(record: VerdictRecord) -> Table:
    folded = f" ({record.history_folded} older entries folded)" if record.history_folded else ""
    table = _table("at", "change", "by", "detail", title=f"history{folded}")
    for entry in record.history:
        change = entry.get("to") or entry.get("action")
        detail = entry.get("reason") or entry.get("detail") or (f"task {entry['task']}" if entry.get("task") else None)
        table.add_row(_text(entry.get("at")), _text(change), _text(entry.get("by")), _text(detail))
    return table


def _fields(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    grid = _table("", "", title=title)
    grid.show_header = False
    for name, value in rows:
        if value is not None and value != "":
            grid.add_row(Text(name, style="bold"), _text(value))
    return grid


# -- greenlight review list -----------------------------------------------------------------------


def queue_table(records: Sequence[VerdictRecord]) -> Table:
    table = _table("record", "object", "version", "in queue since", "why", "scenes",
                   title=f"review queue: {len(records)} shown, oldest first")
    for record in records:
        table.add_row(_text(record.id), _text(f"s3://{record.bucket}/{record.key}"), _text(record.version_id),
                      _text(record.decided_at), _text(why_queued(record)), _text(scenes_summary(record.scenes)))
    return table


# -- greenlight setup, rescan, redrive, backfill --------------------------------------------------------

STEP_MARKS = {"done": ("✓", "green"), "already done": ("✓", "dim"), "failed": ("✗", "red")}


def step_line(name: str, status: str, detail: str) -> Text:
    """One step of `greenlight setup`: what it is, done / already done / failed, and what that means."""
    mark, style = STEP_MARKS.get(status, ("-", ""))
    return Text.assemble((f"{mark} ", style), (f"{name:<8} ", "bold"), (f"{status:<13} ", style), detail)


def records_table(records: Sequence[VerdictRecord], title: str) -> Table:
    table = _table("record", "object", "version", "state", "reason", "updated at", title=title)
    for record in records:
        table.add_row(_text(record.id), _text(f"s3://{record.bucket}/{record.key}"), _text(version_label(record)),
                      _text(record.state.value), _text(record.reason), _text(record.updated_at))
    return table


def progress(out: Console, *, total: float | None = None) -> Progress:
    """A progress display on a terminal (nothing when the output is a file or a pipe: the summary line says it)."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn() if total else TextColumn(""),
               MofNCompleteColumn() if total else TextColumn("{task.completed:.0f}"), TimeElapsedColumn()]
    return Progress(*columns, console=out, transient=True, disable=not out.is_terminal)


def money(amount: float) -> str:
    """Dollars: cents, or three significant digits below a dime (a handful of images costs a fraction of a cent)."""
    return f"${amount:,.2f}" if amount == 0 or amount >= 0.1 else f"${amount:.3g}"
