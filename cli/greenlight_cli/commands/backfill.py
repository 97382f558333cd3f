"""`greenlight backfill [--prefix P | --inventory s3://bucket/manifest.json]`: announce the objects already in
the bucket to the scan queue, resumable, under a daily cap and a rate limit (greenlight_cli.ops.backfill)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from greenlight.green.pacing import TokenBucket
from greenlight.scanning.spend import utc_day
from greenlight_cli import render
from greenlight_cli.ops.backfill import (
    PRICE_PER_1000_IMAGE_SCENES,
    Backfill,
    Inventory,
    Listing,
    ResumeState,
    Summary,
    estimated_cost,
)
from greenlight_cli.session import operations
from greenlight_cli.stack import CliError
from greenlight_cli.targets import parse_uri

clock = time.time  # what days are counted by (UTC); a test moves it

def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)


def backfill(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Option("--prefix", help="Only objects under this prefix of the stack's bucket")] = "",
    inventory: Annotated[str | None, typer.Option(
        "--inventory", help="Read the objects from an S3 Inventory report (CSV) of the bucket instead of listing "
                            "it: s3://bucket/path/manifest.json")] = None,
    daily_cap: Annotated[int, typer.Option(
        "--daily-cap", min=1, help="At most this many objects a UTC day (leave the stack's DailyImageBudget room "
                                   "for live uploads)")] = 1000,
    rate: Annotated[float, typer.Option("--rate", min=0.1, max=1000, help="At most this many objects a second")
                    ] = 10.0,
    resume_file: Annotated[Path | None, typer.Option(
        "--resume-file", dir_okay=False, help="Where the backfill records how far it got and what it sent each day "
                                              "(default: greenlight-backfill-STACK.json here)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would be sent and estimate Green's cost; send nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before sending")] = False,
) -> None:
    """Scan the objects already in the bucket: each current object without a verdict is announced to the scan
    queue as S3 would announce an upload, at most --rate a second and --daily-cap a day. Stopped (Ctrl-C, an
    error, the cap), the same command continues where it stopped."""
    if prefix and inventory:
        raise CliError("--prefix and --inventory are two ways to name the objects: give one")
    if inventory is not None:
        parse_uri(inventory)  # checked before anything is asked of AWS
    ops = operations(ctx)
    source = Inventory(ops.storage, inventory, ops.bucket) if inventory else Listing(ops.storage, ops.bucket, prefix)
    path = resume_file or Path(f"greenlight-backfill-{ops.name}.json")
    state = ResumeState.load(path, source.name)
    out = render.console()
    if state.finished:
        out.print(f"already done: {state.sent} objects of {source.name} were sent ({path}; delete it to start over)",
                  soft_wrap=True, markup=False)
        return
    scenes = len(ops.scenes)
    with render.progress(out) as bar:
        task = bar.add_task("backfill", total=None)

        def progress(summary: Summary) -> None:
            skipped = summary.skipped_recorded + summary.skipped_filtered
            bar.update(task, completed=summary.eligible,
                       description=f"{'to send' if dry_run else 'sent'} {summary.eligible}, skipped {skipped}, "
                                   f"today {summary.sent_today}/{daily_cap}")

        pace = TokenBucket(rate, burst=min(rate, 10.0)).acquire
        run = Backfill(ops, source, daily_cap=daily_cap, pace=lambda n: pace(n), clock=lambda: clock(),
                       progress=progress)
        if dry_run:
            summary = run.count(state)
        else:
            today_left = max(0, daily_cap - state.days.get(utc_day(clock()), 0))
            _confirm(yes, f"Send up to {today_left} objects of {source.name} to the scan queue today "
                          f"(at most {render.money(estimated_cost(today_left, scenes))} at Green's list price)?")
            try:
                summary = run.run(state, path)
            except Exception:
                bar.stop()
                out.print(f"stopped after {state.sent} sent in all: run the same command again to continue ({path})",
                          soft_wrap=True, markup=False)
                raise
    skipped = (f"{summary.skipped_recorded} already with a verdict, {summary.skipped_filtered} outside the key filter "
               "or not current objects")
    if dry_run:
        cost = estimated_cost(summary.eligible, scenes)
        left_today = max(0, daily_cap - summary.sent_today)
        days = 0 if not summary.eligible else (1 if summary.eligible <= left_today else
                                               1 + math.ceil((summary.eligible - left_today) / daily_cap))
        out.print(f"dry run: {summary.eligible} objects of {source.name} would be sent ({skipped}); estimated Green "
                  f"cost {render.money(cost)} ({summary.eligible} images x {scenes} scenes at "
                  f"${PRICE_PER_1000_IMAGE_SCENES:.2f} per 1,000 image-scenes, README 'Spend'); {days} "
                  f"day{'s' * (days != 1)} at --daily-cap {daily_cap}; nothing sent", soft_wrap=True, markup=False)
        return
    line = f"sent {summary.eligible} objects ({skipped}); today {summary.sent_today} of {daily_cap}"
    if summary.stopped_by_cap:
        line += f"; daily cap reached: run it again after midnight UTC to continue ({path})"
    else:
        line += f"; done: every object of {source.name} was sent ({state.sent} in all)"
    out.print(line, soft_wrap=True, markup=False)


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError("sending needs --yes (or a terminal to confirm it); --dry-run shows what would be sent")
    typer.confirm(question, abort=True)
