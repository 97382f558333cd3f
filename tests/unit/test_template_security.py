"""Least privilege and hardening that can be read off template.yaml (checkov runs in make lint too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greenlight_local.cfn import load_template

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ROLES = {lid: spec for lid, spec in RESOURCES.items() if spec["Type"] == "AWS::IAM::Role"}
# API calls that have no resource-level permissions, so "*" is the only possible Resource.
RESOURCE_WILDCARD_ONLY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # conditional statements: check both branches
                found.extend(s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
            else:
                found.append(statement)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_each_function_has_a_role_of_its_own() -> None:
    roles = [spec["Properties"]["Role"]["Fn::GetAtt"][0] for spec in RESOURCES.values()
             if spec["Type"] == "AWS::Serverless::Function"]
    assert sorted(roles) == sorted(ROLES) and len(set(roles)) == len(roles)


@pytest.mark.parametrize("role_id", sorted(ROLES))
def test_no_wildcard_actions_and_resource_wildcards_only_where_required(role_id: str) -> None:
    for statement in statements(ROLES[role_id]):
        actions = as_list(statement["Action"])
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions), f"{role_id}: wildcard action in {actions}"
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= RESOURCE_WILDCARD_ONLY, f"{role_id}: Resource '*' for {actions}"


def test_only_submit_may_write_new_records_and_only_submit_reads_the_queue() -> None:
    allowed = {role_id: {a for s in statements(role) for a in as_list(s["Action"])} for role_id, role in ROLES.items()}
    assert "dynamodb:PutItem" in allowed["SubmitRole"]
    assert "dynamodb:PutItem" not in allowed["CallbackRole"] | allowed["PollRole"]
    assert not any(a.startswith(("sqs:", "s3:")) for a in allowed["CallbackRole"])
    assert not any(a.startswith("sqs:") for a in allowed["PollRole"])
    assert not any(a.startswith(("dynamodb:Delete", "dynamodb:Scan", "s3:Put", "s3:Delete"))
                   for actions in allowed.values() for a in actions)


def test_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = RESOURCES["UploadBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [deny] = RESOURCES["UploadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_queues_and_table_are_encrypted_and_the_api_is_throttled() -> None:
    assert RESOURCES["ScanQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["DeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["VerdictTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    route = RESOURCES["CallbackApi"]["Properties"]["DefaultRouteSettings"]
    assert route["ThrottlingRateLimit"] and route["ThrottlingBurstLimit"]


def test_only_the_rule_may_send_to_the_queue() -> None:
    statements_ = RESOURCES["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements_ if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ObjectCreatedRule", "Arn"]}}}


def test_every_checkov_skip_gives_a_reason() -> None:
    for logical_id, spec in RESOURCES.items():
        for skip in (spec.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{logical_id}: skip {skip['id']} without a reason"
