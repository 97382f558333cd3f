"""Green's business layer: body validation, sync and async scans, results, feedback, business faults.

Every answer is HTTP 200 with {"code","msg","requestId"[, "data"]} except injected server errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from green_emulator.callbacks import CallbackSender
from green_emulator.config import EmulatorConfig
from green_emulator.counters import Counters
from green_emulator.downloads import Downloader
from green_emulator.faults import FaultInjector
from green_emulator.gateway import Rejection
from green_emulator.ids import IdSource
from green_emulator.scripting import ScriptError, script_from_image, verdicts_for
from greenlight.green.wire import KNOWN_SCENES

MAX_TASKS = 100
MAX_URL_LENGTH = 2048
MAX_FEEDBACK = 10_000  # feedback bodies kept for inspection; the oldest are dropped
SCENE_ORDER = ("porn", "terrorism", "ad", "qrcode", "live", "logo")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


class BadRequest(Exception):
    """A body that Green would refuse with code 400; the message names the field."""


@dataclass(frozen=True)
class TaskSpec:
    url: str
    data_id: str | None


@dataclass
class TaskRecord:
    """An accepted async task. `result` is set by a worker; it is shown only after `ready_at`."""

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

    def finish(self, record: TaskRecord, result: dict[str, Any]) -> bool:
        """Store the result; False when the task was forgotten meanwhile (reset, expiry, eviction)."""
        with self._lock:
            if self._tasks.get(record.task_id) is not record:
                return False
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


def task_item(code: int, msg: str, spec: TaskSpec, task_id: str, results: list[dict[str, Any]] | None = None,
              ) -> dict[str, Any]:
    """A data[] item with Green's field order: code, msg, dataId, taskId, url[, results]."""
    item: dict[str, Any] = {"code": code, "msg": msg}
    if spec.data_id is not None:
        item["dataId"] = spec.data_id
    item["taskId"] = task_id
    item["url"] = spec.url
    if results is not None:
        item["results"] = results
    return item


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not valid UTF-8 JSON") from exc


def _http_url(value: Any) -> TypeGuard[str]:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


ScanRequest = tuple[list[TaskSpec], tuple[str, ...], str | None, str | None]


def parse_scan_body(body: bytes, *, asynchronous: bool) -> ScanRequest:
    """Validate a scan or asyncscan body: (tasks, scenes, callback, seed), or BadRequest."""
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    scenes = payload.get("scenes")
    if not isinstance(scenes, list) or not scenes or not all(isinstance(s, str) for s in scenes):
        raise BadRequest("scenes must be a non-empty list of scene names")
    unknown = sorted(set(scenes) - KNOWN_SCENES)
    if unknown:
        raise BadRequest(f"scenes holds unknown scene {unknown[0]!r}; known: {', '.join(SCENE_ORDER)}")
    if "bizType" in payload and not isinstance(payload["bizType"], str):
        raise BadRequest("bizType must be a string")
    tasks = payload.get("tasks")
    if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_TASKS:
        raise BadRequest(f"tasks must be a list of 1 to {MAX_TASKS} objects")
    specs: list[TaskSpec] = []
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise BadRequest(f"tasks[{index}] must be an object")
        url = task.get("url")
        if not _http_url(url):
            raise BadRequest(f"tasks[{index}].url must be an http(s) URL")
        if len(url) > MAX_URL_LENGTH:
            raise BadRequest(f"tasks[{index}].url is longer than {MAX_URL_LENGTH} characters")
        data_id = task.get("dataId")
        if data_id is not None and not isinstance(data_id, str):
            raise BadRequest(f"tasks[{index}].dataId must be a string")
        specs.append(TaskSpec(url=url, data_id=data_id))
    callback = payload.get("callback") if asynchronous else None
    seed = payload.get("seed") if asynchronous else None
    if callback is not None:
        if not _http_url(callback) or len(callback) > MAX_URL_LENGTH:
            raise BadRequest("callback must be an http(s) URL")
        if not isinstance(seed, str) or not seed:
            raise BadRequest("seed is required when callback is given")
    return specs, tuple(dict.fromkeys(scenes)), callback, seed if callback is not None else None


def parse_results_body(body: bytes, max_ids: int) -> list[str]:
    payload = _load_json(body)
    if (not isinstance(payload, list) or not 1 <= len(payload) <= max_ids
            or not all(isinstance(task_id, str) and task_id for task_id in payload)):
        raise BadRequest(f"body must be a JSON array of 1 to {max_ids} taskId strings")
    return payload


class Engine:
    def __init__(
        self,
        config: EmulatorConfig,
        *,
        counters: Counters,
        faults: FaultInjector,
        ids: IdSource,
        downloader: Downloader,
        callbacks: CallbackSender,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._counters = counters
        self._faults = faults
        self._ids = ids
        self._downloader = downloader
        self._callbacks = callbacks
        self._clock = clock
        self.tasks = TaskStore(config.max_tasks)
        self._sync_pool = ThreadPoolExecutor(config.workers, thread_name_prefix="green-emulator-sync")
        self._async_pool = ThreadPoolExecutor(config.workers, thread_name_prefix="green-emulator-async")
        self._feedback_lock = threading.Lock()
        self._feedback: deque[dict[str, Any]] = deque(maxlen=MAX_FEEDBACK)

    # -- lifecycle ----------------------------------------------------------------------------

    def reset(self) -> None:
        self.tasks.clear()
        with self._feedback_lock:
            self._feedback.clear()

    def close(self) -> None:
        self._sync_pool.shutdown(wait=False, cancel_futures=True)
        self._async_pool.shutdown(wait=False, cancel_futures=True)

    def feedback(self) -> list[dict[str, Any]]:
        with self._feedback_lock:
            return [dict(item) for item in self._feedback]

    # -- requests -----------------------------------------------------------------------------

    def handle(self, operation: str, body: bytes, *, request_id: str, host_id: str) -> Reply:
        injected = self._business_fault(operation, request_id, host_id)
        if injected is not None:
            return injected
        try:
            if operation == "scan":
                return self._ok(request_id, self._sync_scan(body))
            if operation == "asyncscan":
                return self._ok(request_id, self._async_scan(body))
            if operation == "results":
                return self._ok(request_id, self._results(body))
            self._record_feedback(body)
            return Reply(200, {"code": 200, "msg": "OK", "requestId": request_id})
        except BadRequest as exc:
            return Reply(200, {"code": 400, "msg": f"BAD_REQUEST: {exc}", "requestId": request_id})

    @staticmethod
    def _ok(request_id: str, data: list[dict[str, Any]]) -> Reply:
        return Reply(200, {"code": 200, "msg": "OK", "requestId": request_id, "data": data})

    def _business_fault(self, operation: str, request_id: str, host_id: str) -> Reply | None:
        """QPS limit first (a real limit), then injected server errors, then injected throttling."""
        if not self._faults.take_token(operation):
            self._counters.inc("faults", "qps")
            return Reply(200, {"code": 588, "msg": "EXCEED_QUOTA", "requestId": request_id})
        faults = self._faults.current
        if self._faults.chance(faults.error_rate):
            status = faults.error_status or self._faults.pick((500, 503))
            self._counters.inc("faults", f"error_{status}")
            if status == 503:
                rejection = Rejection(503, "ServiceUnavailable",
                                      "The request has failed due to a temporary failure of the server.")
                return Reply(503, dict(rejection.body(request_id, host_id)))
            return Reply(500, {"code": 500, "msg": "GENERAL_ERROR", "requestId": request_id})
        if self._faults.chance(faults.throttle_rate):
            self._counters.inc("faults", "throttle")
            return Reply(200, {"code": 588, "msg": "EXCEED_QUOTA", "requestId": request_id})
        return None

    def _sync_scan(self, body: bytes) -> list[dict[str, Any]]:
        specs, scenes, _, _ = parse_scan_body(body, asynchronous=False)
        self._counters.inc("tasks_submitted", by=len(specs))
        jobs = [(spec, self._ids.task_id()) for spec in specs]
        items = list(self._sync_pool.map(lambda job: self._scan_task(job[0], job[1], scenes), jobs))
        for item in items:
            self._counters.inc("tasks_finished", item["code"])
        return items

    def _async_scan(self, body: bytes) -> list[dict[str, Any]]:
        specs, scenes, callback, seed = parse_scan_body(body, asynchronous=True)
        faults = self._faults.current
        now = self._clock()
        self._counters.inc("tasks_submitted", by=len(specs))
        answer: list[dict[str, Any]] = []
        for spec in specs:
            record = TaskRecord(task_id=self._ids.task_id(), spec=spec, scenes=scenes,
                                ready_at=now + faults.processing_delay, expires_at=now + faults.retention,
                                callback=callback, seed=seed)
            self.tasks.add(record, now)
            self._async_pool.submit(self._run_async, record)
            answer.append(task_item(200, "OK", spec, record.task_id))
        return answer

    def _run_async(self, record: TaskRecord) -> None:
        if not self.tasks.holds(record):  # forgotten while queued (reset, eviction): no work, no counts
            return
        result = self._scan_task(record.spec, record.task_id, record.scenes)
        if not self.tasks.finish(record, result):
            return
        self._counters.inc("tasks_finished", result["code"])
        if self._faults.chance(self._faults.current.expire_rate):
            self._counters.inc("faults", "expire")
            self.tasks.forget(record)
            return
        if record.callback is not None and record.seed is not None:
            self._callbacks.deliver(record.callback, record.seed, result, not_before=record.ready_at)

    def _scan_task(self, spec: TaskSpec, task_id: str, scenes: tuple[str, ...]) -> dict[str, Any]:
        if self._faults.chance(self._faults.current.download_failure_rate):
            self._counters.inc("faults", "download_failure")
            return task_item(480, "DOWNLOAD_FAILED", spec, task_id)
        fetched = self._downloader.fetch(spec.url)
        if fetched.code != 200 or fetched.content is None or fetched.image is None:
            return task_item(fetched.code, fetched.msg, spec, task_id)
        try:
            script = script_from_image(fetched.image)
        except ScriptError as exc:
            return task_item(586, f"ALGO_FAILED: {exc}", spec, task_id)
        return task_item(200, "OK", spec, task_id, verdicts_for(fetched.content, scenes, script))

    def _results(self, body: bytes) -> list[dict[str, Any]]:
        task_ids = parse_results_body(body, self._config.max_result_ids)
        now = self._clock()
        data: list[dict[str, Any]] = []
        for task_id in task_ids:
            record = self.tasks.get(task_id, now)
            if record is None:
                data.append({"code": 594, "msg": "EXPIRED", "taskId": task_id})
            elif record.result is None or now < record.ready_at:
                item: dict[str, Any] = {"code": 280, "msg": "PROCESSING", "taskId": task_id}
                if record.spec.data_id is not None:
                    item["dataId"] = record.spec.data_id
                data.append(item)
            else:
                data.append(record.result)
        return data

    def _record_feedback(self, body: bytes) -> None:
        payload = _load_json(body)
        if not isinstance(payload, dict):
            raise BadRequest("body must be a JSON object")
        self._counters.inc("feedback_received")
        with self._feedback_lock:
            self._feedback.append(payload)
