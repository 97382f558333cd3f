"""SsmPolicySource on moto server: the policy an operator puts in an SSM parameter is the one that
decides; a bad update is refused (the field named) while the last valid policy keeps working; a fix
is picked up after max_age; with nothing valid ever read, DEFAULT_POLICY decides in shadow mode.

What the policy document means and every validation message are tested in tests/unit/test_policy.py.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import boto3
import pytest

from fakes import FakeClock
from greenlight.aws.policy_source import SsmPolicySource
from greenlight.domain.policy import DEFAULT_POLICY, decide_scanned
from greenlight.green.wire import SceneResult

pytestmark = pytest.mark.integration

POLICY: dict[str, Any] = {
    "version": "2026-12-03.1",
    "mode": "enforce",
    "scenes": {"porn": {"labels": {"porn": {"block": 90, "review": 50}}}},
    "unscanned": {"skipped": "pass", "error": "review", "superseded": "pass"},
}
PORN_95 = [SceneResult("porn", "porn", "review", 95.0)]


def version(number: int, **changes: Any) -> str:
    document = copy.deepcopy(POLICY) | {"version": f"v{number}"} | changes
    return json.dumps(document)


class Parameter:
    """The test's own policy parameter (a String, as the stack creates it); it does not exist until put."""

    def __init__(self) -> None:
        self.ssm = boto3.client("ssm")
        self.name = f"/greenlight-test/{uuid.uuid4().hex}/policy"

    def __call__(self, text: str) -> str:
        """Write `text` as the parameter's value; the parameter's name."""
        self.ssm.put_parameter(Name=self.name, Value=text, Type="String", Overwrite=True)
        return self.name


@pytest.fixture
def parameter(aws: str) -> Parameter:
    return Parameter()


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The log records with `message` written since the last call, as dicts (their `extra` fields included)."""
    found = [vars(record) for record in caplog.records if record.getMessage() == message]
    caplog.clear()
    return found


def test_the_parameters_policy_decides(parameter: Parameter) -> None:
    # Given a valid policy in the parameter
    source = SsmPolicySource(parameter(version(1)), max_age=0)
    # When a handler asks for the policy in force
    policy = source.current()
    # Then it is the parameter's, and it decides by its thresholds (Green said review; 95 >= block 90)
    assert (policy.version, policy.mode, source.problem) == ("v1", "enforce", None)
    decision = decide_scanned(policy, PORN_95)
    assert decision.to_record() == {"decision": "block", "policy_version": "v1", "decision_mode": "enforce",
                                    "decision_reasons": ["porn/porn 95 >= block 90"]}


def test_an_invalid_update_is_refused_and_the_last_valid_policy_keeps_working(
        parameter: Parameter, caplog: pytest.LogCaptureFixture) -> None:
    # Given a container that has loaded v1
    name = parameter(version(1))
    source = SsmPolicySource(name, max_age=0)
    assert source.current().version == "v1"
    logged(caplog, "moderation policy refused")
    # When an operator writes a policy with a threshold out of range
    bad = copy.deepcopy(POLICY) | {"version": "v2"}
    bad["scenes"]["porn"]["labels"]["porn"]["block"] = 900
    parameter(json.dumps(bad))
    # Then v1 keeps deciding, the problem names the field, and one error log names it (not one per call)
    for _ in range(3):
        assert source.current().version == "v1"
        assert source.problem == "scenes.porn.labels.porn.block: must be a number from 0 to 100"
    [error] = logged(caplog, "moderation policy refused")
    assert error["levelname"] == "ERROR"
    assert (error["policy_field"], error["policy_version"]) == ("scenes.porn.labels.porn.block", "v1")
    # When the operator fixes it (max_age=0: the next read sees it)
    parameter(version(3, mode="shadow"))
    # Then the fixed policy is in force and the problem is gone
    policy = source.current()
    assert (policy.version, policy.mode, source.problem) == ("v3", "shadow", None)
    [loaded] = logged(caplog, "moderation policy loaded")
    assert (loaded["policy_version"], loaded["policy_mode"]) == ("v3", "shadow")


def test_a_change_is_picked_up_only_after_max_age(parameter: Parameter) -> None:
    # Given a container that read v1 with a 10-minute cache
    name = parameter(version(1))
    cached = SsmPolicySource(name, max_age=600)
    assert cached.current().version == "v1"
    # When the parameter changes
    parameter(version(2))
    # Then that container keeps v1 until its cache runs out, while a fresh read sees v2
    assert cached.current().version == "v1"
    assert SsmPolicySource(name, max_age=600).current().version == "v2"


def test_an_invalid_policy_with_nothing_valid_before_falls_back_to_the_builtin_one(
        parameter: Parameter) -> None:
    source = SsmPolicySource(parameter('{"version": "v1", "mode": "enforce"'), max_age=0)
    assert source.current() == DEFAULT_POLICY
    assert source.problem is not None and source.problem.startswith("(document): not valid JSON")
    assert decide_scanned(source.current(), PORN_95).to_record()["decision_mode"] == "shadow"


def test_a_missing_parameter_falls_back_to_the_builtin_policy_and_is_retried_after_max_age(
        parameter: Parameter, caplog: pytest.LogCaptureFixture) -> None:
    # Given a container whose policy parameter does not exist (yet)
    name = parameter.name
    clock = FakeClock()
    source = SsmPolicySource(name, max_age=60, clock=clock)
    # Then the built-in policy decides, and the problem says why
    assert source.current() == DEFAULT_POLICY
    assert source.problem is not None and name in source.problem and "ParameterNotFound" in source.problem
    [error] = logged(caplog, "moderation policy unreadable")
    assert error["policy_version"] == "builtin-1"
    # When the parameter is created, it is not read again before max_age (no SSM call per invocation)
    assert parameter(version(1)) == name
    clock.advance(59)
    assert source.current() == DEFAULT_POLICY
    assert logged(caplog, "moderation policy unreadable") == []
    # Then after max_age it is
    clock.advance(2)
    assert source.current().version == "v1"
    assert source.problem is None


def test_a_parameter_deleted_after_a_valid_read_keeps_the_last_valid_policy(parameter: Parameter) -> None:
    name = parameter(version(1))
    source = SsmPolicySource(name, max_age=0)
    assert source.current().version == "v1"
    parameter.ssm.delete_parameter(Name=name)
    assert source.current().version == "v1"
    assert source.problem is not None and "ParameterNotFound" in source.problem
