"""Enforce function: the verdict table's stream (and its own retry queue) -> actions on objects, events."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from enforce_logic import Enforcer, Work, retry_message, work_from_message, work_from_stream
from greenlight.domain.outcomes import Measure, Outcome, Tally
from greenlight.domain.record import epoch_of
from greenlight.ports import PolicySource, RetryQueue
from greenlight.runtime.components import (
    Dependencies,
    enforcer_ports,
    green_client,
    green_keys,
    policy_source,
    reviews,
)
from greenlight.runtime.config import EnforceSettings
from greenlight.runtime.observability import instrument, logger, measure, metrics, publish


@dataclass(frozen=True)
class EnforceDependencies:
    settings: EnforceSettings
    enforcer: Enforcer
    retry: RetryQueue
    policy: PolicySource


def build() -> EnforceDependencies:
    settings = EnforceSettings.from_env(os.environ)
    policy = policy_source(settings.policy)
    store, actions, events, known, retry = enforcer_ports(settings)
    green = green_client(settings.green, green_keys(settings.secrets)) if settings.secrets else None
    enforcer = Enforcer(store=store, actions=actions, events=events, known=known, settings=settings,
                        block_identical=lambda: policy.current().known_content.block_identical,
                        pass_identical_sha256=lambda: policy.current().known_content.pass_identical_sha256,
                        reviews=reviews(settings.table_name), green=green)
    return EnforceDependencies(settings, enforcer, retry, policy)


dependencies = Dependencies(build)


def first_decision(record: dict[str, Any]) -> tuple[Outcome | None, float | None]:
    """For a stream record that brings a verdict record's first decision: what it counts as (DecisionPass,
    DecisionReview, DecisionBlock) and how long the version waited for it (created -> terminal write, the
    VerdictLatencySeconds metric). (None, None) for anything else (later changes, such as overrides)."""
    new = (record.get("dynamodb") or {}).get("NewImage") or {}

    def text(name: str) -> str | None:
        value = (new.get(name) or {}).get("S")
        return str(value) if value else None

    if (new.get("decision_rev") or {}).get("N") != "1":
        return None, None
    created, decided = text("created_at"), text("finished_at") or text("decided_at")
    try:
        latency = max(0.0, epoch_of(decided) - epoch_of(created)) if created and decided else None
    except ValueError:
        latency = None
    return Outcome.for_decision(text("decision")), latency


def _work(record: dict[str, Any]) -> tuple[str, Work | None, bool]:
    """(the record's batch item identifier, its work, whether it came from the stream)."""
    if record.get("eventSource") == "aws:dynamodb":
        return str((record.get("dynamodb") or {}).get("SequenceNumber", "")), work_from_stream(record), True
    return str(record.get("messageId", "")), work_from_message(str(record.get("body", ""))), False


# The first record's id: the stream record's eventID, or the retry queue message's id.
@logger.inject_lambda_context(correlation_id_path="Records[0].eventID || Records[0].messageId", clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies.get()
    tally = Tally()
    failures: list[str] = []
    latencies: list[float] = []
    try:
        for record in event.get("Records") or []:
            identifier, work, from_stream = _work(record)
            if work is None:
                continue
            if from_stream:
                counted, latency = first_decision(record)
                tally.add(counted)
                latencies.extend([latency] if latency is not None else [])
            try:
                deps.enforcer.enforce(work, tally)
            except Exception as exc:  # one object's failure must not hold up the others
                logger.warning("enforcement failed; will retry", extra={"data_id": work.record_id,
                                                                        "error": f"{type(exc).__name__}: {exc}"[:300]})
                if not from_stream or not _retry_later(deps, work, tally):
                    failures.append(identifier)
    finally:
        publish(tally, policy=deps.policy)
        measure(Measure.VERDICT_LATENCY, *latencies)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}


def _retry_later(deps: EnforceDependencies, work: Work, tally: Tally) -> bool:
    try:
        deps.retry.later(retry_message(work), deps.settings.retry_delay)
    except Exception:  # the stream keeps the record and retries the batch from it
        logger.exception("could not queue the retry")
        return False
    tally.add(Outcome.ENFORCEMENT_RETRIED)
    return True
