"""Poll: on a schedule, make sure every record that is not final gets there without an operator.

Each run takes the records that are due (oldest first, at most `batch_limit`):
- PENDING ones: ask Green about up to 100 task ids a request (a last, partial request only once
  its oldest record has waited out the batch window), record what finished, ask again later about
  what is still processing, and scan again (fresh URL, counted against MaxScanAttempts) what Green
  lost, let expire, left out of its answer for too long, or could not download while the version
  still exists;
- RECEIVED ones: a submission failed and nobody came back (the message went to the dead-letter
  queue, or its sender died after Green took the task), or the daily image budget held it back: take
  the record over and submit it again, backing off while Green stays unavailable, and give up with
  ERROR only after MAX_RECOVERIES. While the day's budget is spent, they wait for the next UTC day
  without being taken over (waiting is not a failed recovery).

Each run also measures how long the oldest record it found due has been unfinished
(`oldest_unfinished_age`, the metric OldestUnfinishedAgeSeconds).

Records not reached this run stay due, so a backlog drains over the following runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from greenlight.domain.inspection import NotScannable
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.record import VerdictRecord, epoch_of
from greenlight.domain.states import State
from greenlight.domain.verdicts import terminal_state
from greenlight.green.errors import GreenError
from greenlight.green.wire import MAX_TASKS, TaskOutcome, TaskResult, task_groups
from greenlight.runtime.config import PollSettings
from greenlight.runtime.observability import logger, object_context
from greenlight.runtime.parallel import io_map
from greenlight.scanning.dispatch import Answered, NotSent, Sent, failure_outcome
from greenlight.scanning.results import apply_result, settle
from greenlight.scanning.spend import WAITING_REASON
from greenlight.scanning.submission import Prepared, Submission


@dataclass(frozen=True)
class Apply:
    result: TaskResult


@dataclass(frozen=True)
class Recheck:
    last_code: int | None
    outcome: Outcome


@dataclass(frozen=True)
class Rescan:
    reason: str


@dataclass(frozen=True)
class VerifyThenRescan:
    """Green could not download the version: scan again only if it still exists."""

    reason: str


Decision = Apply | Recheck | Rescan | VerifyThenRescan


def decide(record: VerdictRecord, result: TaskResult | None, *, now: float, settings: PollSettings) -> Decision:
    """What to do with a PENDING record given what Green said about its task (None: left out)."""
    age = now - (record.submitted_epoch or now)
    overdue = age >= settings.resubmit_after  # Green forgets results after an hour: rescan before that
    if result is None:
        return Rescan("result_missing") if overdue else Recheck(None, Outcome.RESULT_MISSING)
    outcome = result.outcome
    if outcome is TaskOutcome.PROCESSING:
        return Rescan("result_not_ready_before_retention") if overdue else Recheck(result.code,
                                                                                  Outcome.STILL_PROCESSING)
    if outcome is TaskOutcome.RETRY:
        return Rescan(f"green_{result.code}")
    if outcome is TaskOutcome.FETCH_FAILED:
        return VerifyThenRescan(f"green_{result.code}")
    return Apply(result)


def recovery_delay(record: VerdictRecord, settings: PollSettings) -> float:
    """How long to wait before recovering a stranded record again: doubling, at most an hour."""
    return float(min(3600, settings.recovery_backoff * 2 ** min(record.recoveries, 12)))


def oldest_unfinished_age(records: Sequence[VerdictRecord], now: float) -> float:
    """Seconds since the oldest of `records` (due, not final) was created; 0 for none.

    Only due records are seen: one rechecked every POLL_RECHECK_SECONDS counts in nearly every run, one
    waiting out a recovery backoff (up to an hour) or the next day's budget only when it is due again.
    """
    created = [epoch_of(r.created_at) for r in records if r.created_at and not r.terminal]
    return max(0.0, now - min(created)) if created else 0.0


@dataclass
class PollSummary:
    due: int = 0
    asked: int = 0
    finished: int = 0
    rescanned: int = 0
    recovered: int = 0
    gave_up: int = 0
    requests: int = 0
    deferred: int = 0
    waiting_for_budget: int = 0
    oldest_unfinished_age: float = 0.0
    stopped_early: bool = False
    errors: list[str] = field(default_factory=list)


class Poller:
    def __init__(self, submission: Submission, settings: PollSettings) -> None:
        self.submission = submission
        self.settings = settings
        self.ports = submission.ports

    def run(self, *, budget: Callable[[], float], tally: Tally) -> PollSummary:
        tally.add(Outcome.POLL_RUN)
        summary = PollSummary()
        reserve = self.settings.scan.time_reserve

        def remaining() -> float:
            return budget() - reserve

        records = self.ports.store.due(self.ports.clock(), self.settings.batch_limit)
        summary.due = len(records)
        summary.oldest_unfinished_age = oldest_unfinished_age(records, self.ports.clock())
        pending = [r for r in records if r.state is State.PENDING]
        stranded = [r for r in records if r.state is State.RECEIVED]
        self._ask_about(pending, summary, remaining, tally)
        if stranded and remaining() > 1:
            self._recover(stranded, summary, remaining, tally)
        elif stranded:
            summary.stopped_early = True
        return summary

    # -- PENDING: ask Green ------------------------------------------------------------------------

    def _ask_about(self, records: Sequence[VerdictRecord], summary: PollSummary, budget: Callable[[], float],
                   tally: Tally) -> None:
        now = self.ports.clock()
        lost = [r for r in records if not r.task_id]
        for group in task_groups([r for r in records if r.task_id]):
            if len(group) < MAX_TASKS and now - (group[0].due_at or now) < self.settings.batch_window:
                # A partial request waits (records stay due) until its oldest record has been due for
                # the window, so a burst fills requests of 100 instead of trickling out in small ones.
                summary.deferred = len(group)
                break
            if budget() <= 1:
                summary.stopped_early = True
                break
            try:
                results = self.ports.green.image_async_results([r.task_id or "" for r in group], budget=budget())
            except GreenError as exc:
                tally.add(failure_outcome(exc))
                summary.errors.append(f"{type(exc).__name__}:{exc.code}")
                logger.warning("results request failed; records stay due", extra={"error": type(exc).__name__})
                continue
            summary.requests += 1
            summary.asked += len(group)
            tally.add(Outcome.RESULT_REQUEST)
            by_task = {r.task_id: r for r in results if r.task_id}
            decisions = [decide(r, by_task.get(r.task_id), now=self.ports.clock(), settings=self.settings)
                         for r in group]
            again = io_map(partial(self._act, summary=summary, tally=tally), list(zip(group, decisions, strict=True)))
            self._rescan([item for item in again if item is not None], summary, budget, tally)
        self._rescan([(r, "no_task_recorded") for r in lost], summary, budget, tally)

    def _act(self, item: tuple[VerdictRecord, Decision], *, summary: PollSummary,
             tally: Tally) -> tuple[VerdictRecord, str] | None:
        """Carry out one decision; return the record and why when it must be scanned again."""
        record, decision = item
        store = self.ports.store
        with object_context(object_key=record.key, data_id=record.id, task_id=record.task_id):
            if isinstance(decision, Apply):
                applied = apply_result(store, self.ports.policy, decision.result, record_id=record.id, by="poll")
                tally.add(applied.outcome)
                if applied.changed:
                    summary.finished += 1
                    logger.info("verdict recorded", extra={"state": str(applied.state),
                                                           "suggestion": decision.result.suggestion})
                return None
            if isinstance(decision, Recheck):
                tally.add(decision.outcome)
                store.reschedule(record.id, task_id=record.task_id, last_code=decision.last_code,
                                 due_at=self.ports.clock() + self.settings.recheck_seconds)
                return None
            if isinstance(decision, VerifyThenRescan):
                checked = self.ports.objects.inspect(record.object_ref(), self.settings.scan.max_object_bytes)
                if isinstance(checked, NotScannable):  # deleted or overwritten before Green fetched it
                    self.submission.settle(record.object_ref(), checked, tally)
                    return None
            return record, decision.reason

    def _rescan(self, items: Sequence[tuple[VerdictRecord, str]], summary: PollSummary,
                budget: Callable[[], float], tally: Tally) -> None:
        """Scan PENDING records again with fresh URLs; out of attempts, they become ERROR."""
        if not items:
            return
        store, settings = self.ports.store, self.settings
        ready: list[tuple[VerdictRecord, str, float]] = []
        tasks = []
        for record, reason in items:
            due_later = self.ports.clock() + settings.recheck_seconds
            if not store.reserve_rescan(record.id, task_id=record.task_id, max_attempts=settings.scan.max_attempts,
                                        due_at=due_later):
                current = store.get(record.id)  # out of attempts, or settled meanwhile (a callback won)
                if current is not None and current.state is State.PENDING and \
                        current.attempts >= settings.scan.max_attempts:
                    self._give_up(current, f"gave_up_after_{current.attempts}_scans_{reason}", summary, tally)
                continue
            try:
                signed = self.submission.task_for(record.object_ref())
            except Exception as exc:  # presigning failed: nothing was sent, the attempt goes back
                logger.warning("rescan deferred", extra={"error": str(exc)[:300], "data_id": record.id})
                store.reschedule(record.id, task_id=record.task_id, return_attempt=True, due_at=due_later)
                continue
            if isinstance(signed, NotScannable):
                self.submission.settle(record.object_ref(), signed, tally)
                continue
            task, expires_at = signed
            tasks.append(task)
            ready.append((record, reason, expires_at))
        answers = self.submission.dispatcher.send(tasks, budget=budget, tally=tally)
        summary.requests += -(-len(tasks) // MAX_TASKS) if tasks else 0
        for record, reason, expires_at in ready:
            answer = answers[record.id]
            if isinstance(answer, Sent):
                if store.resubmitted(record.id, task_id=answer.task_id, url_expires_at=expires_at, reason=reason,
                                     due_at=self.ports.clock() + settings.scan.poll_grace, by="poll"):
                    summary.rescanned += 1
                    tally.add(Outcome.RESUBMITTED)
            elif isinstance(answer, Answered) and terminal_state(answer.result) is not None:
                applied = apply_result(store, self.ports.policy, answer.result, record_id=record.id, by="poll")
                tally.add(applied.outcome)
            else:
                # Refused for now, or not sent: try again next time; give the attempt back if nothing reached Green.
                unsent = isinstance(answer, Answered) or (isinstance(answer, NotSent) and not answer.maybe_accepted)
                tally.add(Outcome.GREEN_REFUSED_TASK if isinstance(answer, Answered) else None)
                store.reschedule(record.id, task_id=record.task_id, return_attempt=unsent,
                                 last_code=answer.result.code if isinstance(answer, Answered) else None,
                                 due_at=self.ports.clock() + settings.recheck_seconds)

    def _give_up(self, record: VerdictRecord, reason: str, summary: PollSummary, tally: Tally) -> None:
        applied = settle(self.ports.store, self.ports.policy, record.id, State.ERROR, by="poll", reason=reason)
        if applied.changed:
            summary.gave_up += 1
            tally.add(applied.outcome)
            logger.warning("gave up", extra={"reason": reason, "data_id": record.id})

    # -- RECEIVED: recover what a failed submission left ---------------------------------------------

    def _recover(self, records: Sequence[VerdictRecord], summary: PollSummary, budget: Callable[[], float],
                 tally: Tally) -> None:
        candidates: list[VerdictRecord] = []
        for record in records:
            if record.recoveries >= self.settings.max_recoveries:
                self._give_up(record, f"not_submitted_after_{record.recoveries}_recoveries", summary, tally)
            else:
                candidates.append(record)
        if candidates and self._wait_for_budget(candidates, summary, tally):
            return
        prepared: list[Prepared] = []
        for record in candidates:
            with object_context(object_key=record.key, data_id=record.id):
                try:
                    item = self.submission.prepare(record.object_ref(), tally,
                                                   retry_after=recovery_delay(record, self.settings))
                except Exception as exc:  # stays RECEIVED and due; the next run tries again
                    logger.warning("recovery deferred", extra={"error": str(exc)[:300]})
                    continue
            if isinstance(item, Prepared):
                prepared.append(item)
        delays = {r.id: recovery_delay(r, self.settings) for r in candidates}
        sent = self.submission.send(prepared, budget=budget, tally=tally, retry_after=delays)
        summary.recovered += sum(1 for outcome in sent.values() if not isinstance(outcome, Exception)
                                 and outcome.detail != WAITING_REASON)
        summary.waiting_for_budget += sum(1 for outcome in sent.values() if not isinstance(outcome, Exception)
                                          and outcome.detail == WAITING_REASON)

    def _wait_for_budget(self, records: Sequence[VerdictRecord], summary: PollSummary, tally: Tally) -> bool:
        """When today's image budget is spent, leave stranded records untouched but due when it opens again
        (no takeover, so no recovery is counted); True if so. A budget that cannot be read is not spent:
        the submission's own admission decides then."""
        guard = self.submission.guard
        if guard is None:
            return False
        try:
            resume_at = guard.spent_until()
        except Exception as exc:
            logger.warning("could not read the daily image budget", extra={"error": str(exc)[:200]})
            return False
        if resume_at is None:
            return False
        for record in records:
            if record.lease_token and self.ports.store.release(record.id, record.lease_token, retry_at=resume_at,
                                                                unsent=False):
                summary.waiting_for_budget += 1
                tally.add(Outcome.BUDGET_EXHAUSTED)
        return True
