"""Deploying: samconfig.toml's environments, the parameter constraints and Rules that refuse impossible
combinations before anything is created, and `make deploy` (not guided unless asked)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from greenlight.runtime.config import ConfigError, SubmitSettings
from greenlight_local.cfn import Resolver, load_template
from unit.conftest import BASE_ENV

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
ENVIRONMENTS = sorted(name for name in SAMCONFIG if name != "version")
[FIRST_GROUP] = [group for group in TEMPLATE["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
                 if group["Label"]["default"] == "Decide these first"]
REQUIRED = set(FIRST_GROUP["Parameters"])
PROD_REQUIRED = REQUIRED | {"DailyImageBudget", "AlarmEmail", "UploadsKmsKeyArn"}


class RuleResolver(Resolver):
    """The template's resolver plus Fn::Contains, which only Rules use."""

    def _fn_Contains(self, arg: list[Any]) -> bool:  # named as Resolver dispatches intrinsics
        values, value = arg
        return str(self.resolve(value)) in [str(v) for v in self.resolve(values)]


def overrides(environment: str) -> dict[str, str]:
    """An environment's parameter_overrides as SAM reads them ("Key=Value", the value optionally quoted)."""
    raw = SAMCONFIG[environment]["deploy"]["parameters"].get("parameter_overrides", [])
    items = raw if isinstance(raw, list) else shlex.split(raw)
    parsed: dict[str, str] = {}
    for item in items:
        match = re.fullmatch(r"([A-Za-z0-9]+)=(.*)", item)
        assert match, f"{environment}: {item!r} is not Key=Value"
        key, value = match.groups()
        parsed[key] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return parsed


def violations(parameters: dict[str, str]) -> list[str]:
    """What CloudFormation would refuse about these parameter values: constraints, then Rules."""
    found = []
    for name, value in parameters.items():
        spec = PARAMETERS.get(name)
        if spec is None:
            found.append(f"{name}: no such parameter")
            continue
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            found.append(f"{name}: {value!r} not in {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            found.append(f"{name}: {value!r} does not match {spec['AllowedPattern']}")
        if spec["Type"] == "Number":
            number = float(value)
            if number < spec.get("MinValue", float("-inf")) or number > spec.get("MaxValue", float("inf")):
                found.append(f"{name}: {value} out of range")
    resolver = RuleResolver(TEMPLATE, parameters)
    for rule_name, rule in TEMPLATE.get("Rules", {}).items():
        if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"]):
            continue
        found += [f"{rule_name}: {assertion['AssertDescription']}" for assertion in rule["Assertions"]
                  if not resolver.resolve(assertion["Assert"])]
    return found


# -- samconfig.toml --------------------------------------------------------------------------------


def test_there_is_a_trial_and_a_prod_environment_with_stacks_of_their_own() -> None:
    assert ENVIRONMENTS == ["default", "prod"]
    names = {env: SAMCONFIG[env]["global"]["parameters"]["stack_name"] for env in ENVIRONMENTS}
    assert len(set(names.values())) == len(names)
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name) for name in names.values())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_deploys_without_questions(environment: str) -> None:
    deploy = SAMCONFIG[environment]["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["resolve_s3"] is True  # no bucket to create or name by hand
    assert deploy["confirm_changeset"] is True  # a person sees the change set before it runs
    assert "guided" not in deploy


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_names_the_parameters_to_decide_first(environment: str) -> None:
    required = PROD_REQUIRED if environment == "prod" else REQUIRED
    assert required <= set(overrides(environment)), f"{environment} lacks {required - set(overrides(environment))}"
    assert {"ExistingBucketName", "GreenRegion", "ModerationMode"} == REQUIRED


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environments_values_pass_the_templates_constraints_and_rules(environment: str) -> None:
    assert violations(overrides(environment)) == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_environment_names_process_uploads(environment: str) -> None:
    # A deploy passes UsePreviousValue for every parameter its config does not name: set-up turns
    # ProcessUploads on once, and naming it here would turn it off again at the next deploy.
    assert "ProcessUploads" not in overrides(environment)


def test_prod_is_tagged_as_prod() -> None:
    tags = dict(tag.split("=", 1) for tag in shlex.split(SAMCONFIG["prod"]["deploy"]["parameters"]["tags"]))
    assert tags == {"project": "greenlight", "environment": "prod"}


# -- what the template refuses at deploy time ---------------------------------------------------------


def test_the_template_defaults_are_a_valid_deployment() -> None:
    assert violations({}) == []


@pytest.mark.parametrize(("parameters", "refusal"), [
    ({"UploadsKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
     "KmsKeyIsForAnExistingBucket"),
    ({"ExistingBucketName": "their-uploads", "QuarantineBucketName": "their-uploads"},
     "QuarantineIsNotTheModeratedBucket: QuarantineBucketName must not be the moderated bucket"),
    ({"QuarantineBucketName": "holding-pen", "BlockAction": "delete"}, "only with BlockAction=quarantine"),
    ({"ReadableOnlyAfterPass": "true", "TagObjects": "false"}, "OnlyAfterPassNeedsTags"),
    ({"ReadableOnlyAfterPass": "true", "ExistingBucketName": "their-uploads"}, "OnlyAfterPassIsForTheCreatedBucket"),
    ({"BatchSize": "100", "BatchingWindowSeconds": "0"}, "BigBatchesNeedABatchingWindow"),
    ({"UploadsKmsKeyArn": "alias/uploads", "ExistingBucketName": "b-1"}, "UploadsKmsKeyArn: 'alias/uploads'"),
    ({"ExistingGreenSecretArn": "ssm:/greenlight/keys"}, "ExistingGreenSecretArn: 'ssm:/greenlight/keys'"),
    ({"ExistingBucketName": "Not_A_Bucket"}, "ExistingBucketName: 'Not_A_Bucket'"),
    ({"AlarmEmail": "ops at example.com"}, "AlarmEmail"),
    ({"DailyImageBudget": "-1"}, "DailyImageBudget: -1 out of range"),
])
def test_impossible_combinations_are_refused_with_a_reason(parameters: dict[str, str], refusal: str) -> None:
    found = violations(parameters)
    assert any(refusal in v for v in found), found


@pytest.mark.parametrize("parameters", [
    {"ExistingBucketName": "their-uploads",
     "UploadsKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    {"ExistingBucketName": "their-uploads", "QuarantineBucketName": "their-quarantine"},
    {"BatchSize": "10", "BatchingWindowSeconds": "0"},
    {"ReadableOnlyAfterPass": "true"},
    {"AlarmEmail": "ops@example.com", "DailyImageBudget": "0"},
    {"ExistingGreenSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:greenlight/keys-AbCdEf"},
])
def test_the_combinations_that_work_are_accepted(parameters: dict[str, str]) -> None:
    assert violations(parameters) == []


@pytest.mark.parametrize("variable", ["GREEN_SECRET_ID", "CALLBACK_SECRET_ID"])
def test_a_secret_in_ssm_is_refused_by_name_when_the_function_starts(variable: str) -> None:
    # The roles may read only the two Secrets Manager secrets: an `ssm:` id (an option of earlier
    # versions) could never be read once deployed, so it is refused at once, naming the variable.
    with pytest.raises(ConfigError, match=variable):
        SubmitSettings.from_env({**BASE_ENV, variable: "ssm:/greenlight/secret"})


# -- make deploy ----------------------------------------------------------------------------------------


def make_deploy(*arguments: str) -> list[str]:
    """The commands `make deploy` would run (make -n), one per line."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    done = subprocess.run([make, "-n", "--no-print-directory", "deploy", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, check=True)
    return [line for line in done.stdout.splitlines() if "sam deploy" in line]


def test_make_deploy_deploys_the_named_environment_without_asking() -> None:
    assert make_deploy() == [".venv-tools/bin/sam deploy --config-env default"]
    assert make_deploy("ENV=prod") == [".venv-tools/bin/sam deploy --config-env prod"]


def test_a_guided_deploy_is_asked_for_and_keeps_its_answers_out_of_the_tracked_config() -> None:
    [command] = make_deploy("GUIDED=1", "ENV=prod")
    assert "--guided" in command and "--config-env prod" in command
    assert command.endswith(f"--config-file {ROOT}/.local/samconfig.toml")
