"""Poll: fetch results for PENDING records that are due, so a verdict arrives even without a callback.

Each run takes at most `batch_limit` due records (oldest due first), asks Green about up to 100
task ids per request (a last, partial request only once its oldest record has waited out the
batch window), records what finished, reschedules what is still processing, and scans
again (fresh URL, counted, bounded) what Green lost, let expire, or could not download. Records
not reached this run stay due, so a backlog drains over the following runs.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from greenlight.green.errors import GreenError
from greenlight.green.wire import MAX_TASKS, TaskOutcome, chunks
from greenlight.observability import count, logger, object_context
from greenlight.parallel import io_map
from greenlight.results import apply_result

if TYPE_CHECKING:
    from greenlight.config import PollSettings
    from greenlight.green.client import GreenClient
    from greenlight.green.wire import TaskResult
    from greenlight.scanning import Scanner
    from greenlight.store import VerdictRecord, VerdictStore


@dataclass
class PollSummary:
    due: int = 0
    asked: int = 0
    finished: int = 0
    processing: int = 0
    resubmitted: int = 0
    gave_up: int = 0
    requests: int = 0
    deferred: int = 0
    stopped_early: bool = False
    errors: list[str] = field(default_factory=list)

    def count(self, name: str) -> None:
        with _summary_lock:  # results are applied on a small pool
            setattr(self, name, getattr(self, name) + 1)


_summary_lock = threading.Lock()


def poll_once(*, store: VerdictStore, green: GreenClient, scanner: Scanner, settings: PollSettings,
              budget: Callable[[], float], clock: Callable[[], float] = time.time) -> PollSummary:
    summary = PollSummary()
    count("PollRuns")
    records = store.due_pending(clock(), settings.batch_limit)
    summary.due = len(records)
    reserve = settings.scan.time_reserve
    now = clock()
    for group in chunks([r for r in records if r.task_id]):
        if len(group) < MAX_TASKS and now - (group[0].due_at or now) < settings.batch_window:
            # A partial request waits (records stay due) until its oldest record has been due for
            # the window, so a burst fills requests of 100 instead of trickling out in small ones.
            summary.deferred = len(group)
            break
        remaining = budget() - reserve
        if remaining <= 1:
            summary.stopped_early = True
            break
        try:
            results = green.image_async_results([r.task_id or "" for r in group], budget=remaining)
        except GreenError as exc:
            summary.errors.append(f"{type(exc).__name__}:{exc.code}")
            logger.warning("results request failed; records stay due", extra={"error": type(exc).__name__})
            continue
        summary.requests += 1
        summary.asked += len(group)
        count("ResultRequests")
        apply = functools.partial(_apply, store, settings, {r.task_id: r for r in results if r.task_id}, clock(),
                                  summary)
        again = [(record, why) for record, why in zip(group, io_map(apply, group), strict=True) if why]
        if again:
            report = scanner.resubmit(again, budget=lambda: budget() - reserve)
            summary.resubmitted += sum(1 for o in report.outcomes.values() if o.kind == "resubmitted")
            summary.gave_up += sum(1 for o in report.outcomes.values() if o.kind == "error")
            summary.requests += report.requests
    return summary


def _apply(store: VerdictStore, settings: PollSettings, results: Mapping[str | None, TaskResult], now: float,
           summary: PollSummary, record: VerdictRecord) -> str | None:
    """Record one result; return why the record must be scanned again, or None."""
    result = results.get(record.task_id)
    with object_context(object_key=record.key, data_id=record.id, task_id=record.task_id):
        if result is None:
            store.reschedule(record.id, task_id=record.task_id or "", due_at=now + settings.recheck_seconds)
            return None
        outcome = result.outcome
        if outcome is TaskOutcome.PROCESSING:
            if now - (record.submitted_epoch or now) >= settings.resubmit_after:
                return "result_not_ready_before_retention"
            summary.count("processing")
            count("StillProcessing")
            store.reschedule(record.id, task_id=record.task_id or "", due_at=now + settings.recheck_seconds,
                             last_code=result.code)
            return None
        if outcome is TaskOutcome.RETRY:
            return f"green_{result.code}"
        applied = apply_result(store, result, source="poll", data_id=record.id)
        if applied.changed:
            summary.count("finished")
            logger.info("verdict recorded", extra={"state": str(applied.state), "suggestion": result.suggestion})
        return None
