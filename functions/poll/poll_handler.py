"""Poll function: on a schedule, settle every record that is not final (see poll_logic)."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from greenlight.domain.outcomes import Outcome, Tally
from greenlight.runtime.components import Dependencies, scan_ports
from greenlight.runtime.config import PollSettings
from greenlight.runtime.observability import instrument, logger, metrics, publish
from greenlight.scanning.submission import Submission
from poll_logic import Poller


def build() -> Poller:
    settings = PollSettings.from_env(os.environ)
    return Poller(Submission(scan_ports(settings.scan), settings.scan, by="poll"), settings)


dependencies = Dependencies(build)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    poller = dependencies.get()
    tally = Tally()
    try:
        summary = poller.run(budget=lambda: float(context.get_remaining_time_in_millis()) / 1000, tally=tally)
    finally:
        if poller.ports.policy.problem:
            tally.add(Outcome.POLICY_INVALID)
        publish(tally)
    logger.info("poll done", extra=asdict(summary))
    return asdict(summary)
