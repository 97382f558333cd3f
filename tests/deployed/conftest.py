"""The deployed tier: a real stack in AWS, named by AWS_SAM_STACK_NAME (the convention of AWS's
serverless test samples), reached with the caller's own AWS credentials and region. Without the
variable every test here is skipped, so `make test` and CI never reach an account.

    AWS_SAM_STACK_NAME=greenlight AWS_REGION=ap-southeast-1 .venv/bin/python -m pytest tests/deployed

The tests upload a few small objects (a Green scan of each image is billed) and delete them after.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

STACK = os.environ.get("AWS_SAM_STACK_NAME", "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/deployed/" in item.nodeid.replace("\\", "/") or item.nodeid.startswith("deployed/"):
            item.add_marker(pytest.mark.deployed)
            if not STACK:
                item.add_marker(pytest.mark.skip(reason="set AWS_SAM_STACK_NAME to a deployed stack's name"))


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    session: Any

    def client(self, service: str) -> Any:
        return self.session.client(service)


@pytest.fixture(scope="session")
def deployed() -> DeployedStack:
    import boto3

    session = boto3.session.Session()
    found = session.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return DeployedStack(
        name=STACK, session=session,
        outputs={o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])})
