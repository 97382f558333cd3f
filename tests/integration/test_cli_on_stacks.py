"""The `greenlight` command line against real adapters on moto: the local stack (its state file) and a
deployed stack found by name from its CloudFormation outputs, with the caller's identity from STS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fakes import FakeClock
from fakes.policy import StaticPolicySource
from greenlight.aws.verdict_table import DynamoVerdictStore
from greenlight.domain.identity import ObjectRef
from greenlight.domain.policy import initial_policy_json, parse_policy
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.scanning.results import apply_result, settle
from greenlight_cli.main import app
from greenlight_local.stack import LocalStack

pytestmark = pytest.mark.integration

KEY = "dir/ünï côde.png"
REVIEW = (SceneResult("porn", "sexy", "review", 87.5),)
BLOCK = (SceneResult("porn", "porn", "block", 99.5),)
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"


class Records:
    """Verdict records written to the stack's table by the production store, as the functions write them."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.clock = FakeClock(time.time() - 3600)  # an hour ago, a minute per version: before any override
        self.store = DynamoVerdictStore(stack.client("dynamodb"), stack.table, clock=self.clock)
        self.policy = StaticPolicySource(parse_policy(initial_policy_json("enforce")))
        self.count = 0

    def pending(self, key: str) -> ObjectRef:
        self.count += 1
        self.clock.advance(60)
        obj = ObjectRef(self.stack.bucket, key, size=72, etag=f"{self.count:032x}", version_id=f"ver-{self.count}",
                        sequencer=f"{self.count:018X}")
        claim = self.store.claim(obj, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        assert self.store.mark_pending(obj.data_id, lease_token=claim.lease_token, task_id=f"t-{self.count}",
                                       due_at=0, url_expires_at=None, details=None, by="submit")
        self.clock.advance(2)
        return obj

    def scanned(self, key: str, scenes: tuple[SceneResult, ...] = REVIEW) -> VerdictRecord:
        obj = self.pending(key)
        result = TaskResult(code=200, msg="OK", task_id=f"t-{self.count}", data_id=obj.data_id, results=scenes)
        assert apply_result(self.store, self.policy, result, record_id=obj.data_id, by="callback").changed
        return self.get(obj.data_id)

    def failed(self, key: str) -> VerdictRecord:
        obj = self.pending(key)
        assert settle(self.store, self.policy, obj.data_id, State.ERROR, by="poll",
                      reason="gave_up_after_3_scans").changed
        return self.get(obj.data_id)

    def get(self, record_id: str) -> VerdictRecord:
        record = self.store.get(record_id)
        assert record is not None
        return record


@pytest.fixture
def records(stack: LocalStack) -> Records:
    return Records(stack)


@pytest.fixture
def state_file(stack: LocalStack, tmp_path: Path) -> Path:
    """The local stack's state file, as `make review-demo` writes it."""
    path = tmp_path / "state.json"
    path.write_text(json.dumps(stack.to_json()), encoding="utf-8")
    return path


def greenlight(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "AWS_SAM_STACK_NAME": None})
    assert "Traceback" not in result.output
    return result


def one_line(result: Result, code: int) -> str:
    assert (result.exit_code, result.stdout) == (code, ""), result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("greenlight: "), result.stderr
    return result.stderr[len("greenlight: "):-1]


# -- the local stack ------------------------------------------------------------------------------------


def test_local_lookup_by_key_lists_every_version_newest_first(records: Records, state_file: Path) -> None:
    oldest = records.scanned(KEY, BLOCK)
    records.scanned("dir/other.png")
    newest = records.scanned(KEY, REVIEW)
    uri = f"s3://{records.stack.bucket}/{KEY}"

    as_json = greenlight("--state-file", str(state_file), "verdict", uri, "--json")
    table = greenlight("--local", "--state-file", str(state_file), "verdict", uri, "--version-id", "ver-1")

    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert [v["id"] for v in data["versions"]] == [newest.id, oldest.id]
    assert [(v["decision"], v["state"]) for v in data["versions"]] == [("review", "FINAL"), ("block", "FINAL")]
    assert table.exit_code == 0, table.output
    assert f"{uri}: 2 versions, newest first" in table.stdout
    assert "porn/porn: Green suggests block (scene not in policy)" in table.stdout  # ver-1's reasons


def test_local_review_approve_override_and_replay(records: Records, state_file: Path) -> None:
    # Given two versions waiting for review: one Green flagged, one that failed to be scanned
    flagged = records.scanned(KEY)
    failed = records.failed("broken.png")
    local = ["--state-file", str(state_file)]

    queue = greenlight(*local, "review", "list", "--json")
    assert queue.exit_code == 0, queue.output
    assert [(r["id"], r["why"]) for r in json.loads(queue.stdout)] == [
        (flagged.id, "porn/sexy: Green suggests review (scene not in policy)"),
        (failed.id, "ERROR gave_up_after_3_scans")]

    # When a person approves the first, then overrides it to block, and that override is replayed
    approved = greenlight(*local, "review", "approve", f"s3://{records.stack.bucket}/{KEY}", "--reason", "fine")
    block = ("override", flagged.id, "--decision", "block", "--reason", "no", "--request-id", "r-2")
    blocked = greenlight(*local, *block)
    after = records.get(flagged.id)
    replayed = greenlight(*local, *block)

    # Then each is recorded on the table under the local caller and the stack's policy, and the replay changes nothing
    assert approved.exit_code == 0 and blocked.exit_code == 0, approved.output + blocked.output
    actor = f"local:{os.environ.get('USER', 'operator')}"
    assert (after.state, after.decision, after.decision_rev) == (State.OVERRIDDEN, "block", flagged.decision_rev + 2)
    assert (after.policy_version, after.decision_mode) == ("default-1", "enforce")
    assert {k: after.override[k] for k in ("by", "previous_decision", "previous_state", "request_id")} == {
        "by": actor, "previous_decision": "pass", "previous_state": "OVERRIDDEN", "request_id": "r-2"}
    assert replayed.exit_code == 0, replayed.output
    assert replayed.stdout.startswith("already applied: request r-2")
    assert records.get(flagged.id) == after
    # and the decided version left the queue
    assert [r["id"] for r in json.loads(greenlight(*local, "review", "list", "--json").stdout)] == [failed.id]


def test_an_unreachable_local_stack_is_one_line(stack: LocalStack, tmp_path: Path, free_port: int) -> None:
    state = {**stack.to_json(), "endpoint": f"http://127.0.0.1:{free_port}"}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state), encoding="utf-8")

    result = greenlight("--state-file", str(path), "review", "list")

    assert one_line(result, 2) == (f"cannot reach the local stack at http://127.0.0.1:{free_port} "
                                   "(is `make review-demo` still running?)")


# -- a deployed stack, found by name -----------------------------------------------------------------------


def outputs_stack(stack: LocalStack, outputs: dict[str, str]) -> str:
    """A CloudFormation stack on moto with these outputs (what `sam deploy` leaves for the CLI to read)."""
    name = f"greenlight-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    stack.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def test_a_deployed_stack_is_found_by_its_outputs_and_the_caller_is_who_sts_says(records: Records) -> None:
    stack = records.stack
    name = outputs_stack(stack, {"TableName": stack.table, "BucketName": stack.bucket,
                                 "PolicyParameterName": stack.policy_parameter, "QuarantineBucketName": "",
                                 "ReviewerPolicyArn": "arn:aws:iam::123456789012:policy/reviewer",
                                 "LookupPolicyArn": "arn:aws:iam::123456789012:policy/lookup"})
    record = records.scanned(KEY)

    shown = greenlight("--stack", name, "--region", "us-east-1", "verdict", f"s3://{stack.bucket}/{KEY}", "--json")
    approved = CliRunner().invoke(app, ["review", "approve", record.id, "--reason", "fine"],
                                  env={"AWS_SAM_STACK_NAME": name})

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["selected"] == record.id
    assert approved.exit_code == 0, approved.output
    assert records.get(record.id).override["by"] == MOTO_CALLER


def test_no_such_stack_or_not_a_greenlight_stack_is_one_line(stack: LocalStack) -> None:
    other = outputs_stack(stack, {"TableName": stack.table})

    missing = greenlight("--stack", "no-such-stack", "--region", "us-east-1", "review", "list")
    foreign = greenlight("--stack", other, "--region", "us-east-1", "review", "list")

    assert one_line(missing, 2) == "no stack named 'no-such-stack' in us-east-1 (use --stack, or AWS_SAM_STACK_NAME)"
    assert one_line(foreign, 2) == (f"stack {other!r} is not a greenlight stack "
                                    "(no outputs BucketName, PolicyParameterName)")


# -- the installed command ------------------------------------------------------------------------------


def test_the_installed_command_prints_a_verdict_and_one_line_errors(records: Records, state_file: Path,
                                                                    tmp_path: Path) -> None:
    # `make` installs the console script into the venv that runs the tests
    command = Path(sys.executable).parent / "greenlight"
    records.scanned(KEY)
    env = {name: value for name, value in os.environ.items() if name not in ("AWS_SAM_STACK_NAME", "GREENLIGHT_DEBUG")}
    env["COLUMNS"] = "250"

    found = subprocess.run([str(command), "--state-file", str(state_file), "verdict",
                            f"s3://{records.stack.bucket}/{KEY}"], capture_output=True, text=True, env=env,
                           timeout=60, check=False)
    missing = subprocess.run([str(command), "--state-file", str(tmp_path / "none.json"), "review", "list"],
                             capture_output=True, text=True, env=env, timeout=60, check=False)

    assert found.returncode == 0, found.stderr
    assert f"s3://{records.stack.bucket}/{KEY}: 1 version, newest first" in found.stdout
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == (f"greenlight: no local stack ({tmp_path / 'none.json'} is missing: "
                              "run `make review-demo` first)\n")
