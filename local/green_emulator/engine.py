"""Green's business layer: sync and async scans, results, feedback, and the per-task faults.

Every answer is HTTP 200 with {"code","msg","requestId"[, "data"]}; whole-request faults are decided
before the engine sees a request (green_emulator.request_faults).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from green_emulator.bodies import BadRequest, TaskSpec, load_json, parse_results_body, parse_scan_body
from green_emulator.callbacks import CallbackSender
from green_emulator.config import EmulatorConfig
from green_emulator.counters import Counters
from green_emulator.downloads import Downloader
from green_emulator.faults import FaultInjector
from green_emulator.ids import IdSource
from green_emulator.ledger import Ledger
from green_emulator.network import NetworkModel
from green_emulator.replies import Reply, envelope, ok
from green_emulator.scheduler import Scheduler
from green_emulator.scripting import ScriptError, script_from_image
from green_emulator.tasks import TaskRecord, TaskStore, task_item
from green_emulator.verdicts import frame_url, judged_frames, verdicts_for

MAX_FEEDBACK = 10_000  # feedback bodies kept for inspection; the oldest are dropped
SYNC_SLACK = 30.0  # beyond the download deadline and network delays, how long a sync scan may take
_log = logging.getLogger(__name__)


def _copy_outcome(source: Future[Any], target: Future[Any]) -> None:
    if source.cancelled():
        target.set_exception(CancelledError())
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


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
        scheduler: Scheduler,
        network: NetworkModel,
        clock: Callable[[], float] = time.monotonic,
        ledger: Ledger | None = None,
    ) -> None:
        self._config = config
        self._counters = counters
        self._faults = faults
        self._ids = ids
        self._downloader = downloader
        self._callbacks = callbacks
        self._scheduler = scheduler
        self._network = network
        self._clock = clock
        self.ledger = ledger or Ledger()
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
        try:
            if operation == "scan":
                data, processing = self._sync_scan(body)
                reply = ok(request_id, data)
                return Reply(reply.status, reply.body, extra_delay=processing)
            if operation == "asyncscan":
                return ok(request_id, self._async_scan(body))
            if operation == "results":
                return ok(request_id, self._results(body))
            self._record_feedback(body)
            return envelope(200, request_id)
        except BadRequest as exc:
            return envelope(400, request_id, msg=f"BAD_REQUEST: {exc}")

    def _start(self, pool: ThreadPoolExecutor, delay: float, work: Callable[[], Any]) -> Future[Any]:
        """Run `work` on `pool` after `delay` seconds; the wait sits on the scheduler, not a worker."""
        if delay <= 0:
            return pool.submit(work)
        later: Future[Any] = Future()

        def launch() -> None:
            if not later.set_running_or_notify_cancel():
                return
            try:
                pool.submit(work).add_done_callback(lambda done: _copy_outcome(done, later))
            except RuntimeError as exc:  # the pool is shut down: the emulator is stopping
                later.set_exception(exc)

        self._scheduler.call_later(delay, launch)
        return later

    def _submit_error(self, operation: str, spec: TaskSpec, task_id: str) -> dict[str, Any] | None:
        """The task_submit_error fault: a task answered at once with a code, never worked on."""
        faults = self._faults.current
        if not faults.applies_to(operation) or not self._faults.chance(faults.task_submit_error_rate):
            return None
        self._counters.inc("faults", "task_submit_error")
        code = self._faults.pick(faults.task_error_codes)
        self.ledger.fault(spec.data_id, "task_submit_error", code)
        return task_item(code, None, spec, task_id)

    def _sync_scan(self, body: bytes) -> tuple[list[dict[str, Any]], float]:
        """The items, and the seconds the answer waits for the slowest image's processing."""
        request = parse_scan_body(body, asynchronous=False)
        scenes = request.scenes_for(self._faults.current.biz_types)
        self._counters.inc("tasks_submitted", by=len(request.tasks))
        task_ids = [self._ids.task_id() for _ in request.tasks]
        slots: list[dict[str, Any] | Future[Any]] = []
        for spec, task_id in zip(request.tasks, task_ids, strict=True):
            refused = self._submit_error("scan", spec, task_id)
            if refused is None:
                self.ledger.accepted(spec.data_id, task_id)
            work = partial(self._scan_task, spec, task_id, scenes, "scan")
            slots.append(refused if refused is not None else
                         self._start(self._sync_pool, self._network.download_delay(), work))
        faults = self._faults.current
        round_trip = faults.network_rtt + faults.network_jitter
        wait([slot for slot in slots if isinstance(slot, Future)],
             timeout=self._config.download_timeout + round_trip + SYNC_SLACK)
        items: list[dict[str, Any]] = []
        for spec, task_id, slot in zip(request.tasks, task_ids, slots, strict=True):
            if not isinstance(slot, Future):
                items.append(slot)
            elif slot.done() and slot.exception() is None:
                items.append(slot.result())
            else:  # a task that outlived every deadline (or the emulator is stopping): Green's word for it
                items.append(task_item(581, None, spec, task_id))
        processing = max((self._network.processing_time() for item in items if item["code"] == 200), default=0.0)
        for slot, item in zip(slots, items, strict=True):
            self._counters.inc("tasks_finished", item["code"])
            if isinstance(slot, Future):  # accepted (not refused at submit)
                self.ledger.finished(item.get("dataId"), item["code"])
        return items, processing

    def _async_scan(self, body: bytes) -> list[dict[str, Any]]:
        request = parse_scan_body(body, asynchronous=True)
        faults = self._faults.current
        scenes = request.scenes_for(faults.biz_types)
        now = self._clock()
        self._counters.inc("tasks_submitted", by=len(request.tasks))
        answer: list[dict[str, Any]] = []
        for spec in request.tasks:
            task_id = self._ids.task_id()
            refused = self._submit_error("asyncscan", spec, task_id)
            if refused is not None:  # not kept: results for this id answer 594
                self._counters.inc("tasks_finished", refused["code"])
                answer.append(refused)
                continue
            record = TaskRecord(task_id=task_id, spec=spec, scenes=scenes, ready_at=now + faults.processing_delay,
                                expires_at=now + faults.retention, callback=request.callback, seed=request.seed)
            self.tasks.add(record, now)
            self.ledger.accepted(spec.data_id, task_id)
            self._start(self._async_pool, self._network.download_delay(), partial(self._run_async, record))
            answer.append(task_item(200, "OK", spec, task_id))
        return answer

    def _run_async(self, record: TaskRecord) -> None:
        if not self.tasks.holds(record):  # forgotten while queued (reset, eviction): no work, no counts
            return
        faults = self._faults.current
        targeted = faults.applies_to("asyncscan")
        if targeted and self._faults.chance(faults.task_finish_error_rate):
            self._counters.inc("faults", "task_finish_error")
            code = self._faults.pick(faults.task_error_codes)
            self.ledger.fault(record.spec.data_id, "task_finish_error", code)
            result = task_item(code, None, record.spec, record.task_id)
        else:
            result = self._scan_task(record.spec, record.task_id, record.scenes, "asyncscan")
        processing = self._network.processing_time() if result["code"] == 200 else 0.0
        if not self.tasks.finish(record, result, self._clock() + processing):
            return
        self._counters.inc("tasks_finished", result["code"])
        self.ledger.finished(record.spec.data_id, result["code"])
        if targeted and self._faults.chance(faults.expire_rate):
            self._counters.inc("faults", "expire")
            self.ledger.fault(record.spec.data_id, "expire")
            self.tasks.forget(record)
            return
        if record.callback is not None and record.seed is not None:
            self._callbacks.deliver(record.callback, record.seed, result, not_before=record.ready_at)

    def _scan_task(self, spec: TaskSpec, task_id: str, scenes: tuple[str, ...], operation: str) -> dict[str, Any]:
        """One task's item; never raises, so an async task cannot be left at 280 by a bug."""
        try:
            return self._scan_one(spec, task_id, scenes, operation)
        except Exception:
            _log.exception("task %s failed", task_id)
            return task_item(500, None, spec, task_id)

    def _scan_one(self, spec: TaskSpec, task_id: str, scenes: tuple[str, ...], operation: str) -> dict[str, Any]:
        faults = self._faults.current
        targeted = faults.applies_to(operation)
        if targeted and self._faults.chance(faults.download_failure_rate):
            self._counters.inc("faults", "download_failure")
            self.ledger.fault(spec.data_id, "download_failure", 480)
            return task_item(480, "DOWNLOAD_FAILED", spec, task_id)
        if targeted and self._faults.chance(faults.url_expired_rate):
            self._counters.inc("faults", "url_expired")
            self.ledger.fault(spec.data_id, "url_expired", 403)
            return task_item(403, "FORBIDDEN", spec, task_id)
        fetched = self._downloader.fetch(spec.url)
        if fetched.code != 200 or fetched.content is None or fetched.image is None:
            return task_item(fetched.code, fetched.msg, spec, task_id)
        try:
            script = script_from_image(fetched.image)
        except ScriptError as exc:
            return task_item(586, f"ALGO_FAILED: {exc}", spec, task_id)
        frames, split = [0], False  # without interval Green does not split, nor look past frame 0
        if spec.interval is not None:  # Green cuts the frames it judges; a broken one fails the task
            try:
                frame_count = getattr(fetched.image, "n_frames", 1)
                frames, split = judged_frames(frame_count, spec.interval, spec.max_frames), frame_count > 1
                for frame in frames[1:]:
                    fetched.image.seek(frame)
                    fetched.image.load()
            except (EOFError, OSError, ValueError, SyntaxError):
                return task_item(595, None, spec, task_id)
        results = verdicts_for(fetched.content, scenes, script, frames, frame_url(task_id) if split else None)
        return task_item(200, "OK", spec, task_id, results)

    def _results(self, body: bytes) -> list[dict[str, Any]]:
        task_ids = parse_results_body(body, self._config.max_result_ids)
        faults = self._faults.current
        omit_rate = faults.results_omit_rate if faults.applies_to("results") else 0.0
        now = self._clock()
        data: list[dict[str, Any]] = []
        for task_id in task_ids:
            if self._faults.chance(omit_rate):
                self._counters.inc("faults", "results_omit")
                self.ledger.task_fault(task_id, "results_omit")
                continue
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
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise BadRequest("body must be a JSON object")
        self._counters.inc("feedback_received")
        with self._feedback_lock:
            self._feedback.append(payload)
