"""template.yaml against the code: handlers exist, every variable a function reads is set, and the
settings moto cannot enforce (runtime, architecture, PITR, retention, timeouts) are in the template."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from greenlight.runtime.config import CallbackSettings, PollSettings, SubmitSettings
from greenlight_local.cfn import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
FUNCTIONS = {lid: spec for lid, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function"}
SETTINGS: dict[str, Callable[[Mapping[str, str]], Any]] = {
    "SubmitFunction": SubmitSettings.from_env,
    "PollFunction": PollSettings.from_env,
    "CallbackFunction": CallbackSettings.from_env,
}

# Read when present, with a default otherwise: the template may leave them out.
OPTIONAL = {"TIME_RESERVE_SECONDS", "MAX_OBJECT_BYTES"}

# Variables each function must get from the template (and which its settings read), and those it must not get.
REQUIRED = {
    "SubmitFunction": {"TABLE_NAME", "GREEN_SECRET_ID", "CALLBACK_SECRET_ID", "KEY_PREFIX", "KEY_SUFFIX",
                       "BUCKET_NAMES", "GREEN_MAX_FRAMES", "LEASE_SECONDS", "MAX_SCAN_ATTEMPTS", "CALLBACK_URL",
                       "POLICY_PARAMETER"},
    "PollFunction": {"TABLE_NAME", "GREEN_SECRET_ID", "CALLBACK_SECRET_ID", "GREEN_MAX_FRAMES", "LEASE_SECONDS",
                     "MAX_RECOVERIES", "RECOVERY_BACKOFF_SECONDS", "MAX_SCAN_ATTEMPTS", "RESUBMIT_AFTER_SECONDS",
                     "CALLBACK_URL", "POLICY_PARAMETER"},
    "CallbackFunction": {"TABLE_NAME", "CALLBACK_SECRET_ID", "POLICY_PARAMETER"},
}
FORBIDDEN = {
    "SubmitFunction": set(),
    "PollFunction": {"KEY_PREFIX", "KEY_SUFFIX"},
    # The internet-facing function must not even know where the Green keys are.
    "CallbackFunction": {"GREEN_SECRET_ID"},
}
CREATED = ("VerdictTable", "GreenSecret", "CallbackSecret", "UploadBucket", "CallbackApi", "PolicyParameter")


class Recording(Mapping[str, str]):
    """An environment that records every variable read and answers with the template's value."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self._values.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def declared_environment(logical_id: str, parameters: Mapping[str, str] | None = None) -> dict[str, str]:
    """The function's environment as CloudFormation would resolve it (default parameters unless given)."""
    resolver = Resolver(TEMPLATE, parameters)
    for name in CREATED:
        resolver.set_resource(name, f"{name.lower()}-1")
    globals_env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = (FUNCTIONS[logical_id]["Properties"].get("Environment") or {}).get("Variables") or {}
    return {name: str(value) for name, value in resolver.resolve({**globals_env, **own}).items()}


def allowed_pattern(parameter: str) -> re.Pattern[str]:
    return re.compile(PARAMETERS[parameter]["AllowedPattern"])


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


@pytest.mark.parametrize("logical_id", sorted(REQUIRED))
def test_each_function_gets_the_variables_it_needs_and_not_the_ones_it_must_not_have(logical_id: str) -> None:
    declared = declared_environment(logical_id)
    env = Recording(declared)

    SETTINGS[logical_id](env)

    assert REQUIRED[logical_id] <= env.read, f"{logical_id} no longer reads {REQUIRED[logical_id] - env.read}"
    assert REQUIRED[logical_id] <= set(declared), f"{logical_id} lacks {REQUIRED[logical_id] - set(declared)}"
    assert not FORBIDDEN[logical_id] & set(declared), f"{logical_id} gets {FORBIDDEN[logical_id] & set(declared)}"


@pytest.mark.parametrize(("logical_id", "green", "callback"), [
    ("SubmitFunction", "greensecret-1", "callbacksecret-1"),
    ("PollFunction", "greensecret-1", "callbacksecret-1"),
    ("CallbackFunction", "", "callbacksecret-1"),
])
def test_each_function_finds_the_secrets_it_reads(logical_id: str, green: str, callback: str) -> None:
    settings = SETTINGS[logical_id](declared_environment(logical_id))
    secrets = settings.secrets if isinstance(settings, CallbackSettings) else settings.scan.secrets
    assert (secrets.green_keys, secrets.callback) == (green, callback)

    existing = {"ExistingGreenSecretArn": "arn:aws:secretsmanager:x:1:secret:keys",
                "ExistingCallbackSecretArn": "arn:aws:secretsmanager:x:1:secret:cb"}
    env = declared_environment(logical_id, existing)
    assert env["CALLBACK_SECRET_ID"] == existing["ExistingCallbackSecretArn"]
    assert env.get("GREEN_SECRET_ID", "") == (existing["ExistingGreenSecretArn"] if green else "")


def test_the_template_parameters_reach_the_settings() -> None:
    parameters = {"KeyPrefix": "photos/", "KeySuffix": ".jpg", "GreenMaxFrames": "7"}
    submit = SubmitSettings.from_env(declared_environment("SubmitFunction", parameters))
    poll = PollSettings.from_env(declared_environment("PollFunction", parameters))
    defaults = PollSettings.from_env(declared_environment("PollFunction"))

    assert (submit.keys.prefix, submit.keys.suffix) == ("photos/", ".jpg")
    assert submit.scan.green.max_frames == poll.scan.green.max_frames == 7
    assert defaults.scan.green.max_frames == int(PARAMETERS["GreenMaxFrames"]["Default"]) == 100
    assert (poll.scan.lease_seconds, poll.max_recoveries, poll.recovery_backoff) == (90, 30, 60)
    assert submit.scan.max_attempts == poll.scan.max_attempts == int(PARAMETERS["MaxScanAttempts"]["Default"])



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
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"by-task", "pending", "by-object",
                                                                                 "review"}


def test_the_callback_url_is_wired_from_the_api_not_typed() -> None:
    url = FUNCTIONS["SubmitFunction"]["Properties"]["Environment"]["Variables"]["CALLBACK_URL"]
    assert "${CallbackApi}" in url["Fn::Sub"]
    [route] = FUNCTIONS["CallbackFunction"]["Properties"]["Events"].values()
    assert route["Properties"]["ApiId"] == {"Ref": "CallbackApi"}
    assert route["Properties"]["Path"] == "/callback/{token}"


@pytest.mark.parametrize(("parameters", "bucket", "secret", "callback_secret"), [
    ({}, "created", "created", "created-cb"),
    ({"ExistingBucketName": "mine", "ExistingGreenSecretArn": "arn:aws:secretsmanager:x:1:secret:g"}, "mine",
     "arn:aws:secretsmanager:x:1:secret:g", "created-cb"),
    ({"ExistingCallbackSecretArn": "arn:aws:secretsmanager:x:1:secret:c"}, "created", "created",
     "arn:aws:secretsmanager:x:1:secret:c"),
])
def test_bucket_and_secrets_are_created_or_taken_from_parameters(parameters: dict[str, str], bucket: str,
                                                                  secret: str, callback_secret: str) -> None:
    resolver = Resolver(TEMPLATE, parameters)
    resolver.set_resource("UploadBucket", "created")
    resolver.set_resource("GreenSecret", "created")
    resolver.set_resource("CallbackSecret", "created-cb")
    assert resolver.resolve(TEMPLATE["Outputs"]["BucketName"]["Value"]) == bucket
    assert resolver.resolve(TEMPLATE["Outputs"]["GreenSecretArn"]["Value"]) == secret
    assert resolver.resolve(TEMPLATE["Outputs"]["CallbackSecretArn"]["Value"]) == callback_secret
    assert resolver.condition("CreateBucket") is (bucket == "created")
    assert resolver.condition("CreateSecret") is (secret == "created")
    assert resolver.condition("CreateCallbackSecret") is (callback_secret == "created-cb")
    assert RESOURCES["GreenSecret"]["Condition"] == "CreateSecret"
    assert RESOURCES["CallbackSecret"]["Condition"] == "CreateCallbackSecret"


def test_the_green_secret_holds_only_the_green_keys() -> None:
    secret = RESOURCES["GreenSecret"]["Properties"]
    assert set(json.loads(secret["SecretString"])) == {"access_key_id", "access_key_secret"}
    assert "GenerateSecretString" not in secret


def test_the_callback_secret_holds_uid_token_and_a_generated_seed_green_accepts() -> None:
    secret = RESOURCES["CallbackSecret"]["Properties"]
    generated = secret["GenerateSecretString"]
    assert "SecretString" not in secret
    assert set(json.loads(generated["SecretStringTemplate"])) == {"uid", "callback_token"}
    assert generated["GenerateStringKey"] == "seed"
    # A seed must be 16 to 64 of [A-Za-z0-9_]: letters and digits only, no punctuation, no spaces.
    assert 16 <= generated["PasswordLength"] <= 64
    assert generated["ExcludePunctuation"] is True
    assert not generated.get("IncludeSpace", False)
    assert not any(generated.get(f"Exclude{kind}", False) for kind in ("Lowercase", "Uppercase", "Numbers"))


@pytest.mark.parametrize("parameter", ["KeyPrefix", "KeySuffix"])
@pytest.mark.parametrize("value", ["", "photos/", "photos/2026-12_a.b", ".jpg", "A-Z/0_9."])
def test_key_filters_accept_plain_key_characters(parameter: str, value: str) -> None:
    assert allowed_pattern(parameter).fullmatch(value)


@pytest.mark.parametrize("parameter", ["KeyPrefix", "KeySuffix"])
@pytest.mark.parametrize("value", ["my photos/", "café/", "photos/é", "a+b", "a*b", "a%20b", "photos/\n", "ü"])
def test_key_filters_refuse_what_s3_announces_encoded_or_the_wildcard_would_misread(parameter: str,
                                                                                    value: str) -> None:
    # CloudFormation matches AllowedPattern against the whole value (Java regex; this one is plain enough
    # to read the same in Python).
    assert not allowed_pattern(parameter).fullmatch(value)
    assert PARAMETERS[parameter]["ConstraintDescription"]


@pytest.mark.parametrize("parameter", sorted(name for name, spec in PARAMETERS.items() if "AllowedPattern" in spec))
def test_every_parameter_default_passes_its_own_pattern(parameter: str) -> None:
    assert allowed_pattern(parameter).fullmatch(str(PARAMETERS[parameter].get("Default", "")))


def test_key_filters_become_a_wildcard_on_the_rule() -> None:
    resolver = Resolver(TEMPLATE, {"KeyPrefix": "uploads/", "KeySuffix": ".jpg"})
    resolver.set_resource("UploadBucket", "b")
    resolver.set_resource("ScanQueue", "q", Arn="arn:q")
    resolver.set_resource("DeadLetterQueue", "d", Arn="arn:d")
    resolver.set_resource("EventDeliveryDeadLetterQueue", "e", Arn="arn:e")
    pattern = resolver.resolve(RESOURCES["ObjectCreatedRule"]["Properties"]["EventPattern"])
    assert pattern["detail"]["object"] == {"key": [{"wildcard": "uploads/*.jpg"}]}
    unfiltered = Resolver(TEMPLATE)
    unfiltered.set_resource("UploadBucket", "b")
    assert "object" not in unfiltered.resolve(RESOURCES["ObjectCreatedRule"]["Properties"]["EventPattern"])["detail"]


def test_outputs_name_every_part_an_operator_needs() -> None:
    queues = ("Queue", "DeadLetterQueue", "EventDeliveryDeadLetterQueue", "EnforcementRetryQueue",
              "EnforcementDeadLetterQueue")
    functions = ("Submit", "Callback", "Poll", "Enforce")
    assert {f"{queue}{kind}" for queue in queues for kind in ("Url", "Arn")} <= set(TEMPLATE["Outputs"])
    assert {f"{name}Function{kind}" for name in functions for kind in ("Name", "Arn")} <= set(TEMPLATE["Outputs"])
    assert {"BucketName", "BucketArn", "QuarantineBucketName", "QuarantineBucketArn", "TableName", "TableArn",
            "TableStreamArn", "CallbackUrl", "GreenSecretArn", "CallbackSecretArn", "PolicyParameterName",
            "PolicyParameterArn", "VerdictEventBusName", "VerdictEventBusArn", "ReviewerPolicyArn", "LookupPolicyArn",
            "AlarmTopicArn", "DashboardName"} <= set(TEMPLATE["Outputs"])
    assert TEMPLATE["Outputs"]["EventDeliveryDeadLetterQueueUrl"]["Value"] == {"Ref": "EventDeliveryDeadLetterQueue"}
    assert TEMPLATE["Outputs"]["DeadLetterQueueUrl"]["Value"] == {"Ref": "DeadLetterQueue"}
    assert TEMPLATE["Outputs"]["DeadLetterQueueArn"]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


@pytest.mark.parametrize("output", sorted(TEMPLATE["Outputs"]))
def test_every_output_is_exported_under_the_stack_name(output: str) -> None:
    assert TEMPLATE["Outputs"][output]["Export"] == {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{output}"}}


def test_outputs_that_could_be_empty_exist_only_when_they_have_a_value() -> None:
    # CloudFormation refuses to export an empty value: the quarantine bucket is output only with quarantine.
    resolver = Resolver(TEMPLATE, {"BlockAction": "delete"})
    for name, output in TEMPLATE["Outputs"].items():
        if "Condition" in output:
            assert not resolver.condition(output["Condition"]), name
    assert TEMPLATE["Outputs"]["QuarantineBucketName"]["Condition"] == "Quarantine"


def test_uploads_wait_in_the_queue_until_set_up_turns_processing_on() -> None:
    # Given the submit function's SQS event source
    [source] = FUNCTIONS["SubmitFunction"]["Properties"]["Events"].values()

    # Then it is off by default and follows ProcessUploads
    assert PARAMETERS["ProcessUploads"]["Default"] == "false"
    assert Resolver(TEMPLATE).resolve(source["Properties"]["Enabled"]) is False
    assert Resolver(TEMPLATE, {"ProcessUploads": "true"}).resolve(source["Properties"]["Enabled"]) is True
    # and the queue keeps the events meanwhile (four days)
    assert RESOURCES["ScanQueue"]["Properties"]["MessageRetentionPeriod"] == 4 * 86400


def test_the_callback_route_alone_has_no_iam_authorization_and_says_so_the_way_sam_expects() -> None:
    # SAM's deploy asks about every API route without an Auth section ("has no authentication. Is this
    # okay?"). The API requires AWS IAM by default and the callback route opts out explicitly: Green
    # cannot sign with AWS credentials; the path token and the checksum authenticate it.
    auth = RESOURCES["CallbackApi"]["Properties"]["Auth"]
    assert auth == {"EnableIamAuthorizer": True, "DefaultAuthorizer": "AWS_IAM"}
    [route] = FUNCTIONS["CallbackFunction"]["Properties"]["Events"].values()
    assert route["Properties"]["Auth"] == {"Authorizer": "NONE"}
    lines = (ROOT / "template.yaml").read_text(encoding="utf-8").splitlines()
    comments = " ".join(line.split("#", 1)[1].strip() for line in lines if line.strip().startswith("#"))
    assert "cannot sign a request with AWS credentials" in comments
    assert "path token" in comments and "checksum" in comments


def test_metrics_are_per_stack_so_two_stacks_in_one_account_stay_apart() -> None:
    for logical_id, spec in FUNCTIONS.items():
        service = spec["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        short = spec["Properties"]["CodeUri"].rsplit("/", 1)[1]
        assert Resolver(TEMPLATE, stack_name="greenlight-prod").resolve(service) == f"greenlight-prod-{short}", \
            logical_id


def test_the_daily_image_budget_reaches_submit_and_poll() -> None:
    for logical_id, settings in (("SubmitFunction", SubmitSettings), ("PollFunction", PollSettings)):
        scan = settings.from_env(declared_environment(logical_id, {"DailyImageBudget": "250"})).scan
        assert scan.daily_image_budget == 250
    assert int(PARAMETERS["DailyImageBudget"]["Default"]) > 0  # a guard unless turned off (0)


def test_failed_event_deliveries_go_to_their_own_queue_not_the_scan_queues_dlq() -> None:
    [target] = RESOURCES["ObjectCreatedRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ScanQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventDeliveryDeadLetterQueue", "Arn"]}
    assert RESOURCES["ScanQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == \
        {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert RESOURCES["EventDeliveryDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    assert "RedrivePolicy" not in RESOURCES["EventDeliveryDeadLetterQueue"]["Properties"]
    # Kept as long as SQS allows, like the scan queue's DLQ: someone has to look at them.
    assert RESOURCES["EventDeliveryDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 1209600


@pytest.mark.parametrize("mode", ["enforce", "shadow"])
def test_the_stack_starts_with_the_initial_policy_in_the_chosen_mode(mode: str) -> None:
    from greenlight.domain.policy import initial_policy_json, parse_policy

    # Given the template's policy parameter resolved for ModerationMode=mode
    value = Resolver(TEMPLATE, {"ModerationMode": mode}).resolve(RESOURCES["PolicyParameter"]["Properties"]["Value"])

    # Then it is the project's initial policy in that mode, and it validates
    assert json.loads(value) == json.loads(initial_policy_json(mode))
    assert parse_policy(value).mode == mode
