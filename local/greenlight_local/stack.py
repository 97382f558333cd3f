"""Create the template's resources on a moto server, as CloudFormation would, and describe the functions.

Created from template.yaml itself (so the local stack cannot drift from it): the upload bucket
(versioning, encryption, public access block, EventBridge notifications), the queues with their
redrive policy and queue policy, the verdict table with its indexes and PITR, the Green secret
(generated like GenerateSecretString does), and the EventBridge rule with its SQS target.
Functions are not created in moto: `FunctionSpec` carries what a local host needs to run one
(handler, code folder, timeout, environment resolved from Globals and the function).
Not modelled locally (moto cannot or need not): IAM roles and policies, log groups, the layer,
the HTTP API (served by greenlight_local.hosts), the schedule (a timer there).
"""

from __future__ import annotations

import functools
import json
import secrets
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from greenlight.aws.dynamo_writes import record_from_item
from greenlight.domain.record import VerdictRecord
from greenlight_local.cfn import Resolver, load_template
from greenlight_local.processes import ROOT

TEMPLATE = ROOT / "template.yaml"
GREEN_KEY_FIELDS = frozenset({"access_key_id", "access_key_secret", "security_token", "url_signing_access_key_id",
                              "url_signing_secret_access_key"})


_CLIENT_LOCK = threading.Lock()


@functools.cache
def _moto_session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@functools.cache
def moto_client(service: str, endpoint: str, region: str) -> Any:
    """One client per service, server and region for the process (clients are thread-safe once built).

    Building one costs tens of milliseconds (a new session also parses the service's JSON model again),
    and the test tiers build local stacks by the hundred.
    """
    with _CLIENT_LOCK:  # building clients from one session is not thread-safe
        return _moto_session().client(service, endpoint_url=endpoint, region_name=region)  # type: ignore[call-overload]


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    code_dir: Path
    timeout: float
    environment: dict[str, str]
    events: dict[str, Any] = field(default_factory=dict)


@dataclass
class LocalStack:
    endpoint: str
    region: str
    bucket: str
    quarantine_bucket: str | None
    queue_url: str
    queue_arn: str
    dlq_url: str
    event_dlq_url: str
    table: str
    secret_ids: dict[str, str]  # logical id -> ARN: GreenSecret (keys), CallbackSecret (uid, seed, token)
    queue_urls: dict[str, str]  # ARN -> URL, for every queue (event sources name queues by ARN)
    policy_parameter: str
    rule_name: str
    functions: dict[str, FunctionSpec]
    resolver: Resolver

    def client(self, service: str) -> Any:
        return moto_client(service, self.endpoint, self.region)

    def secret(self) -> dict[str, str]:
        """Both secrets' current fields, merged (their field names do not overlap)."""
        merged: dict[str, str] = {}
        for secret_id in self.secret_ids.values():
            raw = self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
            merged.update({k: str(v) for k, v in json.loads(raw).items()})
        return merged

    def update_secret(self, **changes: str) -> dict[str, str]:
        """Merge `changes` into the secret that holds each field, as an operator does; returns all fields."""
        sm = self.client("secretsmanager")
        for logical_id, secret_id in self.secret_ids.items():
            mine = {k: v for k, v in changes.items() if (k in GREEN_KEY_FIELDS) == (logical_id == "GreenSecret")}
            if mine:
                current = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
                sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**current, **mine}))
        return self.secret()

    def table_stream_arn(self) -> str:
        """The verdict table's stream (every change, old and new image), as Lambda would read it."""
        return str(self.client("dynamodb").describe_table(TableName=self.table)["Table"]["LatestStreamArn"])

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint, "region": self.region, "bucket": self.bucket,
            "quarantine_bucket": self.quarantine_bucket, "queue_url": self.queue_url,
            "queue_arn": self.queue_arn, "dlq_url": self.dlq_url, "event_dlq_url": self.event_dlq_url,
            "table": self.table, "secret_ids": self.secret_ids, "queue_urls": self.queue_urls,
            "policy_parameter": self.policy_parameter,
            "rule_name": self.rule_name,
            "functions": {name: {"logical_id": f.logical_id, "handler": f.handler, "code_dir": str(f.code_dir),
                                 "timeout": f.timeout, "environment": f.environment, "events": f.events}
                          for name, f in self.functions.items()},
        }


def _resources_of(template: Mapping[str, Any], resolver: Resolver, kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, spec in (template.get("Resources") or {}).items():
        if spec.get("Type") == kind and resolver.condition(spec.get("Condition")):
            found.append((logical_id, spec))
    return found


def _generate_secret(spec: Mapping[str, Any]) -> str:
    generate = spec.get("GenerateSecretString")
    if not generate:
        return str(spec.get("SecretString", "{}"))
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    value = "".join(secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32))))
    document = json.loads(generate.get("SecretStringTemplate", "{}"))
    document[generate["GenerateStringKey"]] = value
    return json.dumps(document)


def create_stack(endpoint: str, *, parameters: Mapping[str, str] | None = None, region: str = "us-east-1",
                 prefix: str = "greenlight-local", template_path: Path = TEMPLATE) -> LocalStack:
    template = load_template(template_path)
    suffix = secrets.token_hex(3)
    resolver = Resolver(template, parameters, region=region, stack_name=f"{prefix}-{suffix}")

    def client(service: str) -> Any:
        return moto_client(service, endpoint, region)

    account = resolver.values["AWS::AccountId"]

    # Secrets
    sm = client("secretsmanager")
    secret_ids: dict[str, str] = {}
    for logical_id, spec in _resources_of(template, resolver, "AWS::SecretsManager::Secret"):
        props = resolver.resolve(spec.get("Properties", {}))
        arn = sm.create_secret(Name=f"{prefix}-{logical_id}-{suffix}", SecretString=_generate_secret(props))["ARN"]
        resolver.set_resource(logical_id, arn, Arn=arn)
        secret_ids[logical_id] = arn

    # SSM parameters (the moderation policy)
    ssm = client("ssm")
    for logical_id, spec in _resources_of(template, resolver, "AWS::SSM::Parameter"):
        props = resolver.resolve(spec["Properties"])
        name = props.get("Name") or f"/{prefix}-{suffix}/{logical_id}"
        ssm.put_parameter(Name=name, Value=props["Value"], Type=props.get("Type", "String"), Overwrite=True)
        resolver.set_resource(logical_id, name)

    # Verdict table
    ddb = client("dynamodb")
    table = ""
    for logical_id, spec in _resources_of(template, resolver, "AWS::DynamoDB::Table"):
        props = resolver.resolve(spec["Properties"])
        table = f"{prefix}-{logical_id}-{suffix}"
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("SSESpecification"):
            kwargs["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        if props.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        ddb.create_table(**kwargs)
        if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        described = ddb.describe_table(TableName=table)["Table"]
        resolver.set_resource(logical_id, table, Arn=described["TableArn"],
                              StreamArn=described.get("LatestStreamArn", ""))

    # Queues: the ones others point at (dead-letter queues) first
    sqs = client("sqs")
    queues = _resources_of(template, resolver, "AWS::SQS::Queue")
    queues.sort(key=lambda item: "RedrivePolicy" in (item[1].get("Properties") or {}))
    for logical_id, spec in queues:
        props = resolver.resolve(spec.get("Properties") or {})
        attributes = {}
        for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                     "MaximumMessageSize", "SqsManagedSseEnabled"):
            if name in props:
                attributes[name] = str(props[name]).lower() if isinstance(props[name], bool) else str(props[name])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=f"{prefix}-{logical_id}-{suffix}", Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        resolver.set_resource(logical_id, url, Arn=arn, QueueName=url.rsplit("/", 1)[1], QueueUrl=url)

    # Bucket
    s3 = client("s3")
    buckets: dict[str, str] = {}
    for logical_id, spec in _resources_of(template, resolver, "AWS::S3::Bucket"):
        props = resolver.resolve(spec.get("Properties") or {})
        bucket = f"{prefix}-{logical_id.lower()}-{suffix}"
        buckets[logical_id] = bucket
        s3.create_bucket(Bucket=bucket)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if props.get("BucketEncryption"):
            # CloudFormation's property names differ from the API's here.
            rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"],
                      "BucketKeyEnabled": bool(r.get("BucketKeyEnabled"))}
                     for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        if props.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=props[
                "PublicAccessBlockConfiguration"])
        if props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                "EventBridgeConfiguration": {}})
        resolver.set_resource(logical_id, bucket, Arn=f"arn:aws:s3:::{bucket}")
    bucket = buckets.get("UploadBucket") or resolver.values["ExistingBucketName"]

    # EventBridge rule and targets
    events = client("events")
    rule_name = ""
    for logical_id, spec in _resources_of(template, resolver, "AWS::Events::Rule"):
        raw = spec.get("Properties") or {}
        if "EventPattern" not in raw:
            continue  # schedules are driven by the local poll host
        props = resolver.resolve(raw)
        rule_name = f"{prefix}-{logical_id}-{suffix}"
        arn = events.put_rule(Name=rule_name, EventPattern=json.dumps(props["EventPattern"]),
                              State=props.get("State", "ENABLED"))["RuleArn"]
        resolver.set_resource(logical_id, rule_name, Arn=arn)
        events.put_targets(Rule=rule_name, Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in props["Targets"]])

    # Queue policies
    for _, spec in _resources_of(template, resolver, "AWS::SQS::QueuePolicy"):
        props = resolver.resolve(spec["Properties"])
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})

    # Stand-ins for what only exists in AWS, so the functions' environment resolves.
    for logical_id, spec in (template.get("Resources") or {}).items():
        if logical_id not in resolver.values and spec.get("Type") in ("AWS::Serverless::HttpApi",
                                                                      "AWS::Serverless::LayerVersion",
                                                                      "AWS::Logs::LogGroup", "AWS::IAM::Role"):
            resolver.set_resource(logical_id, f"local-{logical_id.lower()}",
                                  Arn=f"arn:aws:local:{region}:{account}:{logical_id}")

    functions = _functions(template, resolver)
    scan_queue = next(lid for lid, spec in queues if "RedrivePolicy" in (spec.get("Properties") or {}))
    return LocalStack(
        endpoint=endpoint, region=region, bucket=bucket,
        quarantine_bucket=buckets.get("QuarantineBucket") or resolver.values["QuarantineBucketName"] or None,
        queue_url=resolver.values[scan_queue], queue_arn=resolver.attributes[(scan_queue, "Arn")],
        dlq_url=resolver.values["DeadLetterQueue"], event_dlq_url=resolver.values["EventDeliveryDeadLetterQueue"],
        table=table, secret_ids=secret_ids, rule_name=rule_name,
        queue_urls={resolver.attributes[(lid, "Arn")]: resolver.values[lid] for lid, _ in queues},
        policy_parameter=resolver.values["PolicyParameter"],
        functions=functions, resolver=resolver,
    )


def _functions(template: Mapping[str, Any], resolver: Resolver) -> dict[str, FunctionSpec]:
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    global_env = resolver.resolve((globals_.get("Environment") or {}).get("Variables") or {})
    specs = {}
    for logical_id, spec in _resources_of(template, resolver, "AWS::Serverless::Function"):
        props = spec["Properties"]
        env = {**global_env, **resolver.resolve((props.get("Environment") or {}).get("Variables") or {})}
        code_dir = ROOT / props["CodeUri"]
        name = code_dir.name
        specs[name] = FunctionSpec(
            logical_id=logical_id,
            handler=props["Handler"],
            code_dir=code_dir,
            timeout=float(props.get("Timeout", globals_.get("Timeout", 3))),
            environment={k: str(v) for k, v in env.items()},
            events=resolver.resolve(props.get("Events") or {}),
        )
    return specs


def all_records(stack: LocalStack) -> list[VerdictRecord]:
    """Every version record in the stack's table (a scan: for local tools and tests only)."""
    records: list[VerdictRecord] = []
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table):
        records.extend(record_from_item(i) for i in page["Items"] if i["id"]["S"].startswith("v-"))
    return records
