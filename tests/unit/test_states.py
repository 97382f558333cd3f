"""The state machine table, the per-task code table, what a result means for a record, and the
outcomes a terminal state counts as."""

from __future__ import annotations

import threading

import pytest

from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.states import ALLOWED_FROM, TERMINAL, State, is_allowed, may_take_late_verdict
from greenlight.domain.verdicts import terminal_state
from greenlight.green.wire import SceneResult, TaskOutcome, TaskResult, classify_task_code


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_nothing_but_a_persons_override_leaves_a_terminal_state(terminal: State) -> None:
    assert {target for target in State if is_allowed(terminal, target)} == {State.OVERRIDDEN}


def test_a_record_can_only_be_created_received_or_superseded() -> None:
    assert {target for target in State if is_allowed(None, target)} == {State.RECEIVED, State.SUPERSEDED}


def test_pending_never_goes_back_to_received() -> None:
    assert not is_allowed(State.PENDING, State.RECEIVED)
    assert ALLOWED_FROM[State.PENDING] == {State.RECEIVED, State.PENDING}


@pytest.mark.parametrize(("code", "outcome"), [
    (200, TaskOutcome.DONE), (280, TaskOutcome.PROCESSING),
    # Green could not download the image: re-inspect the object before scanning it again
    (403, TaskOutcome.FETCH_FAILED), (404, TaskOutcome.FETCH_FAILED), (480, TaskOutcome.FETCH_FAILED),
    (592, TaskOutcome.FETCH_FAILED),
    (594, TaskOutcome.RETRY), (500, TaskOutcome.RETRY), (588, TaskOutcome.RETRY), (503, TaskOutcome.RETRY),
    (589, TaskOutcome.UNSUPPORTED), (590, TaskOutcome.UNSUPPORTED), (595, TaskOutcome.UNSUPPORTED),
    (400, TaskOutcome.INVALID), (596, TaskOutcome.INVALID), (401, TaskOutcome.INVALID), (999, TaskOutcome.INVALID),
])
def test_task_codes_are_classified(code: int, outcome: TaskOutcome) -> None:
    assert classify_task_code(code) is outcome


def test_overall_suggestion_is_the_worst_scene() -> None:
    result = TaskResult(200, "OK", results=(SceneResult("porn", "normal", "pass", 99.0),
                                            SceneResult("ad", "ad", "review", 80.0),
                                            SceneResult("terrorism", "normal", "pass", 99.0)))
    assert result.suggestion == "review"
    assert terminal_state(result) == (State.FINAL, None)


def test_a_done_result_without_scenes_is_an_error_not_a_pass() -> None:
    assert terminal_state(TaskResult(200, "OK")) == (State.ERROR, "green_returned_no_results")


def test_unsupported_content_is_skipped_and_a_bad_request_is_an_error_with_greens_code() -> None:
    assert terminal_state(TaskResult(590, "BAD_FORMAT")) == (State.SKIPPED, "green_590_bad_format")
    assert terminal_state(TaskResult(400, "Bad request: url?")) == (State.ERROR, "green_400_bad_request__url_")


@pytest.mark.parametrize("code", [280, 403, 480, 594, 500])
def test_a_result_to_act_on_is_not_terminal(code: int) -> None:
    assert terminal_state(TaskResult(code, "whatever")) is None


# -- outcomes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "suggestion", "outcome"), [
    (State.FINAL, "pass", Outcome.VERDICT_PASS),
    (State.FINAL, "review", Outcome.VERDICT_REVIEW),
    (State.FINAL, "block", Outcome.VERDICT_BLOCK),
    (State.FINAL, None, None),
    (State.FINAL, "maybe", None),
    (State.SKIPPED, None, Outcome.SKIPPED),
    (State.ERROR, "block", Outcome.ERRORED),  # only a FINAL verdict counts its suggestion
    (State.SUPERSEDED, None, Outcome.SUPERSEDED),
    (State.RECEIVED, None, None),
    (State.PENDING, None, None),
])
def test_a_terminal_state_counts_as_one_outcome(state: State, suggestion: str | None, outcome: Outcome | None) -> None:
    assert Outcome.for_terminal(state, suggestion) is outcome


def test_outcome_values_are_the_metric_names() -> None:
    assert (Outcome.VERDICT_PASS.value, Outcome.RECOVERED.value) == ("VerdictPass", "RecoveredStranded")
    assert len({o.value for o in Outcome}) == len(Outcome)


def test_a_tally_counts_outcomes_and_ignores_none_and_zero() -> None:
    tally = Tally()

    tally.add(Outcome.SCAN_SUBMITTED, 3)
    tally.add_all([Outcome.VERDICT_PASS, None, Outcome.VERDICT_PASS])
    tally.add(None)
    tally.add(Outcome.GREEN_FAILED, 0)

    assert tally.as_dict() == {"ScanSubmitted": 3, "VerdictPass": 2}
    assert tally[Outcome.GREEN_FAILED] == 0


def test_a_tally_loses_no_count_to_concurrent_workers() -> None:
    tally = Tally()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(2000):
            tally.add(Outcome.STILL_PROCESSING)

    workers = [threading.Thread(target=work) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)

    assert tally[Outcome.STILL_PROCESSING] == 16000


def test_only_a_give_up_may_take_a_late_verdict() -> None:
    assert may_take_late_verdict(State.ERROR, "gave_up_after_3_scans_green_594")
    assert may_take_late_verdict(State.ERROR, "gave_up_after_2_scans")
    assert not may_take_late_verdict(State.ERROR, "access_denied")
    assert not may_take_late_verdict(State.ERROR, None)
    assert not may_take_late_verdict(State.SKIPPED, "gave_up_after_3_scans")
    assert not may_take_late_verdict(State.OVERRIDDEN, "gave_up_after_3_scans")
