"""The chaos run, small and seeded (make chaos runs 1,000 items): every fault kind, no verdict left to luck.

The last tests feed the invariants made-up observations, to show each can fail: a check that cannot
fail proves nothing (they need no server; they live here beside the run they guard).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight_local.chaos import ChaosConfig, run
from greenlight_local.chaos import invariants as inv
from greenlight_local.chaos.plan import Content, Item, Step
from greenlight_local.chaos.stream import Change
from greenlight_local.chaos.world import Write, live_writes

pytestmark = pytest.mark.e2e


def test_every_live_version_gets_the_verdict_its_bytes_deserve_under_chaos(tmp_path: Path) -> None:
    # Given the small seeded run: the long Green outage, 588 and auth outages, the poller down past
    # Green's retention, crashes and timeouts inside handlers, DynamoDB throttling, and the rest
    report = run(ChaosConfig.small(seed=3, workdir=tmp_path / "chaos"))
    print(report.summary())

    # Then no invariant was violated, and every new fault kind really happened
    assert report.ok, report.summary()
    assert all(report.injected.values()), report.injected
    # the outage dead-lettered messages and the poller settled their versions anyway
    assert report.dlq > 0 and report.dlq_versions_recovered == report.dlq
    # Green never held more tasks for a version than MaxScanAttempts
    assert max(report.tasks_per_version) <= report.max_attempts == 3
    # most live versions got Green's verdict; the animated GIFs with a bad later frame among the blocks
    finals = sum(n for label, n in report.live_verdicts.items() if label.startswith("FINAL/"))
    assert finals >= 0.7 * report.live
    assert report.live_verdicts.get("FINAL/block", 0) >= 2
    assert report.takeovers.get("poll", 0) > 0 and report.stream_changes > report.writes


# -- the invariants can fail --------------------------------------------------------------------------

def _write(kind: str = "image", *, suggestion: str = "block", versioned: bool = True, deleted: bool = False) -> Write:
    content = Content("png", suggestion, 1)
    item = Item(0, "steady", kind, "versioned" if versioned else "unversioned", "k.png", (Step("put", 0, content),))
    return Write(item, 0, "bucket", "k.png", content, "v1" if versioned else None, "etag", 1.0, deleted,
                 None if versioned else "0A")


def _record(state: str, **fields: Any) -> VerdictRecord:
    return VerdictRecord(id="v-1", bucket="bucket", key="k.png", state=State(state), version_id="v1", **fields)


def _judged(write: Write, record: VerdictRecord, ledger: dict[str, Any] | None = None,
            changes: list[Change] | None = None, hits: list[dict[str, Any]] | None = None) -> inv.Verdicts:
    result = inv.Verdicts()
    result.by_write[id(write)] = record
    evidence = inv.Evidence({"v-1": ledger or {}}, {"v-1": changes or []}, inv.HarnessFaults(hits or [], {}))
    inv.judge_versions([write], live_writes([write]), evidence, result)
    return result


def test_a_final_verdict_other_than_the_bytes_deserve_is_a_violation() -> None:
    assert _judged(_write(), _record("FINAL", suggestion="block")).violations == []
    assert _judged(_write(), _record("FINAL", suggestion="pass")).violations


def test_an_error_is_honest_only_if_green_never_handed_a_verdict_over() -> None:
    honest = _judged(_write(), _record("ERROR", reason="gave_up_after_3_scans"), {"handed": {"results:594": 2}})
    lost = _judged(_write(), _record("ERROR", reason="gave_up_after_3_scans"), {"handed": {"callback:200": 1}})

    early = _judged(_write(), _record("ERROR", reason="gave_up_after_1_scans", attempts=1))

    assert honest.violations == [] and honest.errors_explained
    assert "lost verdict" in lost.violations[0]
    assert "gave up before its attempts were spent" in early.violations[0]


def test_an_error_whose_attempts_were_spent_without_green_or_an_injected_fault_is_a_lost_verdict() -> None:
    # Given a record that counted three attempts (a claim and two takeovers by the poller), none of
    # which reached Green or was given back
    claims = [Change(n, "INSERT" if n == 1 else "MODIFY", "v-1", {"attempts": n - 1} if n > 1 else None,
                     {"state": "RECEIVED", "attempts": n, "history": [{"by": "poll"}]}, at=100.0 * n)
              for n in (1, 2, 3)]
    record = _record("ERROR", reason="gave_up_after_3_scans", attempts=3)
    crash = {"kind": "crash", "function": "poll", "pid": 1, "at": 101.0, "point": "poll.after_claim"}

    unexplained = _judged(_write(), record, {}, claims)
    one_crash = _judged(_write(), record, {}, claims, [crash])
    three_crashes = _judged(_write(), record, {}, claims, [crash, {**crash, "at": 201.0}, {**crash, "at": 301.0}])

    assert "never reached Green" in unexplained.violations[0]
    assert "only 1 injected fault" in one_crash.violations[0]
    assert three_crashes.violations == [] and three_crashes.errors_explained


def test_a_skip_needs_the_fault_that_explains_it_and_a_live_version_is_never_superseded() -> None:
    injected = _judged(_write(), _record("SKIPPED", reason="green_589_too_large"), {"codes": {"589": 1}})
    invented = _judged(_write(), _record("SKIPPED", reason="green_589_too_large"))
    superseded = _judged(_write(), _record("SUPERSEDED", reason="newer_version_seen"))

    assert injected.violations == [] and invented.violations and superseded.violations


def test_object_missing_is_honest_only_for_bytes_no_longer_at_the_key() -> None:
    # An overwritten unversioned write whose key was emptied later (the newer bytes quarantined)
    older, newer = _write(versioned=False), _write(versioned=False)
    result = inv.Verdicts()
    result.by_write[id(older)] = _record("SKIPPED", reason="object_missing")
    evidence = inv.Evidence({}, {}, inv.HarnessFaults([], {}))

    inv.judge_versions([older, newer], {id(newer)}, evidence, result)
    live = _judged(_write(versioned=False), _record("SKIPPED", reason="object_missing"))
    versioned = _judged(_write(), _record("SKIPPED", reason="object_missing"))

    assert result.violations == []
    assert live.violations and versioned.violations


def test_more_green_tasks_than_attempts_is_a_violation() -> None:
    write = _write()
    result = inv.Verdicts()
    result.by_write[id(write)] = _record("FINAL", suggestion="block")

    inv.check_tasks([write], {"v-1": {"tasks": ["t1", "t2", "t3", "t4"]}}, 3, result)

    assert result.violations and result.tasks_per_version == {4: 1}


def test_the_stream_shows_changes_after_a_final_state_and_transitions_outside_the_table() -> None:
    record = _record("FINAL", suggestion="block")
    final: dict[str, Any] = {"id": "v-1", "state": "FINAL", "suggestion": "block", "scenes": {}, "reason": None}
    changes = [
        Change(1, "INSERT", "v-1", None, {"id": "v-1", "state": "RECEIVED"}),
        Change(2, "MODIFY", "v-1", {"state": "RECEIVED"}, final),
        Change(3, "MODIFY", "v-1", final, {**final, "decision": "block"}),  # a decision field: allowed
        Change(4, "MODIFY", "v-1", final, {**final, "suggestion": "pass"}),  # the verdict changed: not allowed
        Change(5, "MODIFY", "v-1", {**final, "suggestion": "pass"}, {**final, "state": "PENDING"}),
    ]
    result = inv.Verdicts()

    inv.check_stream(changes, [record], result)

    assert len([v for v in result.violations if "changed after it was FINAL" in v]) == 2
    assert any("the stream's last change says PENDING" in v for v in result.violations)
    assert not inv.MAY_BECOME["PENDING"] >= {"RECEIVED"}  # the harness's own table, not the product's


def test_a_history_that_moves_backwards_is_a_violation() -> None:
    history = ({"to": "RECEIVED"}, {"to": "PENDING"}, {"to": "RECEIVED"}, {"to": "FINAL"})
    result = inv.Verdicts()

    inv.check_history(_record("FINAL", suggestion="block", history=history), result)

    assert result.violations == ["v-1 k.png: history moves PENDING -> RECEIVED"]


def test_dead_letters_of_warm_up_uploads_are_set_aside_but_must_have_settled() -> None:
    from greenlight_local.chaos.run import _warm_up_aside
    from greenlight_local.chaos.verify import Observed

    def body(key: str) -> str:
        return json.dumps({"detail": {"bucket": {"name": "bucket"}, "object": {"key": key, "version-id": "v1"}}})

    settled = VerdictRecord(id="v-w0", bucket="bucket", key="warmup/0.png", state=State.FINAL, version_id="v1")
    stuck = VerdictRecord(id="v-w1", bucket="bucket", key="warmup/1.png", state=State.PENDING, version_id="v1")
    observed = Observed([])

    kept = _warm_up_aside([body("warmup/0.png"), body("warmup/1.png"), body("chaos/steady/00001-a.png")],
                          [settled, stuck], observed)

    assert kept == [body("chaos/steady/00001-a.png")]
    assert observed.problems == ["dead-lettered warm-up upload warmup/1.png never settled"]
