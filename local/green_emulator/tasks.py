"""Async tasks: the record of one accepted task, the bounded store, and Green's per-task item shape."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from green_emulator.bodies import TaskSpec
from green_emulator.protocol import CODE_MESSAGES


@dataclass
class TaskRecord:
    """An accepted async task. `result` is set by a worker; it is shown only after `ready_at`, which
    the worker may push later (the per-image processing time of the network model)."""

    task_id: str
    spec: TaskSpec
    scenes: tuple[str, ...]
    ready_at: float
    expires_at: float
    callback: str | None = None
    seed: str | None = None
    result: dict[str, Any] | None = field(default=None)


class TaskStore:
    """Async tasks by id, oldest first; expired ones are dropped whenever the store is touched."""

    def __init__(self, max_tasks: int) -> None:
        self._max = max_tasks
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, TaskRecord] = OrderedDict()

    def _purge(self, now: float) -> None:
        # Oldest first; a task kept longer (retention raised later) only stops the sweep early,
        # and get() still checks each task's own expiry.
        while self._tasks:
            record = next(iter(self._tasks.values()))
            if record.expires_at > now and len(self._tasks) <= self._max:
                break
            self._tasks.popitem(last=False)

    def add(self, record: TaskRecord, now: float) -> None:
        with self._lock:
            self._tasks[record.task_id] = record
            self._purge(now)

    def get(self, task_id: str, now: float) -> TaskRecord | None:
        with self._lock:
            self._purge(now)
            record = self._tasks.get(task_id)
            if record is not None and record.expires_at <= now:
                del self._tasks[task_id]
                return None
            return record

    def holds(self, record: TaskRecord) -> bool:
        with self._lock:
            return self._tasks.get(record.task_id) is record

    def finish(self, record: TaskRecord, result: dict[str, Any], ready_at: float) -> bool:
        """Store the result, shown from `ready_at` on (never earlier than the task's own ready_at);
        False when the task was forgotten meanwhile (reset, expiry, eviction)."""
        with self._lock:
            if self._tasks.get(record.task_id) is not record:
                return False
            record.ready_at = max(record.ready_at, ready_at)
            record.result = result
            return True

    def forget(self, record: TaskRecord) -> None:
        with self._lock:
            if self._tasks.get(record.task_id) is record:
                del self._tasks[record.task_id]

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)


def task_item(code: int, msg: str | None, spec: TaskSpec, task_id: str,
              results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A data[] item with Green's field order: code, msg, dataId, taskId, url[, results]."""
    item: dict[str, Any] = {"code": code, "msg": msg or CODE_MESSAGES.get(code, "")}
    if spec.data_id is not None:
        item["dataId"] = spec.data_id
    item["taskId"] = task_id
    item["url"] = spec.url
    if results is not None:
        item["results"] = results
    return item
