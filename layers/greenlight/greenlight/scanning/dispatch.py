"""Send scan tasks to Green in as few requests as possible and map its answers back by dataId.

The one place that builds a scan request: groups of up to 100 tasks, the scenes, bizType and, in
async mode, the callback URL and seed. Every task gets exactly one `Answer`; nothing is dropped:

- `Sent`: Green accepted the task under `task_id` (async);
- `Answered`: Green answered the task itself, a verdict (sync) or a per-task refusal (any code);
- `NotSent`: the request failed. `maybe_accepted` says Green may have created the task anyway
  (the answer was lost on the way back), so the attempt counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from greenlight.domain.outcomes import Outcome, Tally
from greenlight.green.errors import GreenAuthError, GreenError, GreenThrottled
from greenlight.green.wire import OK, ScanTask, TaskResult, task_groups
from greenlight.ports import CallbackTarget, GreenScanner
from greenlight.runtime.config import GreenSettings
from greenlight.runtime.observability import logger


@dataclass(frozen=True)
class Sent:
    task_id: str


@dataclass(frozen=True)
class Answered:
    result: TaskResult


@dataclass(frozen=True)
class NotSent:
    reason: str
    maybe_accepted: bool = False


Answer = Sent | Answered | NotSent


class Dispatcher:
    def __init__(self, green: GreenScanner, settings: GreenSettings, *, mode: str,
                 callback: Callable[[], CallbackTarget | None]) -> None:
        self._green = green
        self._settings = settings
        self._mode = mode
        self._callback = callback

    def send(self, tasks: Sequence[ScanTask], *, budget: Callable[[], float], tally: Tally) -> dict[str, Answer]:
        """One answer per task's data_id. `budget()` is the seconds this call may still use."""
        answers: dict[str, Answer] = {}
        callback = self._callback() if self._mode == "async" and tasks else None
        for group in task_groups(tasks):
            remaining = budget()
            if remaining <= 1:
                answers.update((task.data_id, NotSent("no_time_left")) for task in group)
                continue
            try:
                results = self._request(group, callback, remaining)
            except GreenError as exc:
                tally.add(failure_outcome(exc))
                logger.warning("scan request failed", extra={"error": type(exc).__name__, "code": str(exc.code),
                                                             "tasks": len(group)})
                reason = f"green_{type(exc).__name__}_{exc.code}".lower()
                answers.update((t.data_id, NotSent(reason, exc.maybe_accepted)) for t in group)
                continue
            tally.add(Outcome.SCAN_REQUEST)
            by_data_id = {r.data_id: r for r in results if r.data_id}
            for task in group:
                answers[task.data_id] = self._answer(by_data_id.get(task.data_id))
        return answers

    def _request(self, group: Sequence[ScanTask], callback: CallbackTarget | None,
                 remaining: float) -> list[TaskResult]:
        scenes, biz_type = self._settings.scenes, self._settings.biz_type
        if self._mode == "sync":
            return self._green.image_sync_scan(group, scenes, biz_type=biz_type, budget=remaining)
        return self._green.image_async_scan(group, scenes, biz_type=biz_type, budget=remaining,
                                            callback=callback.url if callback else None,
                                            seed=callback.seed if callback else None)

    def _answer(self, result: TaskResult | None) -> Answer:
        if result is None:
            # Green's answer left this task out: it may exist; counting the attempt is the safe side.
            return NotSent("green_answer_left_it_out", maybe_accepted=True)
        if self._mode == "async" and result.code == OK:
            if result.task_id:
                return Sent(result.task_id)
            # Accepted, but we cannot know which task: it exists, so the attempt counts; its callback
            # (by dataId) or a later scan settles the record.
            return NotSent("green_accepted_without_a_task_id", maybe_accepted=True)
        return Answered(result)


def failure_outcome(exc: GreenError) -> Outcome:
    """What a failed Green request counts as (GreenAuthFailed when Green refused our keys)."""
    if isinstance(exc, GreenAuthError):
        return Outcome.GREEN_AUTH_FAILED
    if isinstance(exc, GreenThrottled):
        return Outcome.GREEN_THROTTLED
    return Outcome.GREEN_FAILED
