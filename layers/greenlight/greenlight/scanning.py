"""Getting objects scanned: claim, check, presign, send in groups of up to 100, record.

`Scanner.prepare` does the per-object work (and records any object that will never be scanned);
`Scanner.send` sends the prepared objects in as few Green requests as possible and records each
one as PENDING (async) or with its verdict (sync). `Scanner.resubmit` is the poller's path for
tasks Green lost or could not fetch. A failure worth retrying comes back to the caller per
object, with the object's lease released so the retried message can claim it at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenlight.events import ObjectRef
from greenlight.green.errors import GreenAuthError, GreenError, GreenInvalidRequest
from greenlight.green.wire import ScanTask, TaskOutcome, TaskResult, chunks
from greenlight.objects import NotScannable, ObjectInfo, UrlSigner, inspect_object, precheck
from greenlight.observability import count, logger, object_context, redact_url
from greenlight.parallel import WORKERS, io_map
from greenlight.results import apply_result, count_terminal, terminal_state
from greenlight.states import State

if TYPE_CHECKING:
    from greenlight.config import ScanSettings
    from greenlight.credentials import GreenSecret
    from greenlight.green.client import GreenClient
    from greenlight.store import VerdictRecord, VerdictStore


class RetryLater(Exception):
    """This object could not be handled now but may be later; its message should be redelivered."""


@dataclass
class Prepared:
    """An object claimed and ready to send."""

    obj: ObjectRef
    lease_token: str
    task: ScanTask
    url_expires_at: float
    info: ObjectInfo


@dataclass(frozen=True)
class Outcome:
    """What happened to one object; `kind` names the metric-worthy outcome."""

    kind: str
    detail: str | None = None


@dataclass
class SendReport:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    requests: int = 0


class Scanner:
    def __init__(
        self,
        *,
        store: VerdictStore,
        s3: Any,
        green: GreenClient,
        signer: UrlSigner,
        settings: ScanSettings,
        secret: Callable[[], GreenSecret],
        clock: Callable[[], float] = time.time,
        workers: int = WORKERS,
    ) -> None:
        self.store = store
        self.s3 = s3
        self.green = green
        self.signer = signer
        self.settings = settings
        self._secret = secret
        self._clock = clock
        self._workers = workers

    # -- phase 1: per object --------------------------------------------------------------------

    def prepare(self, obj: ObjectRef) -> Prepared | Outcome:
        """Claim the object version and check it. Raises RetryLater for a transient failure."""
        if obj.bucket not in self.settings.bucket_names:
            count("MessageIgnored")
            return Outcome("ignored", "foreign_bucket")
        head = self.store.advance_head(obj)
        if not head.newest:
            if self.store.create_superseded(obj, reason="newer_version_seen"):
                count_terminal(State.SUPERSEDED)
            return Outcome("superseded", "newer_version_seen")
        if head.previous_id and self.store.supersede(head.previous_id, reason="newer_version_uploaded"):
            count_terminal(State.SUPERSEDED)
            logger.info("older version superseded", extra={"superseded_id": head.previous_id})

        claim = self.store.claim(obj, lease_seconds=self.settings.lease_seconds)
        if not claim.claimed:
            if claim.existing is not None and claim.existing.state is State.RECEIVED:
                # Another invocation holds the lease. If it fails, its own message may already be
                # gone, so this one must come back rather than be acknowledged as a duplicate.
                count("LeaseBusy")
                raise RetryLater("another invocation is submitting this object")
            count("DuplicateEvent")
            return Outcome("duplicate", claim.existing.state.value if claim.existing else "unknown")
        assert claim.lease_token is not None
        if claim.takeover:
            count("LeaseTakeover")

        try:
            return self._check_and_sign(obj, claim.lease_token)
        except Exception as exc:
            # Whatever failed, the redelivered message must be able to claim the record at once.
            self.store.release(obj.data_id, claim.lease_token)
            raise RetryLater(f"could not check or sign the object: {type(exc).__name__}: {exc}") from exc

    def _check_and_sign(self, obj: ObjectRef, lease_token: str) -> Prepared | Outcome:
        checked = precheck(obj, self.settings.max_object_bytes) or inspect_object(
            self.s3, obj, self.settings.max_object_bytes)
        if isinstance(checked, NotScannable):
            return self._not_scannable(obj, checked, lease_token)
        url = self.signer.presign(obj)
        if url.too_long:
            return self._not_scannable(obj, NotScannable(State.SKIPPED, "url_too_long", {
                **checked.details(), "url_length": len(url.url)}), lease_token)
        logger.debug("presigned", extra={"url": redact_url(url.url)})
        return Prepared(obj=obj, lease_token=lease_token, task=ScanTask(obj.data_id, url.url),
                        url_expires_at=url.expires_at, info=checked)

    def _not_scannable(self, obj: ObjectRef, verdict: NotScannable, lease_token: str) -> Outcome:
        if verdict.state is State.SUPERSEDED:
            changed = self.store.supersede(obj.data_id, reason=verdict.reason)
        else:
            changed = self.store.finish(obj.data_id, verdict.state, source="submit", reason=verdict.reason,
                                        lease_token=lease_token, details=verdict.details)
        if changed:
            count_terminal(verdict.state)
        logger.info("not scanned", extra={"state": verdict.state.value, "reason": verdict.reason})
        return Outcome(verdict.state.value.lower(), verdict.reason)

    # -- phase 2: grouped sends -----------------------------------------------------------------

    def send(self, prepared: Sequence[Prepared], *, budget: Callable[[], float]) -> SendReport:
        """Send in groups of up to 100. `budget` returns the seconds this call may still use."""
        report = SendReport()
        for group in chunks(prepared):
            remaining = budget()
            if remaining <= 1:
                self._fail(group, report, RetryLater("no time left to send"))
                continue
            try:
                results = self._scan(group, remaining)
            except GreenAuthError as exc:
                logger.error("Green refused our credentials", extra={"code": str(exc.code)})
                count("GreenAuthFailed")
                self._fail(group, report, RetryLater(f"Green authentication failed: {exc.code}"))
                continue
            except GreenError as exc:
                count("GreenThrottled" if exc.retryable and "588" in str(exc.code) else "GreenFailed")
                self._fail(group, report, RetryLater(f"Green request failed: {type(exc).__name__} {exc.code}"))
                continue
            report.requests += 1
            count("ScanRequests")
            by_data_id = {r.data_id: r for r in results if r.data_id}
            self._map(functools.partial(self._record_one, answers=by_data_id, report=report), group)
        return report

    def _record_one(self, item: Prepared, *, answers: Mapping[str, TaskResult], report: SendReport) -> None:
        result = answers.get(item.obj.data_id)
        with object_context(object_key=item.obj.key, data_id=item.obj.data_id,
                            task_id=result.task_id if result else None):
            if result is None:
                self._fail([item], report, RetryLater("Green's answer did not mention this image"))
            else:
                self._record_submission(item, result, report)

    def _scan(self, group: Sequence[Prepared], budget: float) -> list[TaskResult]:
        tasks = [item.task for item in group]
        scenes = self.settings.green.scenes
        biz_type = self.settings.green.biz_type
        if self.settings.scan_mode == "sync":
            return self.green.image_sync_scan(tasks, scenes, biz_type=biz_type, budget=budget)
        secret = self._secret()
        callback = None
        if self.settings.callback_url and secret.callback_token:
            callback = f"{self.settings.callback_url.rstrip('/')}/{secret.callback_token}"
        return self.green.image_async_scan(tasks, scenes, biz_type=biz_type, callback=callback,
                                           seed=secret.seed if callback else None, budget=budget)

    def _record_submission(self, item: Prepared, result: TaskResult, report: SendReport) -> None:
        data_id = item.obj.data_id
        if self.settings.scan_mode == "sync":
            applied = apply_result(self.store, result, source="sync", data_id=data_id, lease_token=item.lease_token)
            if applied.state is not None:
                report.outcomes[data_id] = Outcome(applied.state.value.lower(), result.suggestion)
                return
        elif result.code == 200 and result.task_id:
            now = self._clock()
            self.store.mark_pending(data_id, lease_token=item.lease_token, task_id=result.task_id,
                                    due_at=now + self.settings.poll_grace, url_expires_at=item.url_expires_at,
                                    details=item.info.details())
            count("ScanSubmitted")
            report.outcomes[data_id] = Outcome("submitted", result.task_id)
            return
        terminal = terminal_state(result)
        if terminal is not None and result.outcome is not TaskOutcome.DONE:
            state, reason = terminal
            if self.store.finish(data_id, state, source="submit", reason=reason, lease_token=item.lease_token):
                count_terminal(state)
            report.outcomes[data_id] = Outcome(state.value.lower(), reason)
            return
        self._fail([item], report, RetryLater(f"Green answered {result.code} for this image"))

    def _fail(self, items: Sequence[Prepared], report: SendReport, error: Exception) -> None:
        for item in items:
            self.store.release(item.obj.data_id, item.lease_token)
            report.failures[item.obj.data_id] = error

    # -- the poller's path ----------------------------------------------------------------------

    def resubmit(self, records: Sequence[tuple[VerdictRecord, str]], *, budget: Callable[[], float]) -> SendReport:
        """Scan PENDING records again with fresh URLs (Green lost the task or could not fetch it).

        Records out of attempts become ERROR with the reason instead."""
        report = SendReport()
        ready: list[tuple[VerdictRecord, str, ScanTask, float]] = []
        for record, reason in records:
            if record.attempts >= self.settings.max_attempts:
                if self.store.finish(record.id, State.ERROR, source="poll", reason=f"gave_up_after_{reason}",
                                     task_id=record.task_id or ""):
                    count_terminal(State.ERROR)
                report.outcomes[record.id] = Outcome("error", reason)
                continue
            url = self.signer.presign(record.object_ref())
            ready.append((record, reason, ScanTask(record.id, url.url), url.expires_at))
        secret = self._secret()
        callback = None
        if self.settings.callback_url and secret.callback_token:
            callback = f"{self.settings.callback_url.rstrip('/')}/{secret.callback_token}"
        for group in chunks(ready):
            remaining = budget()
            if remaining <= 1:
                break
            try:
                results = self.green.image_async_scan([task for _, _, task, _ in group], self.settings.green.scenes,
                                                      biz_type=self.settings.green.biz_type, callback=callback,
                                                      seed=secret.seed if callback else None, budget=remaining)
            except GreenInvalidRequest as exc:
                logger.error("resubmission refused", extra={"error": str(exc)})
                continue
            except GreenError as exc:
                logger.warning("resubmission failed; will try again next run", extra={"error": type(exc).__name__})
                continue
            report.requests += 1
            count("ScanRequests")
            by_data_id = {r.data_id: r for r in results if r.data_id}
            now = self._clock()
            for record, reason, _, expires_at in group:
                result = by_data_id.get(record.id)
                if result is None or result.code != 200 or not result.task_id:
                    continue
                if self.store.resubmitted(record.id, old_task_id=record.task_id or "", task_id=result.task_id,
                                          due_at=now + self.settings.poll_grace, url_expires_at=expires_at,
                                          reason=reason):
                    count("Resubmitted")
                    report.outcomes[record.id] = Outcome("resubmitted", reason)
        return report

    def prepare_many(self, objects: Sequence[ObjectRef],
                     budget: Callable[[], float] | None = None) -> list[Prepared | Outcome | Exception]:
        """`prepare` for many objects at once. Once `budget()` (seconds this phase may still use)
        runs out, the remaining objects are left untouched for redelivery instead of being claimed."""

        def prepare_in_time(obj: ObjectRef) -> Prepared | Outcome | Exception:
            if budget is not None and budget() <= 0:
                return RetryLater("no time left to prepare this object")
            return self._prepare_safely(obj)

        return self._map(prepare_in_time, objects)

    def _map(self, function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return io_map(function, items, self._workers)

    def _prepare_safely(self, obj: ObjectRef) -> Prepared | Outcome | Exception:
        with object_context(object_key=obj.key, data_id=obj.data_id):
            try:
                return self.prepare(obj)
            except Exception as exc:  # reported per object by the caller; never lost
                logger.warning("object will be retried", extra={"error": str(exc)})
                return exc
