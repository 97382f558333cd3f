"""Submit: a batch of S3 "Object Created" messages -> Green scans, up to 100 images a request.

The decisions made here, for each object version the batch announces:
- a bucket or key the stack does not moderate is acknowledged and left alone;
- a version announced by several messages of the batch is handled once, for all of them;
- a write older than the newest one seen for its key is recorded SUPERSEDED, never scanned, and
  a newer write supersedes the older one's record;
- every other version is claimed, checked, presigned and sent (greenlight.scanning.submission).

A message comes back (a batch item failure) when any version it announced must be retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from greenlight.aws.s3_events import Ignored, parse_message
from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.states import State
from greenlight.runtime.batching import Deferred
from greenlight.runtime.config import SubmitSettings
from greenlight.runtime.observability import logger, object_context
from greenlight.runtime.parallel import io_map
from greenlight.scanning.results import decision_for, settle
from greenlight.scanning.submission import Prepared, RetryLater, Settled, Submission


@dataclass(frozen=True)
class Announced:
    """One object version and every message of the batch that announced it."""

    obj: ObjectRef
    message_ids: tuple[str, ...]


def read_message(message_id: str, body: str, tally: Tally) -> Deferred | None:
    """The objects one SQS message announces, deferred to the batch's flush; None acknowledges it."""
    tally.add(Outcome.MESSAGE_RECEIVED)
    parsed = parse_message(body)
    if isinstance(parsed, Ignored):
        tally.add(Outcome.MESSAGE_IGNORED)
        logger.info("message ignored", extra={"reason": parsed.reason, "message_id": message_id})
        return None
    return Deferred(message_id, parsed)


def announced(messages: Sequence[Deferred]) -> list[Announced]:
    """Each version once, in the order first announced, with all its messages."""
    by_version: dict[str, tuple[ObjectRef, list[str]]] = {}
    for message in messages:
        for obj in message.payload:
            by_version.setdefault(obj.data_id, (obj, []))[1].append(message.message_id)
    return [Announced(obj, tuple(dict.fromkeys(ids))) for obj, ids in by_version.values()]


def submit_batch(messages: Sequence[Deferred], *, submission: Submission, settings: SubmitSettings,
                 budget: Callable[[], float], tally: Tally) -> dict[str, Exception]:
    """Take in every announced version, send what is ready together; the messages to retry, with why."""
    versions = announced(messages)
    # Taking in stops early enough to leave a reserve for sending what was prepared, and one more
    # for recording it: work claimed but not sent is work done twice.
    reserve = settings.scan.time_reserve
    take = partial(_take_in, submission=submission, settings=settings, tally=tally,
                   budget=lambda: budget() - 2 * reserve)
    taken = io_map(take, [v.obj for v in versions])
    prepared = [item for item in taken if isinstance(item, Prepared)]
    sent = submission.send(prepared, budget=lambda: budget() - reserve, tally=tally)
    failures: dict[str, Exception] = {}
    for version, item in zip(versions, taken, strict=True):
        outcome = sent.get(version.obj.data_id) if isinstance(item, Prepared) else item
        if isinstance(outcome, Exception):
            failures.update((message_id, outcome) for message_id in version.message_ids)
    tally.add(Outcome.MESSAGE_RETRIED, len(failures))
    logger.info("batch done", extra={"messages": len(messages), "versions": len(versions), "sent": len(prepared),
                                     "retry_messages": len(failures)})
    return failures


def _take_in(obj: ObjectRef, *, submission: Submission, settings: SubmitSettings, tally: Tally,
             budget: Callable[[], float]) -> Prepared | Settled | Exception:
    with object_context(object_key=obj.key, data_id=obj.data_id):
        if obj.bucket not in settings.bucket_names or not settings.keys.matches(obj.key):
            tally.add(Outcome.MESSAGE_IGNORED)
            logger.info("object not moderated here", extra={"bucket": obj.bucket})
            return Settled(None, "not_moderated")
        if budget() <= 0:
            return RetryLater("no time left to take this object in")
        try:
            return _newest_or_superseded(obj, submission, tally) or submission.prepare(obj, tally)
        except Exception as exc:  # reported per object and retried with its messages; never lost
            logger.warning("object will be retried", extra={"error": str(exc)[:300]})
            return exc


def _newest_or_superseded(obj: ObjectRef, submission: Submission, tally: Tally) -> Settled | None:
    """Settle `obj` as SUPERSEDED when a newer write of its key was seen; None when it is the newest."""
    ports, by = submission.ports, submission.by
    head = ports.store.advance_head(obj)
    if not head.newest:
        reason = "newer_version_seen"
        decision = decision_for(ports.policy.current(), State.SUPERSEDED, reason=reason)
        created = ports.store.create_superseded(obj, reason=reason, by=by, decision=decision.to_record())
        tally.add(Outcome.SUPERSEDED if created else None)
        return Settled(Outcome.SUPERSEDED, reason)
    if head.previous_id:
        applied = settle(ports.store, ports.policy, head.previous_id, State.SUPERSEDED, by=by,
                         reason="newer_version_uploaded")
        if applied.changed:
            tally.add(applied.outcome)
            logger.info("older version superseded", extra={"superseded_id": head.previous_id})
    return None
