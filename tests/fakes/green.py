"""A scripted, in-memory Green for logic tests: records every request and answers as told.

By default every async task is accepted and finishes `pass`; `verdicts[data_id]` scripts a task's
result, `refuse[data_id]` a per-task code at submit, `fail_next` raises errors for the next
requests, and `accept_then_fail` accepts a request's tasks but raises (an answer lost on the way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from greenlight.green.errors import GreenError
from greenlight.green.wire import Feedback, ScanTask, SceneResult, TaskResult


@dataclass
class Request:
    action: str
    tasks: tuple[ScanTask, ...] = ()
    task_ids: tuple[str, ...] = ()
    scenes: tuple[str, ...] = ()
    callback: str | None = None
    seed: str | None = None
    feedback: Feedback | None = None


@dataclass
class FakeGreen:
    requests: list[Request] = field(default_factory=list)
    verdicts: dict[str, list[SceneResult]] = field(default_factory=dict)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    processing: set[str] = field(default_factory=set)  # data ids whose results stay 280
    forgotten: set[str] = field(default_factory=set)  # task ids results answer 594 for
    omitted: set[str] = field(default_factory=set)  # task ids results leave out
    fail_next: list[GreenError] = field(default_factory=list)
    accept_then_fail: list[GreenError] = field(default_factory=list)
    tasks: dict[str, ScanTask] = field(default_factory=dict)  # task id -> task
    _counter: int = 0

    def _check_failure(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def result_for(self, task_id: str, task: ScanTask) -> TaskResult:
        results = self.verdicts.get(task.data_id) or [SceneResult("porn", "normal", "pass", 99.0)]
        return TaskResult(code=200, msg="OK", task_id=task_id, data_id=task.data_id, url=task.url,
                          results=tuple(results))

    def image_sync_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                        budget: float | None = None) -> list[TaskResult]:
        self.requests.append(Request("ImageSyncScan", tuple(tasks), scenes=tuple(scenes)))
        self._check_failure()
        answers = []
        for task in tasks:
            self._counter += 1
            task_id = f"img-{self._counter}"
            if task.data_id in self.refuse:
                code, msg = self.refuse[task.data_id]
                answers.append(TaskResult(code=code, msg=msg, task_id=task_id, data_id=task.data_id, url=task.url))
            else:
                answers.append(self.result_for(task_id, task))
        return answers

    def image_async_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                         callback: str | None = None, seed: str | None = None,
                         budget: float | None = None) -> list[TaskResult]:
        self.requests.append(Request("ImageAsyncScan", tuple(tasks), scenes=tuple(scenes), callback=callback,
                                     seed=seed))
        self._check_failure()
        answers = []
        for task in tasks:
            self._counter += 1
            task_id = f"img-{self._counter}"
            if task.data_id in self.refuse:
                code, msg = self.refuse[task.data_id]
                answers.append(TaskResult(code=code, msg=msg, data_id=task.data_id, url=task.url))
                continue
            self.tasks[task_id] = task
            answers.append(TaskResult(code=200, msg="OK", task_id=task_id, data_id=task.data_id, url=task.url))
        if self.accept_then_fail:
            raise self.accept_then_fail.pop(0)
        return answers

    def image_async_results(self, task_ids: Sequence[str], *, budget: float | None = None) -> list[TaskResult]:
        self.requests.append(Request("ImageAsyncScanResults", task_ids=tuple(task_ids)))
        self._check_failure()
        answers = []
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task_id in self.omitted:
                continue
            if task is None or task_id in self.forgotten:
                answers.append(TaskResult(code=594, msg="EXPIRED", task_id=task_id))
            elif task.data_id in self.processing:
                answers.append(TaskResult(code=280, msg="PROCESSING", task_id=task_id, data_id=task.data_id))
            else:
                answers.append(self.result_for(task_id, task))
        return answers

    def image_scan_feedback(self, feedback: Feedback, *, budget: float | None = None) -> None:
        self.requests.append(Request("ImageScanFeedback", feedback=feedback))
        self._check_failure()

    def sent(self, action: str = "ImageAsyncScan") -> list[Request]:
        return [r for r in self.requests if r.action == action]

    def tasks_for(self, data_id: str) -> int:
        """How many tasks Green holds (or held) for a version: what the pipeline paid for."""
        return sum(1 for task in self.tasks.values() if task.data_id == data_id)
