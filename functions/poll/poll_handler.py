"""Poll function: on a schedule, settle every record that is not final (see poll_logic)."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from greenlight.domain.outcomes import Measure, Tally
from greenlight.runtime.components import Dependencies, scan_ports
from greenlight.runtime.config import PollSettings
from greenlight.runtime.observability import instrument, logger, measure, metrics, publish
from greenlight.scanning.submission import Submission
from poll_logic import Poller


def build() -> Poller:
    settings = PollSettings.from_env(os.environ)
    return Poller(Submission(scan_ports(settings.scan), settings.scan, by="poll"), settings)


dependencies = Dependencies(build)


# The schedule's event id: one per run.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    poller = dependencies.get()
    tally = Tally()
    try:
        summary = poller.run(budget=lambda: float(context.get_remaining_time_in_millis()) / 1000, tally=tally)
        measure(Measure.OLDEST_UNFINISHED_AGE, summary.oldest_unfinished_age)
    finally:
        publish(tally, policy=poller.ports.policy)
    logger.info("poll done", extra=asdict(summary))
    return asdict(summary)
