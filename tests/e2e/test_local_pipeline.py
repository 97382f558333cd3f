"""The whole pipeline locally: uploads to moto S3 -> EventBridge -> SQS -> submit -> Green emulator ->
callback over HTTP / poller -> verdicts in DynamoDB -> the table's stream -> enforcement on the objects
and verdict events on the bus, with the demo's samples, checked from the outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenlight.domain.states import TERMINAL
from greenlight_local.demo_checks import builtin_samples, enforcement_mismatches, mismatches
from greenlight_local.pipeline import LocalPipeline, PipelineOptions
from greenlight_local.processes import wait_until
from greenlight_local.readback import BusSubscription, object_state

pytestmark = pytest.mark.e2e


def test_every_sample_reaches_its_verdict_and_decision_and_is_acted_on(tmp_path: Path) -> None:
    samples = builtin_samples()
    keys = {s.key for s in samples}
    with LocalPipeline(PipelineOptions(workdir=tmp_path / "run")) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        bus = BusSubscription(pipeline.stack)
        for sample in samples:
            pipeline.upload(sample.key, sample.body, sample.content_type)

        records = pipeline.wait_for(
            lambda rs: {r.key for r in rs if r.state in TERMINAL
                        and r.enforcement.get("decision_rev") == r.decision_rev} >= keys,
            timeout=90, what="every sample's verdict, enforced")
        events: dict[str, list[dict[str, object]]] = {}

        def every_event() -> bool:
            for detail in bus.details():
                events.setdefault(str(detail["record_id"]), []).append(detail)
            return len(events) >= len(keys)

        wait_until(every_event, timeout=15, interval=0.2, what="one verdict event per object")
        objects = {r.id: object_state(pipeline.stack, r) for r in records}
        stats = pipeline.emulator.stats()
        depths = pipeline.queue_depths()

    assert mismatches(samples, records) == []
    assert enforcement_mismatches(samples, [r for r in records if r.key in keys], objects, events,
                                  mode="enforce") == []
    assert stats["calls"]["asyncscan"] >= 1
    assert stats["callbacks"]["delivered"] >= 1
    assert depths["dlq"] == 0
    by_key = {r.key: r for r in records}
    assert by_key["uploads/blocked.jpg"].scenes["porn"] == {"label": "porn", "suggestion": "block", "rate": 99.6}
