"""Enforce: act on each moderation decision once, on the exact version judged, and announce it.

For every new decision on a record (its `decision_rev` went up: the first decision, or a later
change such as an override) this function:
1. plans what the decision asks of the object (`plan`, pure): tag the version with the decision and
   policy version; for a block, quarantine it (move it out of its key) or delete it, as configured;
   for a decision that is no longer block, put a quarantined version back and retag it;
2. in `enforce` mode carries the plan out through the ObjectActions port, each step idempotent, and
   never on another version (the adapter refuses with VersionGone, recorded as such); in `shadow`
   mode carries out nothing and records what it would have done;
3. remembers blocked content by hash (so identical uploads are blocked without a Green call) and
   forgets it when a block is lifted;
4. publishes one verdict event (schema `greenlight.verdict/1`, README "Verdict events");
5. records what it did on the record, with history entries, while that decision is still current;
6. for a person's override, tells Green about its mistake (ImageScanFeedback with the corrected
   suggestion and labels), retried until it is accepted, the outcome recorded on the record.

A failure of any step raises; the handler sends the work to the retry queue so other objects go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from greenlight.domain.identity import ObjectRef
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.domain.record import KnownContent, VerdictRecord, action_entry, iso
from greenlight.green.errors import GreenError
from greenlight.green.wire import Feedback
from greenlight.ports import (
    GreenScanner,
    KeyInUse,
    KnownContentStore,
    ObjectActions,
    QuarantineCopy,
    ReviewStore,
    VerdictEvents,
    VerdictStore,
    VersionGone,
)
from greenlight.runtime.config import EnforceSettings
from greenlight.runtime.observability import logger, object_context

SCHEMA = "greenlight.verdict/1"
DECISION_TAG = "greenlight-decision"
POLICY_TAG = "greenlight-policy"


@dataclass(frozen=True)
class Work:
    """One decision to enforce: the record and which of its decisions."""

    record_id: str
    decision_rev: int


@dataclass(frozen=True)
class Plan:
    tags: dict[str, str] = field(default_factory=dict)
    quarantine: bool = False
    delete: bool = False
    restore: bool = False
    remember: tuple[KnownContent, ...] = ()
    forget: tuple[str, ...] = ()

    def steps(self) -> list[str]:
        names = [f"tag {self.tags[DECISION_TAG]}"] if self.tags else []
        names += ["quarantine"] * self.quarantine + ["delete"] * self.delete + ["restore"] * self.restore
        return names


def content_keys(record: VerdictRecord) -> list[str]:
    """Hash keys a record's bytes are known by: ETag and size (any uploader can match an MD5, which only
    ever blocks their own upload) and, when hashing is on, SHA-256."""
    keys = [f"etag:{record.etag}:{record.size}"] if record.etag and record.size is not None else []
    return keys + ([f"sha256:{record.sha256}"] if record.sha256 else [])


def plan(record: VerdictRecord, settings: EnforceSettings, *, block_identical: bool,
         pass_identical_sha256: bool) -> Plan:
    """What decision `record.decision` asks of the object, given what was done before."""
    decision = record.decision or "review"
    tags = {DECISION_TAG: decision, POLICY_TAG: (record.policy_version or "none")[:256]} if settings.tag_objects \
        else {}
    blocked = decision == "block"
    quarantined = bool(record.quarantine)
    remember: list[KnownContent] = []
    forget: list[str] = []
    if blocked and block_identical:
        remember = [KnownContent(key, "block", record.id, record.policy_version) for key in content_keys(record)]
    elif not blocked:
        forget = [key for key in content_keys(record) if key.startswith("etag:")]
        if pass_identical_sha256 and record.sha256 and decision == "pass" and record.source not in ("known", None):
            remember = [KnownContent(f"sha256:{record.sha256}", "pass", record.id, record.policy_version,
                                     record.scenes)]
        elif record.sha256:
            forget.append(f"sha256:{record.sha256}")
    return Plan(tags=tags if not (blocked and quarantined) else {},
                quarantine=blocked and settings.block_action == "quarantine" and not quarantined,
                delete=blocked and settings.block_action == "delete",
                restore=not blocked and quarantined, remember=tuple(remember), forget=tuple(forget))


def quarantine_key(record: VerdictRecord, prefix: str) -> str:
    """Where in the quarantine bucket a version goes: by its bucket, key and record, never clashing."""
    return f"{prefix}{record.bucket}/{record.key}/{record.id}"


def verdict_event(record: VerdictRecord, *, enforced: bool, actions: list[str],
                  previous_decision: str | None) -> dict[str, Any]:
    """The detail of a verdict event (schema greenlight.verdict/1). Consumers deduplicate on
    (record_id, decision_rev)."""
    return {
        "schema": SCHEMA,
        "record_id": record.id,
        "decision_rev": record.decision_rev,
        "bucket": record.bucket,
        "key": record.key,
        "version_id": record.version_id if record.version_id and record.version_id != "null" else None,
        "etag": record.etag,
        "state": record.state.value,
        "decision": record.decision,
        "previous_decision": previous_decision,
        "policy_version": record.policy_version,
        "mode": record.decision_mode,
        "enforced": enforced,
        "reasons": list(record.decision_reasons),
        "scenes": record.scenes,
        "reason": record.reason,
        "source": record.source,
        "actions": actions,
        "decided_at": record.decided_at,
    }


FEEDBACK_SCENES = ("porn", "terrorism", "ad")  # the scenes Green takes feedback on


def feedback_for(record: VerdictRecord) -> Feedback | None:
    """What to tell Green about a person's decision on `record`; None when there is nothing it can take
    (a review decision, or no task of Green's to refer to)."""
    if record.decision not in ("pass", "block") or not record.task_id:
        return None
    scenes = tuple(scene for scene in FEEDBACK_SCENES if scene in record.scenes) or ("porn",)
    labels = [str(record.scenes.get(scene, {}).get("label", "normal")) for scene in scenes]
    label = "normal" if record.decision == "pass" else next((x for x in labels if x != "normal"), scenes[0])
    return Feedback(task_id=record.task_id, data_id=record.id, suggestion=record.decision, scenes=scenes,
                    label=label, note=str(record.override.get("reason", ""))[:100] or None)


class Enforcer:
    def __init__(self, *, store: VerdictStore, actions: ObjectActions, events: VerdictEvents,
                 known: KnownContentStore, settings: EnforceSettings, block_identical: Callable[[], bool],
                 pass_identical_sha256: Callable[[], bool], reviews: ReviewStore | None = None,
                 green: GreenScanner | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.reviews = reviews
        self.green = green
        self.actions = actions
        self.events = events
        self.known = known
        self.settings = settings
        self._block_identical = block_identical
        self._pass_identical = pass_identical_sha256
        self._clock = clock

    def enforce(self, work: Work, tally: Tally) -> None:
        """Carry decision `work.decision_rev` out. Raises when a step failed and it should be retried."""
        record = self.store.get(work.record_id)
        if record is None or record.decision_rev != work.decision_rev or not record.decision:
            tally.add(Outcome.ENFORCEMENT_STALE)  # a newer decision replaced it: that one is enforced instead
            return
        with object_context(object_key=record.key, data_id=record.id):
            if record.enforcement.get("decision_rev") != work.decision_rev:  # else done already (a redelivery)
                self._enforce(record, tally)
                record = self.store.get(work.record_id) or record
            self._feedback(record, tally)

    def _feedback(self, record: VerdictRecord, tally: Tally) -> None:
        """Tell Green about a person's decision once; a failure raises, so the work is retried."""
        if (self.green is None or self.reviews is None or not record.override
                or record.override.get("decision_rev") != record.decision_rev
                or (record.feedback.get("decision_rev") == record.decision_rev and record.feedback.get("sent"))):
            return
        feedback = feedback_for(record)
        attempts = int(record.feedback.get("attempts", 0)) + 1 if record.feedback.get(
            "decision_rev") == record.decision_rev else 1
        outcome: dict[str, Any] = {"decision_rev": record.decision_rev, "attempts": attempts,
                                   "at": iso(self._clock())}
        if feedback is None:
            self.reviews.record_feedback(record.id, {**outcome, "sent": False, "status": "nothing Green can take"})
            return
        try:
            self.green.image_scan_feedback(feedback, budget=20)
        except GreenError as exc:
            self.reviews.record_feedback(record.id, {**outcome, "sent": False,
                                                     "status": f"failed: {type(exc).__name__} {exc.code}"})
            tally.add(Outcome.FEEDBACK_FAILED)
            raise
        self.reviews.record_feedback(record.id, {**outcome, "sent": True, "status": "accepted",
                                                 "suggestion": feedback.suggestion, "label": feedback.label})
        tally.add(Outcome.FEEDBACK_SENT)

    def _enforce(self, record: VerdictRecord, tally: Tally) -> None:
        enforced = record.decision_mode == "enforce"
        steps = plan(record, self.settings, block_identical=self._block_identical(),
                     pass_identical_sha256=self._pass_identical())
        done = self._act(record, steps) if enforced else [f"would {step}" for step in steps.steps()]
        for key in steps.forget:
            self.known.forget(key, record_id=record.id)
        for entry in steps.remember:
            self.known.put(entry)
        previous = record.enforcement.get("decision")
        failed = self.events.publish([verdict_event(record, enforced=enforced, actions=done,
                                                    previous_decision=previous)])
        if failed:
            raise RuntimeError("the verdict event was not accepted by the bus")
        now = self._clock()
        entries = [action_entry(now, "enforce", action, decision_rev=record.decision_rev) for action in done]
        entries.append(action_entry(now, "enforce", "event published", decision_rev=record.decision_rev,
                                    detail=f"{record.decision} ({'enforced' if enforced else 'shadow'})"))
        enforcement = {"decision_rev": record.decision_rev, "decision": record.decision, "enforced": enforced,
                       "actions": done, "at": iso(now)}
        if self.store.record_enforcement(record.id, decision_rev=record.decision_rev, enforcement=enforcement,
                                         entries=entries):
            tally.add(Outcome.ENFORCED if enforced else Outcome.SHADOW_DECIDED)
            logger.info("decision enforced", extra={"decision": record.decision, "actions": done})

    def _act(self, record: VerdictRecord, steps: Plan) -> list[str]:
        obj = record.object_ref()
        done: list[str] = []
        try:
            if steps.restore:
                obj = self._restore(record)
                done.append(f"restored to {obj.key} (version {obj.version_id})")
            if steps.tags:
                self.actions.tag(obj, steps.tags)
                done.append(f"tagged {steps.tags[DECISION_TAG]}")
            if steps.quarantine:
                copy = self._quarantine(record, obj)
                done.append(f"quarantined to s3://{copy.bucket}/{copy.key}")
            if steps.delete:
                self.actions.delete(obj)
                done.append("deleted")
        except VersionGone:
            # The version judged is no longer at its key (deleted, or overwritten in an unversioned
            # bucket): nothing may be done to whatever is there now.
            done.append("skipped: the version judged is no longer there")
        except KeyInUse:
            done.append("not restored: its key holds a newer object; the copy stays in quarantine")
        return done

    def _quarantine(self, record: VerdictRecord, obj: ObjectRef) -> QuarantineCopy:
        bucket = self.settings.quarantine_bucket or record.bucket
        key = quarantine_key(record, self.settings.quarantine_prefix)
        # Where it goes is written before its key stops serving it, so it can always be put back.
        self.store.set_quarantine(record.id, {"bucket": bucket, "key": key, "version_id": None, "moving": True})
        copy = self.actions.quarantine(obj, bucket=bucket, key=key)
        self.store.set_quarantine(record.id, {"bucket": copy.bucket, "key": copy.key, "version_id": copy.version_id})
        return copy

    def _restore(self, record: VerdictRecord) -> ObjectRef:
        where: Mapping[str, Any] = record.quarantine
        copy = QuarantineCopy(bucket=str(where["bucket"]), key=str(where["key"]), version_id=where.get("version_id"))
        # The restored bytes are a new write to the key: its S3 event must find them decided already,
        # so they are remembered before they are written (by the ETag a copy of them gets).
        self._remember_restored(record, record.etag)
        restored = self.actions.restore(record.object_ref(), copy)
        if restored.etag != record.etag:  # a multipart original: its copy's ETag differs
            self._remember_restored(record, restored.etag)
        self.store.set_quarantine(record.id, None)
        return restored

    def _remember_restored(self, record: VerdictRecord, etag: str | None) -> None:
        if etag:
            self.known.put(KnownContent(f"restored:{record.bucket}/{record.key}:{etag}", record.decision or "pass",
                                        record.id, record.policy_version, record.scenes))


def work_from_stream(record: Mapping[str, Any]) -> Work | None:
    """The decision a verdict-table stream record brings, if it brings a new one (its decision_rev rose)."""
    change = record.get("dynamodb") or {}
    new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
    record_id = (new.get("id") or {}).get("S", "")
    if not record_id.startswith("v-"):
        return None
    rev = _number(new.get("decision_rev"))
    return Work(record_id, rev) if rev > _number(old.get("decision_rev")) else None


def _number(value: Any) -> int:
    try:
        return int((value or {}).get("N", 0))
    except (TypeError, ValueError, AttributeError):
        return 0


def work_from_message(body: str) -> Work | None:
    """A retry queue message (see `retry_message`); None for anything else."""
    import json

    try:
        data = json.loads(body)
        return Work(str(data["record_id"]), int(data["decision_rev"]))
    except (ValueError, TypeError, KeyError):
        return None


def retry_message(work: Work) -> dict[str, Any]:
    return {"record_id": work.record_id, "decision_rev": work.decision_rev}
