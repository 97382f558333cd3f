"""`greenlight verdict s3://bucket/key`: every version of an object, newest first, and one in full."""

from __future__ import annotations

from typing import Annotated

import typer

from greenlight_cli import render
from greenlight_cli.session import stack
from greenlight_cli.targets import choose, parse_uri, versions


def register(app: typer.Typer) -> None:
    app.command("verdict")(verdict)


def verdict(
    ctx: typer.Context,
    s3_uri: Annotated[str, typer.Argument(show_default=False,
                                       help="s3://bucket/key (quote it: keys may hold spaces); a trailing "
                                            "?versionId=V picks a version")],
    version_id: Annotated[str | None, typer.Option(
        "--version-id", help="The version to show in full (default: the newest); for an unversioned key, "
                             "the record id the table lists")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every version's record as JSON")] = False,
) -> None:
    """The verdict on an object: its versions (state, decision, policy, what was done), then one version's
    reasons, scenes, override, enforcement, feedback to Green and history."""
    target = parse_uri(s3_uri)  # a bad URI is refused before anything is asked of AWS
    records = versions(stack(ctx), target)
    chosen = choose(records, target, version_id)
    if as_json:
        typer.echo(render.dumps({"object": str(target), "selected": chosen.id,
                                 "versions": [render.record_json(r) for r in records]}))
        return
    out = render.console()
    out.print(render.versions_table(records, chosen))
    out.print()
    out.print(render.details(chosen))
