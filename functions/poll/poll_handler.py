"""Poll function: on a schedule, fetch Green results for records still pending."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from greenlight import wiring
from greenlight.observability import instrument, logger, metrics
from poll_logic import poll_once


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = wiring.poll_settings()
    summary = poll_once(
        store=wiring.store(settings.scan.table_name),
        green=wiring.green_client(settings.scan.green),
        scanner=wiring.scanner(settings.scan),
        settings=settings,
        budget=lambda: float(context.get_remaining_time_in_millis()) / 1000,
    )
    logger.info("poll done", extra=asdict(summary))
    return asdict(summary)
