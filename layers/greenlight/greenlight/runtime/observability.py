"""The one place that owns logging, metrics and tracing for the functions.

Handlers decorate in one order: inject_lambda_context(correlation_id_path=...) -> log_metrics ->
instrument (the X-Ray tracer, when enabled), and publish the outcomes their logic reported with
`publish` and the values they measured with `measure`.
Tracing is off unless POWERTOOLS_TRACE_ENABLED=true: creating a Tracer loads the X-Ray SDK, which
costs more cold-start time than everything else a handler imports (see BENCHMARKS.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from greenlight.domain.outcomes import Measure, Outcome, Tally

if TYPE_CHECKING:
    from greenlight.ports import PolicySource

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "greenlight"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Greenlight"))

F = TypeVar("F", bound=Callable[..., Any])

_PRESIGN_SECRETS = re.compile(r"(X-Amz-(?:Signature|Security-Token|Credential)=)[^&\s\"]+", re.IGNORECASE)


def publish(tally: Tally, *, policy: PolicySource | None = None) -> None:
    """Add an invocation's outcomes to its metrics: one value per outcome, however many objects
    (Powertools would flush early at 100 values of one metric). With the policy the invocation
    decided by, a refused or unreadable policy counts once as POLICY_INVALID (the alarm's metric)."""
    if policy is not None and policy.problem:
        tally.add(Outcome.POLICY_INVALID)
    for outcome, count in tally:
        metrics.add_metric(name=outcome.value, unit=MetricUnit.Count, value=count)


def measure(name: Measure, *seconds: float) -> None:
    """Values of a measured metric (every Measure is in seconds); CloudWatch keeps each for percentiles."""
    for value in seconds:
        metrics.add_metric(name=name.value, unit=MetricUnit.Seconds, value=round(value, 3))


def count_by(name: str, **dimensions: str) -> None:
    """One metric with its own dimensions (e.g. CallbackRejected by reason), in an EMF blob of its own
    so they do not mix with the handler's other metrics."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace,
                       default_dimensions=metrics.default_dimensions) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


@contextmanager
def object_context(**keys: str | None) -> Iterator[None]:
    """Put the object key, dataId and taskId on every log line written inside (per thread)."""
    present = {k: v for k, v in keys.items() if v}
    logger.thread_safe_append_keys(**present)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(present.keys())


def redact_url(url: str) -> str:
    """A presigned URL fit for a log line: signature, credential and session token removed."""
    return _PRESIGN_SECRETS.sub(r"\1REDACTED", url)


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_ENABLED", "false").lower() == "true"


def instrument(handler: F) -> F:
    """Innermost handler decorator: traces the handler with X-Ray (capture_lambda_handler) only when
    tracing is on, so the X-Ray SDK is not even imported otherwise."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return cast(F, Tracer().capture_lambda_handler(handler))
