"""The whole pipeline locally: uploads to moto S3 -> EventBridge -> SQS -> submit -> Green emulator ->
callback over HTTP / poller -> verdicts in DynamoDB, with the demo's samples."""

from __future__ import annotations

import pytest

from greenlight.domain.states import TERMINAL
from greenlight_local.demo_checks import builtin_samples, mismatches
from greenlight_local.pipeline import LocalPipeline, PipelineOptions

pytestmark = pytest.mark.e2e


def test_every_sample_reaches_its_expected_verdict(tmp_path: pytest.TempPathFactory) -> None:
    samples = builtin_samples()
    keys = {s.key for s in samples}
    with LocalPipeline(PipelineOptions(workdir=tmp_path / "run")) as pipeline:  # type: ignore[operator]
        for sample in samples:
            pipeline.upload(sample.key, sample.body, sample.content_type)

        records = pipeline.wait_for(lambda rs: {r.key for r in rs if r.state in TERMINAL} >= keys, timeout=90,
                                    what="every sample's verdict")
        assert pipeline.emulator is not None
        stats = pipeline.emulator.stats()
        depths = pipeline.queue_depths()

    assert mismatches(samples, records) == []
    assert stats["calls"]["asyncscan"] >= 1
    assert stats["callbacks"]["delivered"] >= 1
    assert depths["dlq"] == 0
    by_key = {r.key: r for r in records}
    assert by_key["uploads/blocked.jpg"].scenes["porn"] == {"label": "porn", "suggestion": "block", "rate": 99.6}
