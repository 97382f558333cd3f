"""Least privilege and hardening that can be read off template.yaml (checkov runs in make lint too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greenlight_local.cfn import Resolver, load_template

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ROLES = {lid: spec for lid, spec in RESOURCES.items() if spec["Type"] == "AWS::IAM::Role"}
# API calls that have no resource-level permissions, so "*" is the only possible Resource.
RESOURCE_WILDCARD_ONLY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # conditional statements: check both branches
                found.extend(s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
            else:
                found.append(statement)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(role_id: str) -> set[str]:
    return {a for s in statements(ROLES[role_id]) for a in as_list(s["Action"])}


GREEN_KEYS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:green-keys"
CALLBACK = "arn:aws:secretsmanager:us-east-1:123456789012:secret:callback"
SECRET_SOURCES = {
    "created by the stack": {},
    "existing secrets": {"ExistingGreenSecretArn": GREEN_KEYS, "ExistingCallbackSecretArn": CALLBACK},
}


def readable_secrets(role_id: str, parameters: dict[str, str]) -> set[str]:
    """The secret ARNs a role may read, resolved as CloudFormation would (created secrets Ref to their ARN)."""
    resolver = Resolver(TEMPLATE, parameters)
    resolver.set_resource("GreenSecret", GREEN_KEYS)
    resolver.set_resource("CallbackSecret", CALLBACK)
    found: set[str] = set()
    for statement in statements(ROLES[role_id]):
        if any(action.startswith("secretsmanager:") for action in as_list(statement["Action"])):
            assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"], f"{role_id}: {statement}"
            found.update(as_list(resolver.resolve(statement["Resource"])))
    return found


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


def test_callback_never_creates_records_and_only_submit_reads_the_queue() -> None:
    allowed = {role_id: actions_of(role_id) for role_id in ROLES}
    assert "dynamodb:PutItem" in allowed["SubmitRole"]
    assert "dynamodb:PutItem" not in allowed["CallbackRole"]
    assert not any(a.startswith(("sqs:", "s3:")) for a in allowed["CallbackRole"])
    assert not any(a.startswith("sqs:") for a in allowed["PollRole"])
    # Only enforcement changes objects or forgets remembered content; nobody scans the table.
    assert not any(a.startswith(("dynamodb:Delete", "dynamodb:Scan", "s3:Put", "s3:Delete"))
                   for role_id, actions in allowed.items() if role_id != "EnforceRole" for a in actions)
    assert not any(a == "dynamodb:Scan" for a in allowed["EnforceRole"])


def test_poll_may_claim_stranded_records_and_tell_a_missing_object_from_a_forbidden_one() -> None:
    # Recovering a stranded RECEIVED record claims it the way submit does (a conditional PutItem), and
    # re-inspecting an object after 403/404 needs ListBucket so a deleted key answers 404, not 403.
    by_action = {a: s for s in statements(ROLES["PollRole"]) for a in as_list(s["Action"])}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(by_action)
    assert by_action["dynamodb:PutItem"]["Resource"] == {"Fn::GetAtt": ["VerdictTable", "Arn"]}
    assert by_action["dynamodb:Query"]["Resource"] == {"Fn::Sub": "${VerdictTable.Arn}/index/pending"}
    assert {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"} <= set(by_action)
    resolver = Resolver(TEMPLATE)
    resolver.set_resource("UploadBucket", "uploads")
    assert resolver.resolve(by_action["s3:ListBucket"]["Resource"]) == "arn:aws:s3:::uploads"
    assert resolver.resolve(by_action["s3:GetObject"]["Resource"]) == "arn:aws:s3:::uploads/*"


@pytest.mark.parametrize("source", sorted(SECRET_SOURCES))
def test_the_callback_role_may_read_only_the_callback_secret(source: str) -> None:
    # Issue item 13: the internet-facing function cannot reach the Green keys, whatever the secrets' origin.
    assert readable_secrets("CallbackRole", SECRET_SOURCES[source]) == {CALLBACK}


@pytest.mark.parametrize("source", sorted(SECRET_SOURCES))
@pytest.mark.parametrize("role_id", ["SubmitRole", "PollRole"])
def test_submit_and_poll_read_the_green_keys_and_the_callback_secret(role_id: str, source: str) -> None:
    assert readable_secrets(role_id, SECRET_SOURCES[source]) == {GREEN_KEYS, CALLBACK}


def test_bucket_is_private_encrypted_and_tls_only() -> None:
    bucket = RESOURCES["UploadBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    deny = RESOURCES["UploadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def bucket_policy(**parameters: str) -> dict[str, dict[str, Any]]:
    """The created bucket's policy statements by Sid, resolved for these parameters (moto stores bucket
    policies but does not enforce them: the document itself is what is tested)."""
    resolver = Resolver(TEMPLATE, parameters)
    for name in ("UploadBucket", "EnforceRole", "SubmitRole", "PollRole"):
        resolver.set_resource(name, name.lower(), Arn=f"arn:aws:iam::123456789012:role/{name}")
    statements = resolver.resolve(RESOURCES["UploadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"])
    return {s["Sid"]: s for s in statements}


def test_blocked_versions_are_unreadable_but_to_enforcement_and_the_admin_role() -> None:
    admin = "arn:aws:iam::123456789012:role/moderators"
    deny = bucket_policy(AdminRoleArn=admin)["DenyReadsOfBlockedVersions"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert set(deny["Action"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert deny["Condition"]["StringEquals"] == {"s3:ExistingObjectTag/greenlight-decision": "block"}
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == ["arn:aws:iam::123456789012:role/EnforceRole",
                                                                   admin]
    assert "DenyReadsOfBlockedVersions" not in bucket_policy(DenyBlockedReads="false")


def test_nothing_is_readable_until_it_passes_when_chosen() -> None:
    assert "NothingReadableUntilItPasses" not in bucket_policy()
    deny = bucket_policy(ReadableOnlyAfterPass="true")["NothingReadableUntilItPasses"]
    assert deny["Condition"]["StringNotEquals"] == {"s3:ExistingObjectTag/greenlight-decision": "pass"}
    # Submit (whose role signs Green's download URL), poll and enforcement must still read it.
    assert {arn.rsplit("/", 1)[1] for arn in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]} == {
        "SubmitRole", "PollRole", "EnforceRole"}


def test_uploaders_cannot_set_decision_tags_themselves() -> None:
    deny = bucket_policy()["OnlyTheStackSetsDecisionTags"]
    assert set(deny["Action"]) == {"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"}
    assert deny["Condition"]["ForAnyValue:StringLike"] == {"s3:RequestObjectTagKeys": "greenlight-*"}
    assert deny["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/EnforceRole"}


def test_enforcement_writes_only_to_the_moderated_objects_and_the_quarantine_prefix() -> None:
    resolver = Resolver(TEMPLATE)
    for name in ("UploadBucket", "QuarantineBucket", "VerdictTable", "EnforceLogGroup", "EnforcementRetryQueue",
                 "EnforcementDeadLetterQueue", "PolicyParameter", "GreenSecret"):
        resolver.set_resource(name, name.lower(), Arn=f"arn:aws:x:::{name.lower()}", StreamArn="arn:stream")
    writes = {}
    for statement in resolver.resolve(statements(ROLES["EnforceRole"])):
        for action in as_list(statement["Action"]):
            if action.startswith(("s3:Put", "s3:Delete")):
                writes.setdefault(action, set()).update(as_list(statement["Resource"]))
    assert writes and all(resources <= {"arn:aws:s3:::uploadbucket/*", "arn:aws:s3:::quarantinebucket/quarantine/*"}
                          for resources in writes.values())


def test_queues_and_table_are_encrypted_and_the_api_is_throttled() -> None:
    assert RESOURCES["ScanQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["DeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["EventDeliveryDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["VerdictTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    route = RESOURCES["CallbackApi"]["Properties"]["DefaultRouteSettings"]
    assert route["ThrottlingRateLimit"] and route["ThrottlingBurstLimit"]


def queue_policy(**parameters: str) -> list[dict[str, Any]]:
    """The queue policy's statements resolved for these parameters (conditional statements in or out)."""
    resolver = Resolver(TEMPLATE, parameters)
    for name in ("ScanQueue", "EventDeliveryDeadLetterQueue", "ObjectCreatedRule"):
        resolver.set_resource(name, name, Arn=f"arn:{name}")
    return list(resolver.resolve(RESOURCES["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]))


def test_only_the_rule_may_send_to_the_queues_and_it_may_send_to_both_it_uses() -> None:
    policy = RESOURCES["QueuePolicy"]["Properties"]
    [allow] = [s for s in queue_policy() if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": "arn:ObjectCreatedRule"}}

    # The rule sends to its target and, when a delivery fails for good, to its dead-letter queue.
    [target] = RESOURCES["ObjectCreatedRule"]["Properties"]["Targets"]
    used = [target["Arn"]["Fn::GetAtt"][0], target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]]
    assert used == ["ScanQueue", "EventDeliveryDeadLetterQueue"]
    assert sorted(ref["Ref"] for ref in policy["Queues"]) == sorted(used)
    assert sorted(as_list(allow["Resource"])) == sorted(f"arn:{name}" for name in used)
    # The scan queue's own DLQ only ever receives SQS redrives: nobody is allowed to send to it.
    assert "DeadLetterQueue" not in used


def test_an_existing_buckets_own_s3_notifications_may_reach_the_scan_queue_and_nothing_else_may() -> None:
    # Given a stack moderating an existing bucket
    statements_ = queue_policy(ExistingBucketName="their-uploads")

    # Then S3 may send to the scan queue, only on behalf of that bucket in this account
    [s3] = [s for s in statements_ if s["Effect"] == "Allow" and s["Principal"] == {"Service": "s3.amazonaws.com"}]
    assert s3["Action"] == "sqs:SendMessage" and s3["Resource"] == "arn:ScanQueue"
    assert s3["Condition"] == {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::their-uploads"},
                               "StringEquals": {"aws:SourceAccount": "123456789012"}}
    # and a stack that creates its bucket (EventBridge only) admits no S3 notifications at all
    assert not [s for s in queue_policy() if s.get("Principal") == {"Service": "s3.amazonaws.com"}]


def test_the_queues_refuse_insecure_transport() -> None:
    policy = RESOURCES["QueuePolicy"]["Properties"]
    [deny] = [s for s in queue_policy(ExistingBucketName="their-uploads") if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(as_list(deny["Resource"])) == sorted(f"arn:{ref['Ref']}" for ref in policy["Queues"])


KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def kms_grants(**parameters: str) -> dict[str, list[dict[str, Any]]]:
    """Every KMS statement, by role or managed policy, resolved for these parameters."""
    resolver = Resolver(TEMPLATE, parameters)
    grants: dict[str, list[dict[str, Any]]] = {}
    for logical_id, spec in RESOURCES.items():
        documents = [p["PolicyDocument"] for p in spec["Properties"].get("Policies", [])] \
            if spec["Type"] == "AWS::IAM::Role" else \
            [spec["Properties"]["PolicyDocument"]] if spec["Type"] == "AWS::IAM::ManagedPolicy" else []
        for document in documents:
            for raw in document["Statement"]:
                unresolved = raw["Fn::If"][1] if "Fn::If" in raw else raw
                if any(str(action).startswith("kms:") for action in as_list(unresolved["Action"])):
                    grants.setdefault(logical_id, []).extend(resolver.resolve([raw]))
    return {holder: found for holder, found in grants.items() if found}


def test_an_sse_kms_bucket_gets_decrypt_on_its_key_for_whoever_reads_objects_or_signs_greens_urls() -> None:
    # Given an existing bucket encrypted with a KMS key
    grants = kms_grants(ExistingBucketName="their-uploads", UploadsKmsKeyArn=KEY)

    # Then exactly the roles that read objects or sign download URLs may decrypt with it, through S3 only
    assert set(grants) == {"SubmitRole", "PollRole", "EnforceRole", "ReviewerPolicy"}
    for holder, statements_ in grants.items():
        [statement] = statements_
        assert statement["Resource"] == KEY
        assert statement["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
        expected = {"kms:Decrypt", "kms:GenerateDataKey"} if holder == "EnforceRole" else {"kms:Decrypt"}
        # enforcement also writes into the bucket: putting a quarantined version back
        assert set(as_list(statement["Action"])) == expected, holder


def test_without_a_key_no_role_may_use_kms() -> None:
    assert kms_grants() == {}
    assert kms_grants(ExistingBucketName="their-uploads") == {}


def test_every_checkov_skip_gives_a_reason() -> None:
    for logical_id, spec in RESOURCES.items():
        for skip in (spec.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{logical_id}: skip {skip['id']} without a reason"
