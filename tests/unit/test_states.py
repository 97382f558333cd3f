"""The state machine table and the per-task code table."""

from __future__ import annotations

import pytest

from greenlight.green.wire import SceneResult, TaskOutcome, TaskResult, classify_task_code
from greenlight.results import terminal_state
from greenlight.states import ALLOWED_FROM, TERMINAL, State, is_allowed


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_nothing_leaves_a_terminal_state(terminal: State) -> None:
    assert all(not is_allowed(terminal, target) for target in State)


def test_a_record_can_only_be_created_received_or_superseded() -> None:
    assert {target for target in State if is_allowed(None, target)} == {State.RECEIVED, State.SUPERSEDED}


def test_pending_never_goes_back_to_received() -> None:
    assert not is_allowed(State.PENDING, State.RECEIVED)
    assert ALLOWED_FROM[State.PENDING] == {State.RECEIVED, State.PENDING}


@pytest.mark.parametrize(("code", "outcome"), [
    (200, TaskOutcome.DONE), (280, TaskOutcome.PROCESSING), (480, TaskOutcome.RETRY), (403, TaskOutcome.RETRY),
    (404, TaskOutcome.RETRY), (592, TaskOutcome.RETRY), (594, TaskOutcome.RETRY), (500, TaskOutcome.RETRY),
    (588, TaskOutcome.RETRY), (589, TaskOutcome.UNSUPPORTED), (590, TaskOutcome.UNSUPPORTED),
    (400, TaskOutcome.INVALID), (596, TaskOutcome.INVALID), (401, TaskOutcome.INVALID),
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


def test_unsupported_content_is_skipped_with_greens_code() -> None:
    assert terminal_state(TaskResult(590, "BAD_FORMAT")) == (State.SKIPPED, "green_590_bad_format")
    assert terminal_state(TaskResult(280, "PROCESSING")) is None
