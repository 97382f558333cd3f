"""Every failure as one line on stderr, `greenlight: <what to do>`, and an exit code; never a traceback.

Exit codes: 0 done (a replayed override included), 1 the request was refused or names nothing that
exists (an override refused, no such object or record, an AWS error), 2 a usage or set-up problem (bad
arguments, no stack, no credentials, no permission, the stack unreachable). GREENLIGHT_DEBUG=1 lets an
unexpected exception through with its traceback, for a bug report.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from greenlight.review.overrides import OverrideRefused
from greenlight_cli.session import Invocation, Stack
from greenlight_cli.stack import CliError

REFUSED = 1
SETUP = 2


class NotFound(CliError):
    """The object, version or record named does not exist (exit 1)."""

    exit_code = REFUSED


# The AWS actions the tool uses: operation -> (IAM action, what it is for, only the ReviewerPolicy allows it)
ACTIONS = {
    "GetItem": ("dynamodb:GetItem", "read verdicts", False),
    "Query": ("dynamodb:Query", "read verdicts", False),
    "UpdateItem": ("dynamodb:UpdateItem", "record overrides", True),
    "GetParameter": ("ssm:GetParameter", "read the moderation policy", True),
    "GetObject": ("s3:GetObject", "read images", True),
}
# What an operator's commands (setup, rescan, redrive, backfill) call: operation -> IAM action. They need an
# administrator's permissions on the stack's resources; the reviewer and lookup policies do not grant them.
OPERATOR_ACTIONS = {
    "GetSecretValue": "secretsmanager:GetSecretValue", "PutSecretValue": "secretsmanager:PutSecretValue",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification", "GetBucketVersioning": "s3:GetBucketVersioning",
    "ListObjectsV2": "s3:ListBucket", "ListObjectVersions": "s3:ListBucketVersions", "GetObject": "s3:GetObject",
    "DescribeStacks": "cloudformation:DescribeStacks", "UpdateStack": "cloudformation:UpdateStack",
    "ReceiveMessage": "sqs:ReceiveMessage", "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage", "GetQueueAttributes": "sqs:GetQueueAttributes",
    "Scan": "dynamodb:Scan", "Query": "dynamodb:Query", "GetItem": "dynamodb:GetItem",
    "UpdateItem": "dynamodb:UpdateItem", "DescribeStream": "dynamodb:DescribeStream",
    "GetShardIterator": "dynamodb:GetShardIterator", "GetRecords": "dynamodb:GetRecords",
}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
BAD_CREDENTIALS = {"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId",
                   "InvalidSignatureException", "SignatureDoesNotMatch", "InvalidAccessKeyId", "RequestExpired"}
THROTTLED = {"ThrottlingException", "Throttling", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
             "SlowDown"}


def denied(operation: str, target: Stack | None) -> str:
    """Which of the stack's managed policies lets the caller do `operation`."""
    action, purpose, reviewer_only = ACTIONS.get(operation, (operation, f"call {operation}", True))
    reviewer = "ReviewerPolicy" + _arn(target.reviewer_policy_arn if target else None)
    lookup = "LookupPolicy" + _arn(target.lookup_policy_arn if target else None)
    policies = reviewer if reviewer_only else f"{lookup} or {reviewer}"
    return f"not allowed to {purpose} ({action}): attach the stack's {policies} to your IAM identity"


def operator_denied(operation: str, target: Stack | None) -> str:
    action = OPERATOR_ACTIONS.get(operation, operation)
    where = f"stack {target.name!r}" if target else "the stack"
    return (f"not allowed to call {operation} ({action}): setup, rescan, redrive and backfill need an "
            f"administrator's permissions on the resources of {where} (the Reviewer and Lookup policies do not "
            "grant them)")


def explain(exc: BaseException, target: Stack | None, *, operator: bool = False) -> tuple[str, int] | None:
    """The line and exit code for a failure a person can act on; None for a bug. `operator`: the failure of
    an operator's command (its permissions and missing resources are not a reviewer's)."""
    if isinstance(exc, OverrideRefused):
        return str(exc), REFUSED
    if isinstance(exc, CliError):
        return str(exc), int(getattr(exc, "exit_code", SETUP))
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        return _client_error(exc, target, operator=operator)
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (aws configure, or AWS_PROFILE)", SETUP
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError):
        if target is not None and target.endpoint_url:
            return (f"cannot reach the local stack at {target.endpoint_url} (is `make review-demo` still running?)",
                    SETUP)
        return f"cannot reach AWS: {exc}", SETUP
    if isinstance(exc, BotoCoreError):
        return f"AWS request failed: {exc}", SETUP
    return None


def _client_error(exc: Any, target: Stack | None, *, operator: bool = False) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    operation = str(getattr(exc, "operation_name", "") or "")
    if code in ACCESS_DENIED:
        return (operator_denied(operation, target) if operator else denied(operation, target)), SETUP
    if operator and code in ("ResourceNotFoundException", "NoSuchBucket", "AWS.SimpleQueueService.NonExistentQueue",
                             "QueueDoesNotExist"):
        return f"{operation} failed: {code}: {message} (was a resource of the stack deleted?)".rstrip(": "), SETUP
    if code in BAD_CREDENTIALS:
        return f"AWS refused your credentials ({code}): sign in again (aws sso login, or check AWS_PROFILE)", SETUP
    where = f"{target.name!r} ({target.table} in {target.region})" if target else "the stack"
    if code == "ResourceNotFoundException":
        return f"the verdict table of stack {where} does not exist: was the stack deleted?", SETUP
    if code == "ValidationException" and "specified index" in message:
        return (f"the verdict table of stack {where} has no lookup and review indexes: "
                "deploy the current template (make deploy)"), SETUP
    if code in THROTTLED:
        return f"AWS is throttling {operation or 'requests'} ({code}): try again in a moment", REFUSED
    return f"{operation or 'an AWS request'} failed: {code}: {message}".rstrip(": "), REFUSED


def _arn(arn: str | None) -> str:
    return f" ({arn})" if arn else ""


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or "failed"


class GreenlightGroup(TyperGroup):
    """The root command: whatever a command raises ends as one line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
            raise  # Typer's own: --help, usage errors, Ctrl-C, output piped into `head`
        except Exception as exc:
            if os.environ.get("GREENLIGHT_DEBUG"):
                raise
            found = ctx.find_object(Invocation)
            known = explain(exc, found.connected if found else None, operator=bool(found and found.operator))
            message, code = known or (f"unexpected error: {type(exc).__name__}: {exc} "
                                      "(GREENLIGHT_DEBUG=1 shows the traceback)", REFUSED)
            typer.echo(f"greenlight: {one_line(message)}", err=True)
            raise typer.Exit(code) from None
