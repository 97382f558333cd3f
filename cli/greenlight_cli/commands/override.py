"""`greenlight override ID --decision pass|review|block --reason TEXT`: a person's decision in place of the
policy's (greenlight.review.overrides), recorded with who (the caller's identity), when, why and the
decision before. The enforce function then acts on it as on any decision and tells Green.
"""

from __future__ import annotations

import logging
import shlex
import uuid
from enum import StrEnum
from typing import Annotated

import typer

from greenlight.domain.policy import Policy
from greenlight.review.overrides import OverrideRequest, apply_override, validate
from greenlight.runtime.observability import logger
from greenlight_cli.errors import denied
from greenlight_cli.session import Stack, stack
from greenlight_cli.stack import CliError
from greenlight_cli.targets import parse_ref, resolve_record, version_label

TARGET_HELP = ("A record id (v-..., as `review list` shows) or s3://bucket/key[?versionId=V] (default: the newest "
               "version)")
REASON_HELP = "Why (recorded on the record and sent to Green with the feedback)"
REQUEST_HELP = ("This override's id (default: a new one, printed). Running it again with the same id changes "
                "nothing: safe to retry")


class DecisionChoice(StrEnum):
    PASS = "pass"  # noqa: S105 - a decision, not a password
    REVIEW = "review"
    BLOCK = "block"


Target = Annotated[str, typer.Argument(show_default=False, help=TARGET_HELP)]
Reason = Annotated[str, typer.Option("--reason", show_default=False, help=REASON_HELP)]
RequestId = Annotated[str | None, typer.Option("--request-id", help=REQUEST_HELP)]


def register(app: typer.Typer) -> None:
    app.command("override")(override)


def override(
    ctx: typer.Context, record: Target,
    decision: Annotated[DecisionChoice, typer.Option("--decision", case_sensitive=False, show_default=False,
                                                     help="The decision to record")],
    reason: Reason, request_id: RequestId = None,
) -> None:
    """Replace a version's decision with yours (an override of an override is another override)."""
    run_override(ctx, record, decision.value, reason, request_id)


def run_override(ctx: typer.Context, ref: str, decision: str, reason: str, request_id: str | None) -> None:
    """Apply one override and say what happened; `review approve` and `review block` come here too."""
    named = parse_ref(ref)  # what was typed is checked before anything is asked of AWS
    validate(OverrideRequest("", decision, reason, actor="(you)"))
    target = stack(ctx)
    record = resolve_record(target, named, request_id=request_id)
    request_id = request_id or uuid.uuid4().hex
    policy = policy_in_force(target)
    request = OverrideRequest(record.id, decision, reason, actor=target.caller(), request_id=request_id)
    result = apply_override(target.store, target.reviews, policy, request)
    current = result.record
    if not result.applied:
        typer.echo(f"already applied: request {request_id} is recorded on {current.id} "
                   f"(s3://{current.bucket}/{current.key}); its decision is {current.decision}")
        return
    shown = f"{shlex.quote(f's3://{current.bucket}/{current.key}')} --version-id {shlex.quote(version_label(current))}"
    typer.echo(f"s3://{current.bucket}/{current.key} (version {version_label(current)}): "
               f"{current.override.get('previous_decision')} -> {current.decision}, by {request.actor}")
    typer.echo(f"request {request_id} (repeat it with --request-id {request_id} to retry safely)")
    if policy.mode == "shadow":
        typer.echo(f"the policy ({policy.version}) is in shadow mode: the decision is recorded, not carried out")
    typer.echo(f"enforcement and feedback to Green follow shortly: greenlight verdict {shown}")


def policy_in_force(target: Stack) -> Policy:
    """The moderation policy an override is recorded under (its version and mode). One that cannot be
    read or does not validate is refused: the override would fall back to the built-in shadow policy
    and be recorded, and enforced, as a shadow decision."""
    log = logging.getLogger(logger.name)  # the policy source logs for CloudWatch, not for a terminal
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        policy = target.policy.current()
        problem = target.policy.problem
    finally:
        log.setLevel(level)
    if problem is None:
        return policy
    if "AccessDenied" in problem:
        raise CliError(denied("GetParameter", target))
    raise CliError(f"the moderation policy cannot be used ({problem}); fix it before overriding")
