"""A deployed stack, end to end: an upload gets its verdict and decision, a non-image is skipped without
a Green call, the callback route answers without AWS credentials, and the outputs an operator needs are
exported. Skipped unless AWS_SAM_STACK_NAME names a stack (tests/deployed/conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from deployed.conftest import DeployedStack
from green_emulator import make_image
from greenlight.aws.reviews import DynamoReviews
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import TERMINAL, State

VERDICT_TIMEOUT = 600  # seconds: the submit batching window, Green, and at worst the poller's minutes


@pytest.fixture(scope="module")
def ready(deployed: DeployedStack) -> DeployedStack:
    if deployed.parameters.get("ProcessUploads") != "true":
        pytest.skip(f"stack {deployed.name} does not process uploads yet: put the keys in its secrets and turn "
                    "ProcessUploads on (README, 'Deploy')")
    return deployed


@pytest.fixture
def key(ready: DeployedStack) -> Iterator[str]:
    """A fresh key under the stack's KeyPrefix; every version written to it is deleted afterwards."""
    prefix = ready.parameters.get("KeyPrefix", "")
    name = f"{prefix}greenlight-deployed-test/{uuid.uuid4().hex}"
    yield name
    s3, bucket = ready.client("s3"), ready.outputs["BucketName"]
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=name):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def named(stack: DeployedStack, key: str, extension: str) -> str:
    """`key` with `extension`, or with the stack's KeySuffix when it has one (content is sniffed, not named)."""
    return key + (stack.parameters.get("KeySuffix") or extension)


def wait_for_verdict(stack: DeployedStack, key: str) -> VerdictRecord:
    """The key's newest record once it is final (bounded wait, polling the lookup index)."""
    reviews = DynamoReviews(stack.client("dynamodb"), stack.outputs["TableName"])
    deadline = time.monotonic() + VERDICT_TIMEOUT
    while True:
        versions = reviews.versions_of(stack.outputs["BucketName"], key, limit=1)
        if versions and versions[0].state in TERMINAL:
            return versions[0]
        if time.monotonic() > deadline:
            state = versions[0].state.value if versions else "no record"
            raise AssertionError(f"{key}: no verdict within {VERDICT_TIMEOUT} s ({state})")
        time.sleep(5)


def test_an_uploaded_image_gets_a_verdict_and_a_decision(ready: DeployedStack, key: str) -> None:
    # Given a small real image uploaded to the moderated bucket
    image = named(ready, key, ".png")
    ready.client("s3").put_object(Bucket=ready.outputs["BucketName"], Key=image, Body=make_image(seed=7),
                                  ContentType="image/png")

    # Then Green's verdict is recorded, with the policy's decision
    record = wait_for_verdict(ready, image)
    assert record.state is State.FINAL, (record.state, record.reason)
    assert record.suggestion in ("pass", "review", "block")
    assert record.decision in ("pass", "review", "block") and record.policy_version
    assert record.scenes


def test_a_non_image_is_skipped_without_a_scan(ready: DeployedStack, key: str) -> None:
    page = named(ready, key, ".jpg")
    ready.client("s3").put_object(Bucket=ready.outputs["BucketName"], Key=page,
                                  Body=b"<html>a page named like a photo</html>", ContentType="image/jpeg")

    record = wait_for_verdict(ready, page)

    assert (record.state, record.reason) == (State.SKIPPED, "not_an_image")
    assert not record.task_ids


def test_the_callback_route_needs_no_aws_credentials_and_refuses_a_wrong_token(deployed: DeployedStack) -> None:
    # Green cannot sign with AWS credentials: the route is open, and a wrong path token is a 404
    response = requests.post(f"{deployed.outputs['CallbackUrl']}/{'x' * 40}", data={"checksum": "c", "content": "{}"},
                             timeout=30)
    assert response.status_code == 404
    assert response.json() == {"message": "not found"}


def test_every_output_an_operator_needs_is_exported(deployed: DeployedStack) -> None:
    found = deployed.client("cloudformation").describe_stacks(StackName=deployed.name)["Stacks"][0]["Outputs"]
    exported = {o["OutputKey"] for o in found if o.get("ExportName") == f"{deployed.name}-{o['OutputKey']}"}
    assert {"DeadLetterQueueArn", "QueueArn", "TableArn", "TableStreamArn", "AlarmTopicArn", "GreenSecretArn",
            "CallbackSecretArn", "SubmitFunctionArn", "EnforcementDeadLetterQueueArn"} <= exported
