"""`greenlight rescan s3://bucket/key | --prefix P | --state ERROR|SKIPPED`: scan again versions that were
not scanned (greenlight_cli.ops.rescan): each is reopened and the poller submits it within a run."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from greenlight.domain.states import REOPENABLE, State
from greenlight_cli import render
from greenlight_cli.errors import REFUSED
from greenlight_cli.ops import rescan as finding
from greenlight_cli.ops.backfill import estimated_cost
from greenlight_cli.session import operations, stack
from greenlight_cli.stack import CliError
from greenlight_cli.targets import parse_uri


class Unscanned(StrEnum):
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


class NothingReopened(CliError):
    exit_code = REFUSED


def register(app: typer.Typer) -> None:
    app.command("rescan")(rescan)


def rescan(
    ctx: typer.Context,
    s3_uri: Annotated[str | None, typer.Argument(
        show_default=False, help="One object: s3://bucket/key (its newest version; ?versionId=V names another)")
                      ] = None,
    prefix: Annotated[str | None, typer.Option(
        "--prefix", help="Every object under this prefix of the stack's bucket (their current versions)")] = None,
    states: Annotated[list[Unscanned] | None, typer.Option(
        "--state", case_sensitive=False,
        help="Every version in this state (repeat for both; a full Scan of the verdict table, billed per item "
             "read). With --prefix: only these states there (default: both)")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in each record's history)")
                      ] = "rescan requested",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be reopened; change nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before reopening more than one")] = False,
) -> None:
    """Scan again versions that were not scanned (ERROR or SKIPPED): each goes back to RECEIVED and the poller
    submits it within a run, as it recovers a stranded upload. Green bills each scan."""
    wanted = {State(s.value) for s in states or ()} or set(REOPENABLE)
    if sum((s3_uri is not None, prefix is not None, bool(states) and prefix is None)) != 1:
        raise CliError("name what to rescan: s3://bucket/key, or --prefix P, or --state ERROR|SKIPPED")
    uri = parse_uri(s3_uri) if s3_uri is not None else None  # checked before anything is asked of AWS
    ops = operations(ctx)
    out = render.console()
    with render.progress(out) as bar:
        task = bar.add_task("finding versions", total=None)
        if uri is not None:
            records = finding.of_object(stack(ctx), uri)
        elif prefix is not None:
            records = finding.under_prefix(ops, prefix, wanted, lambda n: bar.advance(task, n))
        else:
            records = finding.in_states(ops, wanted, lambda n: bar.advance(task, n))
    where = str(uri) if uri else (f"s3://{ops.bucket}/{prefix}" if prefix is not None else "the verdict table")
    states_text = " or ".join(sorted(wanted))
    if not records:
        out.print(f"nothing to rescan: no {states_text} version in {where}", soft_wrap=True, markup=False)
        return
    count = len(records)
    cost = estimated_cost(count, len(ops.scenes))
    plural = "s" * (count != 1)
    out.print(render.records_table(records, f"{'would reopen' if dry_run else 'reopening'} {count} version{plural}"))
    if dry_run:
        out.print(f"dry run: {count} version{plural} would be scanned again (about {render.money(cost)} at Green's "
                  "list price); nothing changed", soft_wrap=True, markup=False)
        return
    if count > 1 and not yes:
        if not sys.stdin.isatty():
            raise CliError(f"reopening {count} versions needs --yes (or a terminal to confirm it)")
        typer.confirm(f"Scan these {count} versions again (about {render.money(cost)})?", abort=True)
    actor = ops.caller()
    with render.progress(out, total=count) as bar:
        task = bar.add_task("reopening", total=count)
        done = finding.reopen(ops, records, actor=actor, reason=reason, progress=lambda n: bar.advance(task, n))
    if done.changed:
        out.print(f"{len(done.changed)} changed since they were read and were left alone (run the command again to "
                  "see them as they are now)", soft_wrap=True, markup=False)
    if not done.reopened:
        raise NothingReopened("nothing reopened: every version changed meanwhile")
    first = done.reopened[0]
    out.print(f"reopened {len(done.reopened)} version{'s' * (len(done.reopened) != 1)} by {actor}: the poller "
              f"submits them within a run (follow one: greenlight verdict 's3://{first.bucket}/{first.key}')",
              soft_wrap=True, markup=False)
