"""Reaching a greenlight stack: a deployed one (found by name from its CloudFormation outputs, with the
caller's own AWS credentials) or the local one `make demo`/`make review-demo` runs (its state file).

Every failure to reach it is a `CliError` with one line a person can act on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenlight.aws.policy_source import SsmPolicySource
from greenlight.aws.reviews import DynamoReviews
from greenlight.aws.verdict_table import DynamoVerdictStore

if TYPE_CHECKING:
    from greenlight_cli.ops.ports import Operations

LOCAL_STATE = Path(".local/run/state.json")
OUTPUTS = {"TableName": "table", "BucketName": "bucket", "QuarantineBucketName": "quarantine_bucket",
           "PolicyParameterName": "policy_parameter"}


class CliError(Exception):
    """A one-line answer for the person at the terminal (no traceback)."""


@dataclass
class StackContext:
    name: str
    region: str
    table: str
    bucket: str
    quarantine_bucket: str | None
    policy_parameter: str
    endpoint_url: str | None = None  # the local stack's moto server; None for AWS
    profile: str | None = None
    local_caller: str | None = None  # who overrides in the local stack (no STS there)
    # the managed policies a person attaches to use the stack (outputs ReviewerPolicyArn, LookupPolicyArn)
    reviewer_policy_arn: str | None = None
    lookup_policy_arn: str | None = None
    # What running the stack needs (greenlight setup, rescan, redrive, backfill): every output (the local
    # stack: the same names), the template parameters in force, and the local stack's state file.
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    state_file: Path | None = None

    @cached_property
    def session(self) -> Any:
        import boto3

        if self.endpoint_url:
            return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 - moto
                                         region_name=self.region)
        return boto3.session.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str) -> Any:
        """One client per service for the command (a command's parts share them)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    @cached_property
    def _clients(self) -> dict[str, Any]:
        return {}

    @cached_property
    def store(self) -> DynamoVerdictStore:
        return DynamoVerdictStore(self.client("dynamodb"), self.table)

    @cached_property
    def reviews(self) -> DynamoReviews:
        return DynamoReviews(self.client("dynamodb"), self.table)

    @cached_property
    def policy(self) -> SsmPolicySource:
        return SsmPolicySource(self.policy_parameter, 0, client=self.client("ssm"))

    def ops(self) -> Operations:
        """The stack's queues, buckets, secrets and trigger, for an operator's commands."""
        from greenlight_cli.ops.aws import operations_for

        return operations_for(self)

    def caller(self) -> str:
        """Who is acting: the caller's IAM identity (an ARN), recorded on every override."""
        if self.local_caller:
            return self.local_caller
        try:
            return str(self.client("sts").get_caller_identity()["Arn"])
        except Exception as exc:
            raise CliError(f"cannot tell who you are (sts get-caller-identity failed: {_short(exc)})") from exc


def from_stack(name: str, *, region: str | None = None, profile: str | None = None) -> StackContext:
    """The deployed stack `name`, from its outputs."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        found = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    except ProfileNotFound as exc:
        raise CliError(f"no AWS profile named {profile!r}") from exc
    except NoCredentialsError as exc:
        raise CliError("no AWS credentials found (aws configure, or AWS_PROFILE)") from exc
    except NoRegionError as exc:
        raise CliError("no AWS region set (use --region, or AWS_REGION)") from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "ValidationError" and "does not exist" in message:
            raise CliError(f"no stack named {name!r} in {session.region_name} (use --stack, or AWS_SAM_STACK_NAME)") \
                from exc
        if code in ("AccessDenied", "AccessDeniedException"):
            raise CliError(f"not allowed to read stack {name!r}: attach the stack's LookupPolicy or ReviewerPolicy")\
                from exc
        raise CliError(f"could not read stack {name!r}: {code} {message}".strip()) from exc
    except BotoCoreError as exc:
        raise CliError(f"could not reach CloudFormation: {_short(exc)}") from exc
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", [])}
    missing = [key for key in OUTPUTS if key not in outputs and key != "QuarantineBucketName"]
    if missing:
        raise CliError(f"stack {name!r} is not a greenlight stack (no outputs {', '.join(missing)})")
    return StackContext(name=name, region=session.region_name, table=outputs["TableName"], bucket=outputs["BucketName"],
                        quarantine_bucket=outputs.get("QuarantineBucketName") or None,
                        policy_parameter=outputs["PolicyParameterName"], profile=profile,
                        reviewer_policy_arn=outputs.get("ReviewerPolicyArn") or None,
                        lookup_policy_arn=outputs.get("LookupPolicyArn") or None, outputs=outputs,
                        parameters={p["ParameterKey"]: str(p.get("ParameterValue", ""))
                                    for p in found.get("Parameters", [])})


def from_local(state_file: Path = LOCAL_STATE) -> StackContext:
    """The local stack a running `make demo` or `make review-demo` created."""
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CliError(f"no local stack ({state_file} is missing: run `make review-demo` first)") from exc
    except OSError as exc:
        raise CliError(f"cannot read {state_file}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CliError(f"{state_file} is not a local stack's state file") from exc
    try:
        return StackContext(name="local", region=state["region"], table=state["table"], bucket=state["bucket"],
                            quarantine_bucket=state.get("quarantine_bucket"),
                            policy_parameter=state["policy_parameter"], endpoint_url=state["endpoint"],
                            local_caller=f"local:{os.environ.get('USER', 'operator')}",
                            outputs=_local_outputs(state), parameters=_local_parameters(state),
                            state_file=state_file)
    except (KeyError, TypeError, AttributeError) as exc:  # JSON, but not what the local pipeline writes
        raise CliError(f"{state_file} is not a local stack's state file") from exc


def _local_outputs(state: Mapping[str, Any]) -> dict[str, str]:
    """The local stack's resources under the names a deployed stack's outputs give them."""
    functions = state.get("functions") or {}
    enforce = functions.get("enforce") or {}
    queue_urls = state.get("queue_urls") or {}
    decisions: Mapping[str, Any] = next(
        (e["Properties"] for e in (enforce.get("events") or {}).values() if e.get("Type") == "DynamoDB"), {})
    failures = ((decisions.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination", "")
    secrets = state.get("secret_ids") or {}
    outputs = {
        "TableName": state.get("table"), "BucketName": state.get("bucket"), "QueueUrl": state.get("queue_url"),
        "QueueArn": state.get("queue_arn"), "DeadLetterQueueUrl": state.get("dlq_url"),
        "EventDeliveryDeadLetterQueueUrl": state.get("event_dlq_url"),
        "EnforcementRetryQueueUrl": (enforce.get("environment") or {}).get("ENFORCEMENT_RETRY_QUEUE_URL"),
        "EnforcementDeadLetterQueueUrl": queue_urls.get(failures), "TableStreamArn": decisions.get("Stream"),
        "GreenSecretArn": secrets.get("GreenSecret"), "CallbackSecretArn": secrets.get("CallbackSecret"),
        "PolicyParameterName": state.get("policy_parameter"),
    }
    return {name: str(value) for name, value in outputs.items() if value}


def _local_parameters(state: Mapping[str, Any]) -> dict[str, str]:
    """The local stack's parameters: those the pipeline recorded, and what its functions really run with
    (the Green endpoint is the emulator's there, whatever the template's default)."""
    submit = (state.get("functions") or {}).get("submit") or {}
    environment = submit.get("environment") or {}
    uploads = next((e.get("Properties") or {} for e in (submit.get("events") or {}).values()
                    if e.get("Type") == "SQS"), {})
    parameters = {str(k): str(v) for k, v in (state.get("parameters") or {}).items()}
    for name, variable in (("GreenRegion", "GREEN_REGION"), ("GreenEndpoint", "GREEN_ENDPOINT"),
                           ("GreenScenes", "GREEN_SCENES"), ("KeyPrefix", "KEY_PREFIX"), ("KeySuffix", "KEY_SUFFIX"),
                           ("DailyImageBudget", "DAILY_IMAGE_BUDGET")):
        if variable in environment:
            parameters[name] = str(environment[variable])
    parameters["ProcessUploads"] = "false" if str(uploads.get("Enabled", True)).lower() == "false" else "true"
    return parameters


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
