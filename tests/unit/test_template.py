"""template.yaml against the code: handlers exist, every variable a function reads is set, and the
settings moto cannot enforce (runtime, architecture, PITR, retention, timeouts) are in the template."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from greenlight.config import CallbackSettings, PollSettings, ScanSettings
from greenlight_local.cfn import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {lid: spec for lid, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function"}
SETTINGS: dict[str, Callable[[Mapping[str, str]], Any]] = {
    "SubmitFunction": ScanSettings.from_env,
    "PollFunction": PollSettings.from_env,
    "CallbackFunction": CallbackSettings.from_env,
}


# Read when present, with a default otherwise: the template may leave them out.
OPTIONAL = {"TIME_RESERVE_SECONDS", "POLL_RECHECK_SECONDS", "RESUBMIT_AFTER_SECONDS", "POLL_BATCH_LIMIT",
            "LEASE_SECONDS", "MAX_CALLBACK_BYTES", "MAX_OBJECT_BYTES"}


class Recording(Mapping[str, str]):
    """An environment that records every variable read and answers with the template's value."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self.values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def declared_environment(logical_id: str) -> dict[str, str]:
    """The function's environment as CloudFormation would resolve it with default parameters."""
    resolver = Resolver(TEMPLATE)
    for name in ("VerdictTable", "GreenSecret", "UploadBucket", "CallbackApi"):
        resolver.set_resource(name, f"{name.lower()}-1")
    globals_env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = (FUNCTIONS[logical_id]["Properties"].get("Environment") or {}).get("Variables") or {}
    return {name: str(value) for name, value in resolver.resolve({**globals_env, **own}).items()}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_exists(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]["Properties"]
    module_name, attribute = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / f"{module_name}.py"
    assert path.is_file(), f"{logical_id}: {path} is missing"
    assert f"def {attribute}(" in path.read_text(encoding="utf-8")
    assert importlib.util.find_spec(module_name) is not None


@pytest.mark.parametrize("logical_id", sorted(SETTINGS))
def test_every_variable_a_function_reads_is_set_in_the_template(logical_id: str) -> None:
    declared = declared_environment(logical_id)
    env = Recording(declared)

    SETTINGS[logical_id](env)  # the template's values validate

    missing = sorted(name for name in env.read if name not in declared and name not in OPTIONAL)
    assert not missing, f"{logical_id} reads {missing} but the template does not set them"


def test_runtime_and_architecture_are_set_once_in_globals() -> None:
    globals_function = TEMPLATE["Globals"]["Function"]
    assert globals_function["Runtime"] == "python3.13"
    assert globals_function["Architectures"] == ["arm64"]
    for spec in FUNCTIONS.values():
        assert "Runtime" not in spec["Properties"] and "Architectures" not in spec["Properties"]


def test_each_function_logs_to_its_own_group_with_retention() -> None:
    groups = []
    for spec in FUNCTIONS.values():
        ref = spec["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert RESOURCES[ref]["Type"] == "AWS::Logs::LogGroup"
        assert RESOURCES[ref]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        groups.append(ref)
    assert len(set(groups)) == len(FUNCTIONS)


def test_the_queue_outlives_six_submit_timeouts_and_redrives_to_the_dlq() -> None:
    queue = RESOURCES["ScanQueue"]["Properties"]
    timeout = FUNCTIONS["SubmitFunction"]["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    lease = int(FUNCTIONS["SubmitFunction"]["Properties"]["Environment"]["Variables"]["LEASE_SECONDS"])
    assert timeout < lease < queue["VisibilityTimeout"], "a lease must outlive the invocation and end before redelivery"


def test_submit_reports_partial_batch_failures() -> None:
    [source] = FUNCTIONS["SubmitFunction"]["Properties"]["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaxConcurrency"}


def test_the_table_has_pitr_encryption_on_demand_and_the_lookup_indexes() -> None:
    table = RESOURCES["VerdictTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"by-task", "pending"}


def test_the_callback_url_is_wired_from_the_api_not_typed() -> None:
    url = FUNCTIONS["SubmitFunction"]["Properties"]["Environment"]["Variables"]["CALLBACK_URL"]
    assert "${CallbackApi}" in url["Fn::Sub"]
    [route] = FUNCTIONS["CallbackFunction"]["Properties"]["Events"].values()
    assert route["Properties"]["ApiId"] == {"Ref": "CallbackApi"}
    assert route["Properties"]["Path"] == "/callback/{token}"


@pytest.mark.parametrize(("parameters", "bucket", "secret"), [
    ({}, "created", "created"),
    ({"ExistingBucketName": "mine", "ExistingGreenSecretArn": "arn:aws:secretsmanager:x:1:secret:g"}, "mine",
     "arn:aws:secretsmanager:x:1:secret:g"),
])
def test_bucket_and_secret_are_created_or_taken_from_parameters(parameters: dict[str, str], bucket: str,
                                                                 secret: str) -> None:
    resolver = Resolver(TEMPLATE, parameters)
    resolver.set_resource("UploadBucket", "created")
    resolver.set_resource("GreenSecret", "created")
    assert resolver.resolve(TEMPLATE["Outputs"]["BucketName"]["Value"]) == bucket
    assert resolver.resolve(TEMPLATE["Outputs"]["GreenSecretArn"]["Value"]) == secret
    assert resolver.condition("CreateBucket") is (bucket == "created")


def test_key_filters_become_a_wildcard_on_the_rule() -> None:
    resolver = Resolver(TEMPLATE, {"KeyPrefix": "uploads/", "KeySuffix": ".jpg"})
    resolver.set_resource("UploadBucket", "b")
    resolver.set_resource("ScanQueue", "q", Arn="arn:q")
    resolver.set_resource("DeadLetterQueue", "d", Arn="arn:d")
    pattern = resolver.resolve(RESOURCES["ObjectCreatedRule"]["Properties"]["EventPattern"])
    assert pattern["detail"]["object"] == {"key": [{"wildcard": "uploads/*.jpg"}]}
    unfiltered = Resolver(TEMPLATE)
    unfiltered.set_resource("UploadBucket", "b")
    assert "object" not in unfiltered.resolve(RESOURCES["ObjectCreatedRule"]["Properties"]["EventPattern"])["detail"]


def test_outputs_name_every_part_an_operator_needs() -> None:
    assert {"BucketName", "QueueUrl", "DeadLetterQueueUrl", "TableName", "CallbackUrl", "SubmitFunctionName",
            "CallbackFunctionName", "PollFunctionName"} <= set(TEMPLATE["Outputs"])
