"""`greenlight`: the entry point (commands are added by their modules)."""

from __future__ import annotations

import typer

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)


def main() -> None:
    app()
