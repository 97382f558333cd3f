"""Enforce function: the verdict table's stream (and its own retry queue) -> actions on objects, events."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from enforce_logic import Enforcer, Work, retry_message, work_from_message, work_from_stream
from greenlight.domain.outcomes import Outcome, Tally
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
from greenlight.runtime.observability import instrument, logger, metrics, publish


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


def _work(record: dict[str, Any]) -> tuple[str, Work | None, bool]:
    """(the record's batch item identifier, its work, whether it came from the stream)."""
    if record.get("eventSource") == "aws:dynamodb":
        return str((record.get("dynamodb") or {}).get("SequenceNumber", "")), work_from_stream(record), True
    return str(record.get("messageId", "")), work_from_message(str(record.get("body", ""))), False


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies.get()
    tally = Tally()
    failures: list[str] = []
    try:
        for record in event.get("Records") or []:
            identifier, work, from_stream = _work(record)
            if work is None:
                continue
            try:
                deps.enforcer.enforce(work, tally)
            except Exception as exc:  # one object's failure must not hold up the others
                logger.warning("enforcement failed; will retry", extra={"data_id": work.record_id,
                                                                        "error": f"{type(exc).__name__}: {exc}"[:300]})
                if not from_stream or not _retry_later(deps, work, tally):
                    failures.append(identifier)
    finally:
        if deps.policy.problem:
            tally.add(Outcome.POLICY_INVALID)
        publish(tally)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}


def _retry_later(deps: EnforceDependencies, work: Work, tally: Tally) -> bool:
    try:
        deps.retry.later(retry_message(work), deps.settings.retry_delay)
    except Exception:  # the stream keeps the record and retries the batch from it
        logger.exception("could not queue the retry")
        return False
    tally.add(Outcome.ENFORCEMENT_RETRIED)
    return True
