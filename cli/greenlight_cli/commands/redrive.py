"""`greenlight redrive [--queue scan|events|enforcement|all]`: messages out of the dead-letter queues and
back to where they are worked on (greenlight_cli.ops.redrive)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import Progress, TaskID

from greenlight_cli import render
from greenlight_cli.ops.redrive import ROUTES, Moved, Redrive, Source
from greenlight_cli.session import operations


class QueueChoice(StrEnum):
    SCAN = "scan"
    EVENTS = "events"
    ENFORCEMENT = "enforcement"
    ALL = "all"


def register(app: typer.Typer) -> None:
    app.command("redrive")(redrive)


def redrive(
    ctx: typer.Context,
    queue: Annotated[QueueChoice, typer.Option(
        "--queue", case_sensitive=False,
        help="scan: the scan queue's DLQ; events: S3 events EventBridge could not deliver; enforcement: decisions "
             "whose enforcement kept failing; all: the three")] = QueueChoice.ALL,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what each DLQ holds, without taking anything out")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many messages from each DLQ")] = 10_000,
) -> None:
    """Move messages from the dead-letter queues back: the scan DLQ's and the event delivery DLQ's to the scan
    queue, the enforcement DLQ's to the enforcement retry queue (a failed stream batch becomes one retry per
    decision in it not yet enforced). Each message is deleted only once its work is sent."""
    ops = operations(ctx)
    out = render.console()
    sources = list(Source) if queue is QueueChoice.ALL else [Source(queue.value)]
    for source in sources:
        with render.progress(out) as bar:
            task = bar.add_task(ROUTES[source].what, total=None)

            def advance(count: int, task: TaskID = task, bar: Progress = bar) -> None:
                bar.advance(task, count)

            moved = Redrive(ops, limit=limit, progress=advance).run(ROUTES[source], dry_run=dry_run)
        out.print(summary(moved, dry_run=dry_run), soft_wrap=True, markup=False)


def summary(moved: Moved, *, dry_run: bool) -> str:
    head = f"{moved.route.what}: "
    if not moved.messages and not moved.left:
        return head + "nothing to move"
    parts: list[str] = []
    if moved.route.source is Source.ENFORCEMENT:
        if moved.retries:
            parts.append(f"{moved.retries} retr{'ies' if moved.retries != 1 else 'y'} "
                         + ("to move back" if dry_run else "moved back"))
        if moved.batches:
            batches = f"{moved.batches} failed stream batch{'es' * (moved.batches != 1)}"
            if dry_run:
                parts.append(f"{batches} (each becomes a retry per decision not yet enforced)")
            else:
                decisions = len(moved.record_ids)
                how = ("found by a Scan of the table: the stream no longer held some batches" if moved.from_scan
                       else "read from the stream")
                parts.append(f"{batches}: {decisions} decision{'s' * (decisions != 1)} to enforce sent ({how})")
    else:
        count = moved.messages
        parts.append(f"{count} message{'s' * (count != 1)} " + ("would be moved" if dry_run else "moved"))
    if moved.left:
        parts.append(f"{moved.left} left in the DLQ (not greenlight's)")
    return head + "; ".join(parts)
