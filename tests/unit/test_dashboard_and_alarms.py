"""The alarms and the dashboard read metrics the code really emits, with the dimensions it emits them
under; and the metrics they need that no earlier code emitted (the age of the oldest unfinished record,
time to verdict, first decisions, Green refusing our keys while polling) are emitted."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import enforce_handler
import poll_handler
from greenlight.domain.outcomes import CALLBACK_REJECTED_METRIC, Measure, Outcome, Tally
from greenlight.domain.record import VerdictRecord, iso
from greenlight.domain.states import State
from greenlight.green.errors import GreenAuthError
from greenlight.runtime.batching import Deferred
from greenlight.runtime.config import EnforceSettings
from greenlight_local.cfn import Resolver, load_template
from greenlight_local.context import LambdaContext
from poll_logic import Poller, oldest_unfinished_age
from submit_logic import submit_batch
from unit.conftest import BUCKET, World

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ALARMS = {lid: spec for lid, spec in RESOURCES.items() if spec["Type"] == "AWS::CloudWatch::Alarm"}
NAMESPACE = "Greenlight"
STACK = "greenlight-test"
# Every metric the functions emit: each Outcome and Measure (their values are the metric names), and the
# rejections the callback function counts by reason.
EMITTED = {o.value for o in Outcome} | {m.value for m in Measure} | {CALLBACK_REJECTED_METRIC}
# The service dimension Powertools gives each function's metrics (POWERTOOLS_SERVICE_NAME).
SERVICES = {Resolver(TEMPLATE, stack_name=STACK).resolve(spec["Properties"]["Environment"]["Variables"][
    "POWERTOOLS_SERVICE_NAME"]) for spec in RESOURCES.values() if spec["Type"] == "AWS::Serverless::Function"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


LAYER = ROOT / "layers" / "greenlight"
# What the outcomes module's own lookups give (the module itself is not scanned: it names every metric).
FOLDS: dict[str, set[str]] = {
    "for_terminal": {str(o) for o in (Outcome.VERDICT_PASS, Outcome.VERDICT_REVIEW, Outcome.VERDICT_BLOCK,
                                      Outcome.SKIPPED, Outcome.ERRORED, Outcome.SUPERSEDED)},
    "for_decision": {str(o) for o in (Outcome.DECISION_PASS, Outcome.DECISION_REVIEW, Outcome.DECISION_BLOCK)},
    "CALLBACK_REJECTED_METRIC": {CALLBACK_REJECTED_METRIC},
}


@cache
def emitted_by(function: str) -> frozenset[str]:
    """The metric names a function's code can emit: every Outcome and Measure member named in the modules
    its handler imports, transitively (its own folder and the layer), read from the source. The composition
    root (runtime/components.py) is not followed: it builds adapters for every function, and adapters
    report no outcomes."""
    folder = ROOT / "functions" / function
    todo, seen, names = [folder / f"{function}_handler.py"], set(), set()
    while todo:
        path = todo.pop()
        if path in seen or path.name in ("outcomes.py", "components.py"):
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for module in modules:
                    for candidate in (LAYER / (module.replace(".", "/") + ".py"), folder / f"{module}.py"):
                        if candidate.is_file():
                            todo.append(candidate)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "Outcome" and node.attr in Outcome.__members__:
                    names.add(Outcome[node.attr].value)
                elif node.value.id == "Measure" and node.attr in Measure.__members__:
                    names.add(Measure[node.attr].value)
                names |= FOLDS.get(node.attr, set())
            elif isinstance(node, ast.Name):
                names |= FOLDS.get(node.id, set())
    return frozenset(names)


def rejection_reasons() -> set[str]:
    """The `reason` values the callback function counts CallbackRejected under, read from its code."""
    code = "".join((ROOT / "functions" / "callback" / name).read_text(encoding="utf-8")
                   for name in ("callback_logic.py", "callback_handler.py"))
    return set(re.findall(r'_reject\(\d+, "(\w+)"', code)) | set(re.findall(r'rejection="(\w+)"', code))


@dataclass(frozen=True)
class MetricUse:
    where: str
    namespace: str
    name: str
    dimensions: dict[str, str]


def resolve(value: Any) -> Any:
    resolver = Resolver(TEMPLATE, stack_name=STACK)
    for logical_id in RESOURCES:
        resolver.set_resource(logical_id, logical_id, Arn=f"arn:{logical_id}", QueueName=f"queue-{logical_id}")
    return resolver.resolve(value)


def dashboard() -> dict[str, Any]:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = {"AWS::StackName": STACK, "AWS::Region": "us-east-1"}
    text = re.sub(r"\$\{([^}]+)\}", lambda m: names.get(m.group(1), f"<{m.group(1)}>"), body)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def dashboard_metrics() -> list[MetricUse]:
    uses = []
    for widget in dashboard()["widgets"]:
        title = widget["properties"].get("title", "")
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):  # an expression: SEARCH names its metric
                for name in re.findall(r'MetricName="(\w+)"', row[0]["expression"]):
                    service = re.search(r'service="([^"]+)"', row[0]["expression"])
                    uses.append(MetricUse(title, NAMESPACE, name, {"service": service.group(1) if service else ""}))
                continue
            values = [item for item in row if not isinstance(item, dict)]
            namespace, name, *pairs = values
            uses.append(MetricUse(title, namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return uses


def alarm_metrics() -> list[MetricUse]:
    uses = []
    for logical_id, spec in ALARMS.items():
        props = resolve(spec["Properties"])
        if "MetricName" in props:
            uses.append(MetricUse(logical_id, props["Namespace"], props["MetricName"],
                                  {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}))
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                uses.append(MetricUse(logical_id, metric["Namespace"], metric["MetricName"],
                                      {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}))
    return uses


# -- the template reads what the code emits -------------------------------------------------------------


@pytest.mark.parametrize("use", [*dashboard_metrics(), *alarm_metrics()], ids=lambda u: f"{u.where}:{u.name}")
def test_every_metric_named_is_one_the_code_emits_under_a_service_the_stack_has(use: MetricUse) -> None:
    if use.namespace == NAMESPACE:
        assert use.name in EMITTED, f"{use.where} reads {use.name}, which nothing emits"
        assert use.dimensions.get("service") in SERVICES, use
        function = use.dimensions["service"].removeprefix(f"{STACK}-")
        assert use.name in emitted_by(function), f"{use.where} reads {use.name} from {function}, which never emits it"
        assert set(use.dimensions) <= {"service", "reason"}
        if "reason" in use.dimensions:
            assert use.name == CALLBACK_REJECTED_METRIC
            assert use.dimensions["reason"] in rejection_reasons(), use
    else:  # AWS's own metrics, of this stack's resources
        assert use.namespace in {"AWS/SQS", "AWS/Lambda"}, use
        [(dimension, value)] = use.dimensions.items()
        assert dimension in {"QueueName", "FunctionName"}
        resource = value.removeprefix("queue-").removeprefix("<").removesuffix(">").split(".")[0]
        assert RESOURCES[resource]["Type"] in {"AWS::SQS::Queue", "AWS::Serverless::Function"}, use


def test_what_each_function_emits_is_read_from_its_code() -> None:
    # A check of the check: the scan finds what each function is known to emit, and not what it is not.
    assert {Outcome.MESSAGE_RECEIVED, Outcome.SCAN_REQUEST, Outcome.BUDGET_EXHAUSTED, Outcome.GREEN_AUTH_FAILED,
            Outcome.VERDICT_BLOCK} <= emitted_by("submit")
    assert {Measure.OLDEST_UNFINISHED_AGE, Outcome.RESULT_REQUEST, Outcome.RECOVERED} <= emitted_by("poll")
    assert {CALLBACK_REJECTED_METRIC, Outcome.CALLBACK_APPLIED, Outcome.ERRORED} <= emitted_by("callback")
    assert {Measure.VERDICT_LATENCY, Outcome.DECISION_PASS, Outcome.ENFORCED} <= emitted_by("enforce")
    assert Outcome.CALLBACK_APPLIED not in emitted_by("submit")
    assert Outcome.MESSAGE_RECEIVED not in emitted_by("callback")
    assert Measure.VERDICT_LATENCY not in emitted_by("poll")
    assert Outcome.GREEN_AUTH_FAILED not in emitted_by("enforce")  # its Green calls count as FeedbackFailed


def test_the_alarms_the_issue_asks_for_exist() -> None:
    by_metric: dict[str, set[str]] = {}
    for use in alarm_metrics():
        by_metric.setdefault(use.name, set()).add(use.dimensions.get("QueueName", use.dimensions.get("service", "")))
    # every dead-letter queue, and the age of the oldest message of the queues that feed functions
    assert by_metric["ApproximateNumberOfMessagesVisible"] == {
        "queue-DeadLetterQueue", "queue-EventDeliveryDeadLetterQueue", "queue-EnforcementDeadLetterQueue"}
    assert by_metric["ApproximateAgeOfOldestMessage"] == {"queue-ScanQueue", "queue-EnforcementRetryQueue"}
    for metric in (Measure.OLDEST_UNFINISHED_AGE, Outcome.GREEN_AUTH_FAILED, Outcome.ERRORED, Outcome.POLICY_INVALID,
                   Outcome.BUDGET_EXHAUSTED, CALLBACK_REJECTED_METRIC):
        assert metric in by_metric, metric
    # Green refusing our keys is seen wherever the keys are used
    assert by_metric[Outcome.GREEN_AUTH_FAILED] == {f"{STACK}-submit", f"{STACK}-poll"}
    # callback rejections: the reasons that pass the route, not unknown paths or methods (internet noise)
    reasons = {u.dimensions["reason"] for u in alarm_metrics() if u.name == CALLBACK_REJECTED_METRIC}
    assert reasons == rejection_reasons() - {"no_route", "wrong_method"}


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_every_alarm_notifies_the_topic_and_stays_quiet_without_data(logical_id: str) -> None:
    props = ALARMS[logical_id]["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}] and props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert props["TreatMissingData"] == "notBreaching"
    assert len(props["AlarmDescription"]) > 40
    expressions = [q for q in props.get("Metrics", []) if "Expression" in q]
    if expressions:  # metric math: one result, from metrics the alarm defines
        [result] = expressions
        ids = {q["Id"] for q in props["Metrics"] if "MetricStat" in q}
        assert set(re.findall(r"\b([a-z]\w*)\b", result["Expression"])) - {"FILL"} <= ids
        assert len(props["Metrics"]) <= 10


def test_the_unfinished_records_alarm_looks_back_over_the_longest_backoff() -> None:
    # A stranded record waiting out a backoff (up to an hour) is seen only when due: any point of the
    # last hour counts.
    props = ALARMS["UnfinishedRecordsAlarm"]["Properties"]
    [stat] = [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]
    assert stat["Stat"] == "Maximum"
    assert stat["Period"] * props["EvaluationPeriods"] >= 3600 and props["DatapointsToAlarm"] == 1
    assert props["Threshold"] == {"Ref": "MaxUnfinishedMinutes"}


def test_the_dashboard_shows_every_alarm_but_the_optional_one() -> None:
    shown = {arn.strip("<>").removesuffix(".Arn") for widget in dashboard()["widgets"]
             for arn in widget["properties"].get("alarms", [])}
    assert shown == {lid for lid, spec in ALARMS.items() if "Condition" not in spec}


def test_the_dashboard_shows_the_pipeline() -> None:
    titles = {w["properties"].get("title") for w in dashboard()["widgets"]}
    assert {"Uploads", "Green requests", "Verdicts by decision (first decisions)",
            "Time to verdict (upload to final, seconds)", "Callbacks and rejections",
            "Queues (messages visible)"} <= titles
    names = {use.name for use in dashboard_metrics()}
    assert {Outcome.DECISION_PASS, Outcome.DECISION_REVIEW, Outcome.DECISION_BLOCK, Measure.VERDICT_LATENCY,
            Outcome.SCAN_REQUEST, Outcome.MESSAGE_RECEIVED, CALLBACK_REJECTED_METRIC} <= names


# -- the code emits them ---------------------------------------------------------------------------------


def emf(output: str) -> dict[str, list[float]]:
    """Metric name -> values, from the EMF blobs a handler printed."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return found


def record(created: float, state: State = State.PENDING) -> VerdictRecord:
    return VerdictRecord(id="v-" + "0" * 32, bucket=BUCKET, key="k", state=state, created_at=iso(created))


def test_the_oldest_unfinished_age_is_that_of_the_oldest_due_record_and_zero_for_none() -> None:
    now = 1_800_000_000.0
    assert oldest_unfinished_age([record(now - 30), record(now - 4000), record(now - 10)], now) == 4000
    assert oldest_unfinished_age([], now) == 0.0
    assert oldest_unfinished_age([record(now - 9999, State.FINAL)], now) == 0.0


def test_the_poll_handler_emits_the_oldest_unfinished_age(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a version submitted ten minutes ago whose task Green is still processing
    ref = world.objects.put(BUCKET, "uploads/slow.png", PNG)
    world.green.processing.add(ref.data_id)
    submit_batch([Deferred("m-1", [ref])], submission=world.submission(), settings=world.submit_settings(),
                 budget=world.budget(), tally=Tally())
    world.clock.advance(600)

    # When the poll function runs
    poll_handler.dependencies.override(Poller(world.submission(by="poll"), world.poll_settings()))
    try:
        poll_handler.lambda_handler({"id": "run-1", "detail-type": "Scheduled Event"}, LambdaContext("poll", 30))
    finally:
        poll_handler.dependencies.override(None)

    # Then it reports the record's age
    assert emf(capsys.readouterr().out)[Measure.OLDEST_UNFINISHED_AGE] == [600.0]


def test_results_requests_refused_for_our_keys_count_as_green_auth_failed(world: World) -> None:
    ref = world.objects.put(BUCKET, "uploads/a.png", PNG)
    submit_batch([Deferred("m-1", [ref])], submission=world.submission(), settings=world.submit_settings(),
                 budget=world.budget(), tally=Tally())
    world.clock.advance(120)
    world.green.fail_next.append(GreenAuthError("refused", code="InvalidAccessKeyId.NotFound"))
    tally = Tally()

    Poller(world.submission(by="poll"), world.poll_settings()).run(budget=world.budget(), tally=tally)

    assert tally[Outcome.GREEN_AUTH_FAILED] == 1


def stream_record(decision_rev: int, decision: str, created: str | None, finished: str | None) -> dict[str, Any]:
    image: dict[str, Any] = {"id": {"S": "v-" + "1" * 32}, "decision_rev": {"N": str(decision_rev)},
                             "decision": {"S": decision}}
    if created:
        image["created_at"] = {"S": created}
    if finished:
        image["finished_at"] = {"S": finished}
    old = {"id": image["id"], "decision_rev": {"N": str(decision_rev - 1)}} if decision_rev > 1 else {}
    return {"eventSource": "aws:dynamodb", "eventID": f"e-{decision_rev}",
            "dynamodb": {"SequenceNumber": str(decision_rev), "NewImage": image, "OldImage": old}}


@pytest.mark.parametrize(("rev", "decision", "created", "finished", "expected"), [
    (1, "block", "2026-12-03T10:00:00.000Z", "2026-12-03T10:00:12.500Z", (Outcome.DECISION_BLOCK, 12.5)),
    (1, "pass", "2026-12-03T10:00:00.000Z", None, (Outcome.DECISION_PASS, None)),
    (2, "pass", "2026-12-03T10:00:00.000Z", "2026-12-03T11:00:00.000Z", (None, None)),  # an override: not a verdict
    (1, "review", "not a time", "2026-12-03T10:00:00.000Z", (Outcome.DECISION_REVIEW, None)),
])
def test_a_first_decision_counts_by_decision_with_its_time_to_verdict(
        rev: int, decision: str, created: str | None, finished: str | None,
        expected: tuple[Outcome | None, float | None]) -> None:
    assert enforce_handler.first_decision(stream_record(rev, decision, created, finished)) == expected


class QuietEnforcer:
    def __init__(self) -> None:
        self.done: list[Any] = []

    def enforce(self, work: Any, tally: Tally) -> None:
        self.done.append(work)


class NoPolicy:
    problem = None


def test_the_enforce_handler_emits_first_decisions_and_time_to_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    settings = EnforceSettings.from_env({"TABLE_NAME": "t", "POLICY_PARAMETER": "/p", "BLOCK_ACTION": "none",
                                         "ENFORCEMENT_RETRY_QUEUE_URL": "https://sqs.example/retry"})
    enforcer = QuietEnforcer()
    enforce_handler.dependencies.override(enforce_handler.EnforceDependencies(
        settings, enforcer, None, NoPolicy()))  # type: ignore[arg-type]
    event = {"Records": [stream_record(1, "block", "2026-12-03T10:00:00.000Z", "2026-12-03T10:00:04.000Z"),
                         stream_record(1, "pass", "2026-12-03T10:00:00.000Z", "2026-12-03T10:00:09.000Z"),
                         stream_record(2, "pass", "2026-12-03T10:00:00.000Z", "2026-12-03T12:00:00.000Z")]}
    try:
        enforce_handler.lambda_handler(event, LambdaContext("enforce", 30))
    finally:
        enforce_handler.dependencies.override(None)

    metrics = emf(capsys.readouterr().out)
    assert metrics[Outcome.DECISION_BLOCK] == [1] and metrics[Outcome.DECISION_PASS] == [1]
    assert sorted(metrics[Measure.VERDICT_LATENCY]) == [4.0, 9.0]
    assert len(enforcer.done) == 3  # the override is still enforced; it is only not a first verdict

