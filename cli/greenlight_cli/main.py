"""greenlight: find verdicts, work through the review queue and override decisions, and run the stack (set it
up, rescan, redrive the dead-letter queues, backfill what was in the bucket before), on a deployed stack (found
by name, with your AWS credentials) or on the local one (--local).

Errors are one line on stderr; exit 1: refused or not found, 2: usage or set-up (stack, credentials,
permissions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from greenlight_cli.commands import backfill, override, redrive, rescan, review, setup, verdict
from greenlight_cli.errors import GreenlightGroup
from greenlight_cli.session import DEFAULT_STACK, Options, invocation

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, cls=GreenlightGroup,
                  rich_markup_mode="markdown")

GROUPS = (verdict, review, override, setup, rescan, redrive, backfill)  # each module registers its commands
for group in GROUPS:
    group.register(app)


@app.callback()
def options(
    ctx: typer.Context,
    stack: Annotated[str, typer.Option("--stack", envvar="AWS_SAM_STACK_NAME",
                                       help="The deployed stack's name (its outputs locate everything)")
                     ] = DEFAULT_STACK,
    region: Annotated[str | None, typer.Option("--region", help="AWS region (default: your configuration's)")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE)")] = None,
    local: Annotated[bool, typer.Option("--local", help="Use the local stack (make review-demo) instead")] = False,
    state_file: Annotated[Path | None, typer.Option(
        "--state-file", dir_okay=False, help="The local stack's state file (implies --local; default "
                                             ".local/run/state.json)")] = None,
) -> None:
    invocation(ctx).options = Options(stack=stack, region=region, profile=profile, local=local, state_file=state_file)


def main() -> None:
    app()
