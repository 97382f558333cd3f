"""`greenlight setup`: put the keys in place, check them with Green, turn on the bucket's EventBridge
notifications and only then let the waiting uploads flow (greenlight_cli.ops.setup). Safe to run again."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from greenlight_cli import render
from greenlight_cli.ops.setup import STACK_UPDATE_SECONDS, KeysGiven, SetUp, Status
from greenlight_cli.session import operations

SECRET_NOTE = "Prompted for when missing (hidden); the environment keeps it out of your shell history"  # noqa: S105 - help text


def register(app: typer.Typer) -> None:
    app.command("setup")(setup)


def setup(
    ctx: typer.Context,
    access_key_id: Annotated[str | None, typer.Option(
        "--access-key-id", envvar="GREEN_ACCESS_KEY_ID", show_envvar=True,
        help="The Green AccessKey id of a RAM user with AliyunYundunGreenWebFullAccess (default: the one in the "
             "secret; prompted for when there is none)")] = None,
    access_key_secret: Annotated[str | None, typer.Option(
        "--access-key-secret", envvar="GREEN_ACCESS_KEY_SECRET", show_envvar=True,
        help=f"Its secret. {SECRET_NOTE}")] = None,
    uid: Annotated[str | None, typer.Option(
        "--uid", envvar="ALIBABA_CLOUD_UID", show_envvar=True,
        help="The Alibaba Cloud main account's uid (callback checksums use it; default: the one in the secret)")
                   ] = None,
    wait_minutes: Annotated[float, typer.Option(
        "--wait-minutes", min=1, max=120, help="How long to wait for CloudFormation to turn processing on")
                            ] = STACK_UPDATE_SECONDS / 60,
) -> None:
    """Set the stack up, or check it is: the Green keys (checked with one real Green call, nothing billed) and
    the uid in the secrets (the seed kept, a callback token generated once), the bucket's EventBridge
    notifications merged into its configuration, then uploads let through (ProcessUploads). Each step says
    done, already done or failed; it stops at the first failure. Safe to run again."""
    ops = operations(ctx)
    out = render.console()

    def report(name: str, status: Status, detail: str) -> None:
        out.print(render.step_line(name, status.value, detail), soft_wrap=True)

    def ask(what: str, hidden: bool) -> str:
        return str(typer.prompt(what, hide_input=hidden))

    interactive = sys.stdin.isatty()
    SetUp(ops, report, ask if interactive else None, update_seconds=wait_minutes * 60).run(
        KeysGiven(access_key_id, access_key_secret, uid))
    out.print(f"set up: stack {ops.name} moderates s3://{ops.bucket}", soft_wrap=True, markup=False)
