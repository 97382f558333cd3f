"""The `greenlight` command line on fakes: lookup by key across versions, the review queue, approve, block
and override (of an override, replayed), and every failure as one line on stderr with its exit code."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from typer.testing import CliRunner, Result

from fakes.reviews import InMemoryReviews
from fakes.verdict_store import InMemoryVerdictStore
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.green.wire import SceneResult, TaskResult
from greenlight.ports import PolicySource
from greenlight.scanning.results import apply_result, settle
from greenlight_cli.main import app
from greenlight_cli.session import Invocation, Options, Stack
from greenlight_cli.stack import CliError
from unit.conftest import BUCKET, World

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
ALICE = "arn:aws:iam::123456789012:user/alice"
REVIEWER_POLICY = "arn:aws:iam::123456789012:policy/greenlight-ReviewerPolicy-1AB"
LOOKUP_POLICY = "arn:aws:iam::123456789012:policy/greenlight-LookupPolicy-2CD"
KEY = "dir/ünï côde.png"
REVIEW = (SceneResult("porn", "sexy", "review", 87.5), SceneResult("terrorism", "normal", "pass", 99.25))
BLOCK = (SceneResult("porn", "porn", "block", 99.5),)
PASS = (SceneResult("porn", "normal", "pass", 99.9),)


@dataclass
class FakeStack:
    """A StackContext whose store, reviews and policy are the world's fakes."""

    world: World
    name: str = "greenlight"
    region: str = "us-east-1"
    table: str = "greenlight-VerdictTable-XYZ"
    bucket: str = BUCKET
    endpoint_url: str | None = None
    reviewer_policy_arn: str | None = REVIEWER_POLICY
    lookup_policy_arn: str | None = LOOKUP_POLICY
    actor: str = ALICE
    reviews: InMemoryReviews = field(init=False)

    def __post_init__(self) -> None:
        self.reviews = InMemoryReviews(self.world.store, self.world.clock)

    @property
    def store(self) -> InMemoryVerdictStore:
        return self.world.store

    @property
    def policy(self) -> PolicySource:
        return self.world.policy

    def caller(self) -> str:
        return self.actor


class Cli:
    """Runs `greenlight` in-process against a FakeStack, as a person would type it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.stack = FakeStack(world)
        self.connected: list[Options] = []
        self.runner = CliRunner()

    def connect(self, options: Options) -> Stack:
        self.connected.append(options)
        return self.stack

    def __call__(self, *args: str, connect: Callable[[Options], Stack] | None = None,
                 env: dict[str, str | None] | None = None) -> Result:
        environment: dict[str, str | None] = {"COLUMNS": "250", "AWS_SAM_STACK_NAME": None, "FORCE_COLOR": None,
                                              "GREENLIGHT_DEBUG": None, **(env or {})}
        result = self.runner.invoke(app, list(args), obj=Invocation(connect=connect or self.connect),
                                    env=environment)
        assert "Traceback" not in result.output
        return result

    # -- versions with verdicts ---------------------------------------------------------------------

    def scanned(self, key: str, scenes: Sequence[SceneResult] = REVIEW) -> VerdictRecord:
        """An upload of `key` (a new version) that Green answered with `scenes`, decided by the policy."""
        record = self.claimed(key)
        result = TaskResult(code=200, msg="OK", task_id=record.task_id, data_id=record.id, results=tuple(scenes))
        assert apply_result(self.world.store, self.world.policy, result, record_id=record.id, by="callback").changed
        return self.get(record.id)

    def failed(self, key: str, reason: str = "gave_up_after_3_scans") -> VerdictRecord:
        """An upload that could not be scanned (ERROR, which the policy sends to review)."""
        record = self.claimed(key)
        assert settle(self.world.store, self.world.policy, record.id, State.ERROR, by="poll", reason=reason).changed
        return self.get(record.id)

    def claimed(self, key: str) -> VerdictRecord:
        self.world.clock.advance(60)
        ref = self.world.objects.put(BUCKET, key, PNG)
        claim = self.world.store.claim(ref, lease_seconds=90, max_attempts=3, by="submit")
        assert claim.lease_token
        assert self.world.store.mark_pending(ref.data_id, lease_token=claim.lease_token, task_id=f"t-{ref.data_id}",
                                             due_at=0, url_expires_at=None, details={"size": len(PNG)}, by="submit")
        self.world.clock.advance(2)
        return self.get(ref.data_id)

    def get(self, record_id: str) -> VerdictRecord:
        record = self.world.store.get(record_id)
        assert record is not None
        return record


@pytest.fixture
def cli(world: World) -> Cli:
    return Cli(world)


def one_line(result: Result, code: int) -> str:
    """The single stderr line of a failed run (nothing on stdout)."""
    assert (result.exit_code, result.stdout) == (code, ""), result.output
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("greenlight: ")
    return result.stderr[len("greenlight: "):-1]


def denial(operation: str, code: str = "AccessDeniedException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "User: alice is not authorized"}}, operation)


def raising(error: Exception) -> Callable[..., NoReturn]:
    def fail(*_: Any, **__: Any) -> NoReturn:
        raise error

    return fail


# -- greenlight verdict ------------------------------------------------------------------------------


def test_verdict_lists_every_version_of_a_key_newest_first_and_shows_the_newest(cli: Cli) -> None:
    # Given three versions of one key (spaces and Unicode in it), and other keys beside it
    oldest, middle = cli.scanned(KEY, PASS), cli.scanned(KEY, BLOCK)
    cli.scanned("dir/other.png")
    newest = cli.scanned(KEY, REVIEW)

    # When a person looks the key up
    as_json = cli("verdict", f"s3://{BUCKET}/{KEY}", "--json")
    table = cli("verdict", f"s3://{BUCKET}/{KEY}")

    # Then every version is listed, newest first, and the newest is the one shown in full
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert [v["id"] for v in data["versions"]] == [newest.id, middle.id, oldest.id]
    assert [v["decision"] for v in data["versions"]] == ["review", "block", "pass"]
    assert (data["object"], data["selected"]) == (f"s3://{BUCKET}/{KEY}", newest.id)
    assert data["versions"][0]["scenes"] == newest.scenes
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert f"s3://{BUCKET}/{KEY}: 3 versions, newest first" in out
    positions = [out.index(str(r.version_id)) for r in (newest, middle, oldest)]
    assert positions == sorted(positions)
    assert "porn/sexy: Green suggests review (scene not in policy)" in out  # the newest one's reasons
    assert "87.5" in out and "sexy" in out  # and its scenes


@pytest.mark.parametrize("how", ["option", "uri"])
def test_verdict_shows_the_version_asked_for(cli: Cli, how: str) -> None:
    older = cli.scanned(KEY, BLOCK)
    cli.scanned(KEY, PASS)
    args = (["--version-id", str(older.version_id)] if how == "option"
            else []) + [f"s3://{BUCKET}/{KEY}" + (f"?versionId={older.version_id}" if how == "uri" else "")]

    result = cli("verdict", *args, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["selected"] == older.id


def test_verdict_tells_the_writes_of_an_unversioned_key_apart_by_record_id(cli: Cli) -> None:
    # Given the same key written twice in an unversioned bucket (version id "null" both times)
    cli.world.objects.versioned = False
    first, second = cli.scanned(KEY, BLOCK), cli.scanned(KEY, REVIEW)
    assert first.version_id == second.version_id == "null"

    listed = cli("verdict", f"s3://{BUCKET}/{KEY}")
    picked = cli("verdict", f"s3://{BUCKET}/{KEY}", "--version-id", first.id, "--json")

    assert listed.exit_code == 0, listed.output
    assert listed.stdout.index(second.id) < listed.stdout.index(first.id)
    assert json.loads(picked.stdout)["selected"] == first.id


def test_verdict_shows_the_override_what_was_done_and_greens_feedback(cli: Cli) -> None:
    # Given a blocked version a person approved, enforced and reported to Green
    record = cli.scanned(KEY, BLOCK)
    assert cli("review", "approve", record.id, "--reason", "a [bold]beach[/bold] photo").exit_code == 0
    approved = cli.get(record.id)
    assert cli.world.store.record_enforcement(
        record.id, decision_rev=approved.decision_rev, entries=[],
        enforcement={"decision_rev": approved.decision_rev, "decision": "pass", "enforced": True,
                     "actions": ["restored to dir/ünï côde.png (version v0009)", "tagged pass"], "at": "t"})
    assert cli.stack.reviews.record_feedback(record.id, {"decision_rev": approved.decision_rev, "attempts": 1,
                                                         "sent": True, "status": "accepted", "at": "t2"})

    result = cli("verdict", f"s3://{BUCKET}/{KEY}")

    assert result.exit_code == 0, result.output
    out = result.stdout
    for shown in (ALICE, "a [bold]beach[/bold] photo", "block (FINAL) -> pass", "OVERRIDDEN",
                  "restored to dir/ünï côde.png (version v0009)", "accepted (sent, attempt 1, at t2)"):
        assert shown in out, shown


def test_verdict_says_what_is_still_to_be_done_after_an_override(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)
    assert cli("override", record.id, "--decision", "block", "--reason", "spam").exit_code == 0

    out = cli("verdict", f"s3://{BUCKET}/{KEY}").stdout

    assert "enforcement pending" in out
    assert "pending: the enforce function acts on it shortly (nothing yet)" in out
    assert "pending: sent by the enforce function after it acts" in out


# -- greenlight review list ----------------------------------------------------------------------------


def test_the_review_queue_lists_review_decisions_oldest_first_with_what_put_them_there(cli: Cli) -> None:
    # Given versions decided review (Green's suggestion, and a scan that failed for good), and others
    first = cli.scanned("a.png", REVIEW)
    cli.scanned("b.png", PASS)
    failed = cli.failed("c.png")
    cli.scanned("d.png", BLOCK)
    last = cli.scanned("e.png", REVIEW)

    listed = cli("review", "list", "--json")
    table = cli("review", "list")
    limited = cli("review", "list", "--limit", "2", "--json")

    assert listed.exit_code == 0, listed.output
    queue = json.loads(listed.stdout)
    assert [r["id"] for r in queue] == [first.id, failed.id, last.id]
    green = "porn/sexy: Green suggests review (scene not in policy); terrorism/normal: pass"
    assert [r["why"] for r in queue] == [green, "ERROR gave_up_after_3_scans", green]
    assert [r["id"] for r in json.loads(limited.stdout)] == [first.id, failed.id]
    out = table.stdout
    assert "review queue: 3 shown, oldest first" in out
    assert [out.index(r.id) for r in (first, failed, last)] == sorted(out.index(r.id) for r in (first, failed, last))
    assert "porn/sexy 87.5, terrorism/normal 99.25" in out


def test_a_decided_version_leaves_the_queue_and_an_empty_queue_says_so(cli: Cli) -> None:
    record = cli.scanned("a.png", REVIEW)
    failed = cli.failed("b.png")

    assert cli("review", "approve", record.id, "--reason", "fine").exit_code == 0
    assert [r["id"] for r in json.loads(cli("review", "list", "--json").stdout)] == [failed.id]
    assert cli("review", "block", failed.id, "--reason", "unreadable upload").exit_code == 0

    result = cli("review", "list")
    assert (result.exit_code, result.stdout) == (0, "the review queue is empty\n")


# -- approve, block, override ----------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "decision"), [(["review", "approve"], "pass"), (["review", "block"], "block"),
                                                   (["override", "--decision", "block"], "block")])
def test_a_reviewers_decision_is_recorded_with_their_identity(cli: Cli, command: list[str], decision: str) -> None:
    record = cli.scanned(KEY, REVIEW)

    result = cli(*command, record.id, "--reason", "looked at it")

    assert result.exit_code == 0, result.output
    after = cli.get(record.id)
    assert (after.state, after.decision, after.decision_rev) == (State.OVERRIDDEN, decision, record.decision_rev + 1)
    assert {k: after.override[k] for k in ("by", "reason", "decision", "previous_decision")} == {
        "by": ALICE, "reason": "looked at it", "decision": decision, "previous_decision": "review"}
    lines = result.stdout.splitlines()
    assert lines[0] == f"s3://{BUCKET}/{KEY} (version {record.version_id}): review -> {decision}, by {ALICE}"
    assert lines[1].startswith(f"request {after.override['request_id']} ")
    assert lines[-1] == ("enforcement and feedback to Green follow shortly: "
                         f"greenlight verdict 's3://{BUCKET}/{KEY}' --version-id {record.version_id}")


def test_an_override_can_name_the_object_instead_of_the_record(cli: Cli) -> None:
    older = cli.scanned(KEY, REVIEW)
    newest = cli.scanned(KEY, REVIEW)

    assert cli("review", "approve", f"s3://{BUCKET}/{KEY}", "--reason", "ok").exit_code == 0
    assert cli("review", "block", f"s3://{BUCKET}/{KEY}?versionId={older.version_id}", "--reason", "no").exit_code == 0

    assert (cli.get(newest.id).decision, cli.get(older.id).decision) == ("pass", "block")


def test_an_override_of_an_override(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)
    assert cli("review", "approve", record.id, "--reason", "fine").exit_code == 0
    cli.stack.actor = "arn:aws:sts::123456789012:assumed-role/reviewers/bob"

    result = cli("override", record.id, "--decision", "BLOCK", "--reason", "not fine after all")

    assert result.exit_code == 0, result.output
    after = cli.get(record.id)
    assert (after.decision, after.decision_rev) == ("block", record.decision_rev + 2)
    assert {k: after.override[k] for k in ("by", "previous_decision", "previous_state")} == {
        "by": cli.stack.actor, "previous_decision": "pass", "previous_state": "OVERRIDDEN"}
    assert result.stdout.splitlines()[0].endswith(f"pass -> block, by {cli.stack.actor}")


def test_a_replayed_override_changes_nothing_and_succeeds(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)
    args = ("review", "approve", record.id, "--reason", "fine", "--request-id", "req-7")
    assert cli(*args).exit_code == 0
    applied = cli.get(record.id)
    cli.world.clock.advance(30)

    again = cli(*args)

    assert again.exit_code == 0, again.output
    assert again.stdout == (f"already applied: request req-7 is recorded on {record.id} (s3://{BUCKET}/{KEY}); "
                            "its decision is pass\n")
    assert cli.get(record.id) == applied


def test_a_replay_by_key_stays_on_the_version_it_was_applied_to(cli: Cli) -> None:
    # Given an approval by key (the newest version then), and a newer upload of the key since
    record = cli.scanned(KEY, REVIEW)
    args = ("review", "approve", f"s3://{BUCKET}/{KEY}", "--reason", "fine", "--request-id", "req-8")
    assert cli(*args).exit_code == 0
    newer = cli.scanned(KEY, REVIEW)

    # When the approval is retried
    again = cli(*args)

    # Then it is the same approval, and the newer version still waits for a person
    assert again.stdout.startswith(f"already applied: request req-8 is recorded on {record.id} ")
    assert cli.get(newer.id) == newer


def test_an_override_in_a_shadow_policy_says_it_is_recorded_only(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)
    policy = cli.world.policy
    policy.policy = type(policy.policy)(**{**policy.policy.__dict__, "mode": "shadow"})

    result = cli("review", "block", record.id, "--reason", "spam")

    assert result.exit_code == 0, result.output
    assert "is in shadow mode: the decision is recorded, not carried out" in result.stdout
    assert cli.get(record.id).decision_mode == "shadow"


# -- one line for every failure -------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "code", "line"), [
    (["verdict", "uploads/a.png"], 2, "not an s3:// URI: 'uploads/a.png' (expected s3://bucket/key)"),
    (["verdict", "s3://uploads"], 2, "not an object's URI: 's3://uploads' (expected s3://bucket/key)"),
    (["verdict", "s3://uploads/"], 2, "not an object's URI: 's3://uploads/' (expected s3://bucket/key)"),
    (["verdict", "s3:///a.png"], 2, "not an object's URI: 's3:///a.png' (expected s3://bucket/key)"),
    (["review", "approve", "a.png", "--reason", "x"], 2,
     "not a record id or an s3:// URI: 'a.png' (expected v-<32 hex digits> or s3://bucket/key[?versionId=V])"),
], ids=["no-scheme", "no-key", "empty-key", "no-bucket", "not-an-id"])
def test_a_bad_uri_or_id_is_one_line_before_aws_is_asked(cli: Cli, args: list[str], code: int, line: str) -> None:
    result = cli(*args)

    assert one_line(result, code) == line
    assert cli.connected == []


def test_no_such_object_version_or_record(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)
    missing = "v-" + "0" * 32

    assert one_line(cli("verdict", f"s3://{BUCKET}/missing.png"), 1) == (
        f"no verdict for s3://{BUCKET}/missing.png (not uploaded, not seen yet, or outside the stack's key filter)")
    assert one_line(cli("verdict", f"s3://elsewhere/{KEY}"), 1) == (
        f"no verdict for s3://elsewhere/{KEY} (not uploaded, not seen yet, or outside the stack's key filter; "
        f"stack 'greenlight' moderates s3://{BUCKET})")
    assert one_line(cli("verdict", f"s3://{BUCKET}/{KEY}", "--version-id", "v9999"), 1) == (
        f"s3://{BUCKET}/{KEY} has no version 'v9999' with a verdict (its versions: {record.version_id})")
    assert one_line(cli("review", "approve", missing, "--reason", "x"), 1) == f"no verdict record {missing}"


def test_a_refused_override_is_one_line_and_changes_nothing(cli: Cli) -> None:
    pending = cli.claimed(KEY)
    decided = cli.scanned("other.png", REVIEW)

    assert one_line(cli("review", "approve", pending.id, "--reason", "x"), 1) == (
        f"{pending.id} has no decision yet (PENDING); wait for its verdict")
    assert one_line(cli("review", "block", decided.id, "--reason", " "), 1) == (
        "a reason is required: say why the decision is wrong")
    assert (cli.get(pending.id), cli.get(decided.id)) == (pending, decided)


def test_no_stack_is_one_line(cli: Cli) -> None:
    # The stack is looked up by --stack, else AWS_SAM_STACK_NAME, else "greenlight"
    def no_stack(options: Options) -> Stack:
        cli.connected.append(options)
        raise CliError(f"no stack named {options.stack!r} in {options.region} (use --stack, or AWS_SAM_STACK_NAME)")

    named = cli("--stack", "nope", "--region", "eu-west-1", "review", "list", connect=no_stack)
    from_env = cli("review", "list", connect=no_stack, env={"AWS_SAM_STACK_NAME": "mine"})

    assert one_line(named, 2) == "no stack named 'nope' in eu-west-1 (use --stack, or AWS_SAM_STACK_NAME)"
    assert one_line(from_env, 2).startswith("no stack named 'mine'")
    assert cli.connected == [Options(stack="nope", region="eu-west-1"), Options(stack="mine")]


def test_a_missing_local_stack_is_one_line(cli: Cli, tmp_path: Any) -> None:
    from greenlight_cli.session import connect

    state = tmp_path / "state.json"
    assert one_line(cli("--state-file", str(state), "review", "list", connect=connect), 2) == (
        f"no local stack ({state} is missing: run `make review-demo` first)")
    state.write_text('{"endpoint": "http://127.0.0.1:1"}', encoding="utf-8")
    assert one_line(cli("--local", "--state-file", str(state), "review", "list", connect=connect), 2) == (
        f"{state} is not a local stack's state file")


@pytest.mark.parametrize(("operation", "where", "line"), [
    ("Query", "versions_of", "not allowed to read verdicts (dynamodb:Query): attach the stack's LookupPolicy "
                             f"({LOOKUP_POLICY}) or ReviewerPolicy ({REVIEWER_POLICY}) to your IAM identity"),
    ("UpdateItem", "override", "not allowed to record overrides (dynamodb:UpdateItem): attach the stack's "
                               f"ReviewerPolicy ({REVIEWER_POLICY}) to your IAM identity"),
])
def test_no_permission_names_the_policy_to_attach(cli: Cli, monkeypatch: pytest.MonkeyPatch, operation: str,
                                                   where: str, line: str) -> None:
    record = cli.scanned(KEY, REVIEW)
    monkeypatch.setattr(cli.stack.reviews, where, raising(denial(operation)))

    result = cli("review", "approve", f"s3://{BUCKET}/{KEY}", "--reason", "fine")

    assert one_line(result, 2) == line
    assert cli.get(record.id) == record


def test_an_unreadable_policy_refuses_the_override(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)
    cli.world.policy.problem = ("/greenlight/moderation-policy: could not be read (GetParameterError: An error "
                                "occurred (AccessDeniedException) when calling the GetParameter operation: denied)")

    denied = cli("review", "approve", record.id, "--reason", "fine")
    cli.world.policy.problem = "version: must be 1 to 64 letters, digits, '.', '_' or '-'"
    invalid = cli("review", "approve", record.id, "--reason", "fine")

    assert one_line(denied, 2) == ("not allowed to read the moderation policy (ssm:GetParameter): attach the stack's "
                                   f"ReviewerPolicy ({REVIEWER_POLICY}) to your IAM identity")
    assert one_line(invalid, 2) == ("the moderation policy cannot be used (version: must be 1 to 64 letters, digits, "
                                    "'.', '_' or '-'); fix it before overriding")
    assert cli.get(record.id) == record


@pytest.mark.parametrize(("error", "line", "code"), [
    (denial("Query", "ExpiredTokenException"),
     "AWS refused your credentials (ExpiredTokenException): sign in again (aws sso login, or check AWS_PROFILE)", 2),
    (ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}}, "Query"),
     "the verdict table of stack 'greenlight' (greenlight-VerdictTable-XYZ in us-east-1) does not exist: "
     "was the stack deleted?", 2),
    (ClientError({"Error": {"Code": "ValidationException",
                            "Message": "The table does not have the specified index: review"}}, "Query"),
     "the verdict table of stack 'greenlight' (greenlight-VerdictTable-XYZ in us-east-1) has no lookup and review "
     "indexes: deploy the current template (make deploy)", 2),
    (ClientError({"Error": {"Code": "InternalServerError", "Message": "try\nagain"}}, "Query"),
     "Query failed: InternalServerError: try again", 1),
    (EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/"),
     'cannot reach AWS: Could not connect to the endpoint URL: "https://dynamodb.us-east-1.amazonaws.com/"', 2),
    (RuntimeError("boom"), "unexpected error: RuntimeError: boom (GREENLIGHT_DEBUG=1 shows the traceback)", 1),
], ids=["expired", "no-table", "no-index", "other", "unreachable", "bug"])
def test_aws_failures_are_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch, error: Exception, line: str,
                                   code: int) -> None:
    monkeypatch.setattr(cli.stack.reviews, "review_queue", raising(error))

    assert one_line(cli("review", "list"), code) == line


def test_greenlight_debug_lets_a_bug_through_with_its_traceback(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.stack.reviews, "review_queue", raising(RuntimeError("boom")))

    result = cli.runner.invoke(app, ["review", "list"], obj=Invocation(connect=cli.connect),
                               env={"GREENLIGHT_DEBUG": "1"})

    assert isinstance(result.exception, RuntimeError) and result.stderr == ""


def test_an_unreachable_local_stack_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.stack.endpoint_url = "http://127.0.0.1:4566"
    monkeypatch.setattr(cli.stack.reviews, "versions_of",
                        raising(EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")))

    assert one_line(cli("verdict", f"s3://{BUCKET}/{KEY}"), 2) == (
        "cannot reach the local stack at http://127.0.0.1:4566 (is `make review-demo` still running?)")


def test_usage_errors_exit_2_without_a_traceback(cli: Cli) -> None:
    record = cli.scanned(KEY, REVIEW)

    for args in (["override", record.id, "--decision", "maybe", "--reason", "x"],
                 ["review", "approve", record.id], ["verdict"], ["nope"]):
        result = cli(*args)
        assert result.exit_code == 2, args
        assert result.stdout == "" and "Traceback" not in result.stderr
    assert cli.get(record.id) == record
    assert cli.connected == []
