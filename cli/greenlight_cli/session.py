"""One invocation of `greenlight`: the global options, and the stack they name, reached once on first use.

Commands ask `stack(ctx)` for the stack; only then is CloudFormation (or the local state file) read, so
`greenlight --help` and usage errors never touch AWS. Tests put their own `Invocation(connect=...)` in
as the click context's object, with fakes behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import typer

from greenlight.ports import PolicySource, ReviewStore, VerdictStore
from greenlight_cli.stack import LOCAL_STATE, CliError, from_local, from_stack

if TYPE_CHECKING:
    from greenlight_cli.ops.ports import Operations

DEFAULT_STACK = "greenlight"


class Stack(Protocol):
    """What the commands use of a stack (greenlight_cli.stack.StackContext)."""

    @property
    def name(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def table(self) -> str: ...

    @property
    def bucket(self) -> str: ...

    @property
    def endpoint_url(self) -> str | None: ...

    @property
    def reviewer_policy_arn(self) -> str | None: ...

    @property
    def lookup_policy_arn(self) -> str | None: ...

    @property
    def store(self) -> VerdictStore: ...

    @property
    def reviews(self) -> ReviewStore: ...

    @property
    def policy(self) -> PolicySource: ...

    def caller(self) -> str: ...


@dataclass(frozen=True)
class Options:
    """The global options: which stack, and how to reach it."""

    stack: str = DEFAULT_STACK
    region: str | None = None
    profile: str | None = None
    local: bool = False
    state_file: Path | None = None


def connect(options: Options) -> Stack:
    """The stack the options name: the local one (its state file), else the deployed one by name."""
    if options.local or options.state_file is not None:
        return from_local(options.state_file or LOCAL_STATE)
    return from_stack(options.stack, region=options.region, profile=options.profile)


@dataclass
class Invocation:
    """The click context's object for one run of the tool."""

    connect: Callable[[Options], Stack] = connect
    options: Options = field(default_factory=Options)
    connected: Stack | None = None  # set on first use
    operator: bool = False  # an operator's command runs (its failures are explained as such)

    def stack(self) -> Stack:
        if self.connected is None:
            self.connected = self.connect(self.options)
        return self.connected


def invocation(ctx: typer.Context) -> Invocation:
    return ctx.ensure_object(Invocation)


def stack(ctx: typer.Context) -> Stack:
    return invocation(ctx).stack()



def operations(ctx: typer.Context) -> Operations:
    """The stack as an operator runs it (setup, rescan, redrive, backfill): its `ops()`, which a
    StackContext and a test's fake stack have."""
    from greenlight_cli.ops.ports import Operations

    invocation(ctx).operator = True
    target = stack(ctx)
    build = getattr(target, "ops", None)
    found = build() if callable(build) else None
    if not isinstance(found, Operations):
        raise CliError(f"stack {target.name!r} cannot be run from here (no queues, buckets or secrets)")
    return found
