"""A small seeded chaos run (make chaos runs 1,000 uploads): every failure at once, no verdict lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenlight_local.chaos import ChaosConfig, run

pytestmark = pytest.mark.e2e


def test_every_version_gets_exactly_one_correct_verdict_under_chaos(tmp_path: Path) -> None:
    report = run(ChaosConfig(uploads=60, seed=3, kills=1, timeout=240, workdir=tmp_path / "chaos"))

    print(report.summary())
    assert report.ok, report.summary()
    assert report.versions >= 60 and report.kills == 1
    assert report.duplicated_events > 0
    assert sum(report.faults.values()) > 0 and report.callbacks["dropped"] > 0
    assert report.states.get("FINAL", 0) >= 50
