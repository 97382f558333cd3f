"""`greenlight review list|approve|block`: the review queue and a person's answer to it."""

from __future__ import annotations

from typing import Annotated

import typer

from greenlight_cli import render
from greenlight_cli.commands.override import Reason, RequestId, Target, run_override
from greenlight_cli.session import stack
from greenlight_cli.stack import CliError, StackContext

app = typer.Typer(help="The review queue (every version whose decision is review, scanned or not, oldest first) "
                       "and a person's answer to it: approve (pass) or block.",
                  no_args_is_help=True, rich_markup_mode="markdown")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")


@app.command("list")
def list_queue(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, oldest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON")] = False,
) -> None:
    """The versions waiting for a person, oldest first, with what put each there."""
    records = stack(ctx).reviews.review_queue(limit=limit)
    if as_json:
        typer.echo(render.dumps([{**render.record_json(r), "why": render.why_queued(r)} for r in records]))
        return
    if not records:
        typer.echo("the review queue is empty")
        return
    render.console().print(render.queue_table(records))


@app.command("approve")
def approve(ctx: typer.Context, record: Target, reason: Reason, request_id: RequestId = None) -> None:
    """Decide pass (a quarantined version is put back)."""
    run_override(ctx, record, "pass", reason, request_id)


@app.command("block")
def block(ctx: typer.Context, record: Target, reason: Reason, request_id: RequestId = None) -> None:
    """Decide block (the version is quarantined or deleted, as the stack is configured)."""
    run_override(ctx, record, "block", reason, request_id)


@app.command("serve")
def serve_page(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (default: a free one)")] = 0,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the page's URL")] = False,
) -> None:
    """The review queue in your browser on 127.0.0.1 with your credentials, until Ctrl-C: thumbnails, scenes,
    the policy's reasons, approve (a) and block (b)."""
    from greenlight_cli.web import serve  # Flask is imported only for this command

    target = stack(ctx)
    if not isinstance(target, StackContext):  # the page presigns thumbnails with the stack's boto3 session
        raise CliError("the review page needs a real stack")
    raise typer.Exit(serve(target, port=port, open_browser=not no_browser))
