"""Submitting one object version: claim it, check it, presign it, send it, record what Green said.

Used by submit for every announced version and by the poller for records a failed submission
left stranded. The claim counts a scan attempt before anything is sent, so the attempt count is
an upper bound of the tasks Green may hold for the version; a failure that surely sent nothing
returns it. A failure worth retrying comes back to the caller as `RetryLater`, with the lease
released so whoever retries (the message's redelivery, or the poller) can claim the record at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import NotScannable, ObjectInfo, precheck
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import State
from greenlight.domain.verdicts import terminal_state
from greenlight.green.wire import MAX_URL_LENGTH, ScanTask, TaskOutcome
from greenlight.ports import (
    CallbackTarget,
    Clock,
    GreenScanner,
    ImageBudget,
    KnownContentStore,
    ObjectStore,
    PolicySource,
    VerdictStore,
)
from greenlight.runtime.config import ScanSettings
from greenlight.runtime.observability import logger, object_context, redact_url
from greenlight.runtime.parallel import io_map
from greenlight.scanning.dispatch import Answer, Answered, Dispatcher, NotSent, Sent
from greenlight.scanning.known import lookup_keys, match
from greenlight.scanning.results import apply_result, settle
from greenlight.scanning.spend import WAITING_REASON, Admission, SpendGuard


class RetryLater(Exception):
    """Not handled now, but may be later: the message is redelivered (or the poller comes back)."""


@dataclass(frozen=True)
class ScanPorts:
    """What getting images scanned needs from the outside world."""

    store: VerdictStore
    objects: ObjectStore
    green: GreenScanner
    callback: Callable[[], CallbackTarget | None]
    policy: PolicySource
    known: KnownContentStore
    clock: Clock = time.time
    image_budget: ImageBudget | None = None  # the daily counters the spend guard takes from (None: no guard)


@dataclass(frozen=True)
class Prepared:
    """A version claimed, checked and presigned: ready to send."""

    obj: ObjectRef
    lease_token: str
    task: ScanTask
    url_expires_at: float
    info: ObjectInfo


@dataclass(frozen=True)
class Settled:
    """Nothing more to do for this version now: recorded, already done elsewhere, or sent."""

    outcome: Outcome | None
    detail: str | None = None


class Submission:
    """`by` names who submits in the record's history ("submit" or "poll")."""

    def __init__(self, ports: ScanPorts, settings: ScanSettings, *, by: str) -> None:
        self.ports = ports
        self.settings = settings
        self.by = by
        self.dispatcher = Dispatcher(ports.green, settings.green, mode=settings.scan_mode, callback=ports.callback)
        self.guard = SpendGuard(ports.image_budget, settings.daily_image_budget, ports.clock) \
            if ports.image_budget is not None and settings.daily_image_budget > 0 else None

    # -- one version at a time --------------------------------------------------------------------

    def prepare(self, obj: ObjectRef, tally: Tally, *, retry_after: float | None = None) -> Prepared | Settled:
        """Claim, check and presign `obj`. Raises RetryLater when it cannot be done now."""
        store, settings = self.ports.store, self.settings
        claim = store.claim(obj, lease_seconds=settings.lease_seconds, max_attempts=settings.max_attempts, by=self.by)
        if not claim.claimed:
            return self._not_claimed(obj, claim.existing, tally)
        assert claim.lease_token is not None
        if claim.takeover:
            tally.add(Outcome.LEASE_TAKEOVER if self.by == "submit" else Outcome.RECOVERED)
        try:
            # Hashing reads whole objects: only when the policy may reuse a pass on identical bytes.
            hashing = self.ports.policy.current().known_content.pass_identical_sha256
            checked = precheck(obj, settings.max_object_bytes) or self.ports.objects.inspect(
                obj, settings.max_object_bytes, hash_content=hashing)
            if isinstance(checked, NotScannable):
                return self.settle(obj, checked, tally)
            signed = self.task_for(obj)
            if isinstance(signed, NotScannable):
                return self.settle(obj, NotScannable(signed.state, signed.reason, {**checked.details(),
                                                                                    **(signed.details or {})}), tally)
        except Exception as exc:
            self._release(obj.data_id, claim.lease_token, unsent=True, retry_after=retry_after)
            raise RetryLater(f"could not check or sign the object: {type(exc).__name__}: {exc}") from exc
        task, expires_at = signed
        return Prepared(obj=obj, lease_token=claim.lease_token, task=task, url_expires_at=expires_at, info=checked)

    def _not_claimed(self, obj: ObjectRef, existing: VerdictRecord | None, tally: Tally) -> Settled:
        if existing is None:
            raise RetryLater("the record could not be claimed or read")
        if existing.state is State.RECEIVED:
            if (existing.lease_until or 0) > self.ports.clock():
                # Another invocation holds the lease. If it fails, its own message may already be
                # gone, so this one must come back rather than be acknowledged as a duplicate.
                tally.add(Outcome.LEASE_BUSY)
                raise RetryLater("another invocation is submitting this object")
            if existing.attempts < self.settings.max_attempts:
                # The takeover lost a race (the lease was released or taken meanwhile): not out of
                # attempts, so try again rather than give up.
                tally.add(Outcome.LEASE_BUSY)
                raise RetryLater("the record changed while it was being claimed")
            reason = f"gave_up_after_{existing.attempts}_scans"
            tally.add(settle(self.ports.store, self.ports.policy, obj.data_id, State.ERROR, by=self.by,
                             reason=reason).outcome)
            return Settled(Outcome.ERRORED, reason)
        tally.add(Outcome.DUPLICATE_EVENT)
        return Settled(None, existing.state.value)

    def task_for(self, obj: ObjectRef) -> tuple[ScanTask, float] | NotScannable:
        """A task with a fresh URL for `obj`, asking Green to check every frame it can."""
        url = self.ports.objects.presign(obj)
        if len(url.url) > MAX_URL_LENGTH:
            return NotScannable(State.SKIPPED, "url_too_long", {"url_length": len(url.url)})
        logger.debug("presigned", extra={"url": redact_url(url.url)})
        task = ScanTask(obj.data_id, url.url, interval=1, max_frames=self.settings.green.max_frames)
        return task, url.expires_at

    def settle(self, obj: ObjectRef, verdict: NotScannable, tally: Tally) -> Settled:
        """Record that `obj` will not be scanned."""
        applied = settle(self.ports.store, self.ports.policy, obj.data_id, verdict.state, by=self.by,
                         reason=verdict.reason, details=verdict.details)
        tally.add(applied.outcome)
        logger.info("not scanned", extra={"state": verdict.state.value, "reason": verdict.reason})
        return Settled(Outcome.for_terminal(verdict.state), verdict.reason)

    # -- sending what was prepared ----------------------------------------------------------------

    def send(self, prepared: Sequence[Prepared], *, budget: Callable[[], float], tally: Tally,
             retry_after: Mapping[str, float] | None = None) -> dict[str, Settled | RetryLater]:
        """Send every prepared version and record Green's answer for each, by data_id. Content already
        judged (greenlight.scanning.known) is decided without a scan; what the daily image budget does
        not cover waits for the next UTC day (greenlight.scanning.spend). A version that must be retried
        is due again after `retry_after[data_id]` seconds (default: the lease)."""
        settled, prepared = self._settle_known(prepared, tally)
        admission, prepared, waiting = self._admit(prepared, tally)
        answers = self.dispatcher.send([p.task for p in prepared], budget=budget, tally=tally)
        if self.guard is not None and admission is not None:
            self.guard.give_back(admission, sum(1 for answer in answers.values() if _surely_unsent(answer)))
        record = partial(self._record, answers=answers, tally=tally, retry_after=retry_after)
        return {**settled, **waiting,
                **dict(zip((p.obj.data_id for p in prepared), io_map(record, prepared), strict=True))}

    def _admit(self, prepared: Sequence[Prepared], tally: Tally) -> tuple[Admission | None, list[Prepared],
                                                                            dict[str, Settled | RetryLater]]:
        """What the daily budget lets go now, and what it holds back until the next UTC day: those records
        are released, due when the budget opens again, and their messages acknowledged (nothing is lost:
        the poller's recovery submits them then)."""
        if self.guard is None or not prepared:
            return None, list(prepared), {}
        try:
            admission = self.guard.admit(len(prepared))
        except Exception as exc:  # the counter is unreachable: send nothing rather than spend without limit
            logger.warning("could not take from the daily image budget; the batch will be retried",
                           extra={"error": str(exc)[:200]})
            for item in prepared:
                with suppress(Exception):  # else the lease runs out before the message comes back
                    self._release(item.obj.data_id, item.lease_token, unsent=True, retry_after=None)
            return None, [], {p.obj.data_id: RetryLater("the daily image budget could not be read") for p in prepared}
        held = prepared[admission.granted:]
        waiting: dict[str, Settled | RetryLater] = {}
        for item in held:
            with object_context(object_key=item.obj.key, data_id=item.obj.data_id):
                waiting[item.obj.data_id] = self._wait_for_budget(item, admission.resume_at, tally)
        return admission, list(prepared[:admission.granted]), waiting

    def _wait_for_budget(self, item: Prepared, resume_at: float, tally: Tally) -> Settled | RetryLater:
        try:
            self.ports.store.release(item.obj.data_id, item.lease_token, retry_at=resume_at, unsent=True)
        except Exception as exc:  # the lease runs out and the message comes back: held back again then
            return RetryLater(f"could not hold the object back for the budget: {type(exc).__name__}")
        tally.add(Outcome.BUDGET_EXHAUSTED)
        return Settled(Outcome.BUDGET_EXHAUSTED, WAITING_REASON)

    def _settle_known(self, prepared: Sequence[Prepared],
                      tally: Tally) -> tuple[dict[str, Settled | RetryLater], list[Prepared]]:
        """Decide what is identical to content already judged; return it, and what is left to send."""
        if not prepared:
            return {}, []
        try:
            entries = self.ports.known.find([key for p in prepared for key in lookup_keys(p.obj, p.info)])
        except Exception as exc:  # the lookup only saves a scan: without it, Green judges them all
            logger.warning("known content lookup failed; scanning instead", extra={"error": str(exc)[:300]})
            return {}, list(prepared)
        if not entries:
            return {}, list(prepared)
        policy = self.ports.policy.current()
        settled: dict[str, Settled | RetryLater] = {}
        left: list[Prepared] = []
        for item in prepared:
            known = match(item.obj, item.info, entries, policy)
            if known is None:
                left.append(item)
                continue
            changed = self.ports.store.finish(
                item.obj.data_id, State.FINAL, by="known_content", reason=known.reason,
                details={**item.info.details(), "suggestion": known.decision.value, "scenes": known.entry.scenes},
                decision=known.decision.to_record())
            tally.add(Outcome.KNOWN_CONTENT if changed else None)
            tally.add(Outcome.for_terminal(State.FINAL, known.decision.value) if changed else None)
            settled[item.obj.data_id] = Settled(Outcome.KNOWN_CONTENT, known.reason)
        return settled, left

    def _record(self, item: Prepared, *, answers: dict[str, Answer], tally: Tally,
                retry_after: Mapping[str, float] | None) -> Settled | RetryLater:
        answer = answers[item.obj.data_id]
        wait = (retry_after or {}).get(item.obj.data_id)
        task_id = answer.task_id if isinstance(answer, Sent) else None
        with object_context(object_key=item.obj.key, data_id=item.obj.data_id, task_id=task_id):
            if isinstance(answer, Sent):
                return self._pending(item, answer.task_id, tally)
            if isinstance(answer, NotSent):
                self._release(item.obj.data_id, item.lease_token, unsent=not answer.maybe_accepted, retry_after=wait)
                return RetryLater(f"not sent: {answer.reason}")
            return self._answered(item, answer, tally, wait)

    def _pending(self, item: Prepared, task_id: str, tally: Tally) -> Settled:
        recorded = self.ports.store.mark_pending(
            item.obj.data_id, lease_token=item.lease_token, task_id=task_id,
            due_at=self.ports.clock() + self.settings.poll_grace, url_expires_at=item.url_expires_at,
            details=item.info.details(), by=self.by)
        if not recorded:
            # The lease was taken over meanwhile. The task still reaches the record: its callback is
            # applied by dataId, and the new holder's own scan settles it otherwise.
            logger.warning("task accepted after the lease was lost", extra={"task_id": task_id})
            return Settled(None, "lease_lost")
        tally.add(Outcome.SCAN_SUBMITTED)
        return Settled(Outcome.SCAN_SUBMITTED, task_id)

    def _answered(self, item: Prepared, answer: Answered, tally: Tally,
                  retry_after: float | None) -> Settled | RetryLater:
        result = answer.result
        if result.outcome in (TaskOutcome.RETRY, TaskOutcome.FETCH_FAILED, TaskOutcome.PROCESSING):
            # Green refused this one task for now (throttled, busy, could not fetch): no task exists.
            tally.add(Outcome.GREEN_REFUSED_TASK)
            logger.warning("Green refused the task", extra={"code": result.code, "green_msg": result.msg[:80]})
            self._release(item.obj.data_id, item.lease_token, unsent=True, retry_after=retry_after)
            return RetryLater(f"Green answered {result.code} for this image")
        if terminal_state(result) is None:
            self._release(item.obj.data_id, item.lease_token, unsent=True, retry_after=retry_after)
            return RetryLater(f"Green answered {result.code} without a task id")
        by = "sync" if self.settings.scan_mode == "sync" else self.by  # the record's source of its verdict
        applied = apply_result(self.ports.store, self.ports.policy, result, record_id=item.obj.data_id, by=by)
        tally.add(applied.outcome)
        return Settled(applied.outcome, result.suggestion or f"green_{result.code}")

    def _release(self, record_id: str, lease_token: str, *, unsent: bool, retry_after: float | None) -> None:
        wait = retry_after if retry_after is not None else self.settings.lease_seconds
        self.ports.store.release(record_id, lease_token, retry_at=self.ports.clock() + wait, unsent=unsent)


def _surely_unsent(answer: Answer) -> bool:
    """Green surely took nothing for this task (as `_record` and `_answered` give the attempt back)."""
    if isinstance(answer, NotSent):
        return not answer.maybe_accepted
    if isinstance(answer, Answered):
        return (answer.result.outcome in (TaskOutcome.RETRY, TaskOutcome.FETCH_FAILED, TaskOutcome.PROCESSING)
                or terminal_state(answer.result) is None)
    return False
