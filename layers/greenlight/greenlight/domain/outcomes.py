"""What happened, as typed values: logic reports outcomes, handlers turn them into metrics.

Each member's value is the name of the CloudWatch metric that counts it (README, Operations), so
adding an outcome is adding a member here and reporting it where it happens.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from enum import StrEnum

from greenlight.domain.states import State


class Outcome(StrEnum):
    # messages and objects arriving (submit)
    MESSAGE_RECEIVED = "MessagesReceived"
    MESSAGE_IGNORED = "MessageIgnored"
    MESSAGE_RETRIED = "MessagesRetried"
    DUPLICATE_EVENT = "DuplicateEvent"
    LEASE_TAKEOVER = "LeaseTakeover"
    LEASE_BUSY = "LeaseBusy"
    # talking to Green
    SCAN_SUBMITTED = "ScanSubmitted"
    SCAN_REQUEST = "ScanRequests"
    RESULT_REQUEST = "ResultRequests"
    GREEN_THROTTLED = "GreenThrottled"
    GREEN_FAILED = "GreenFailed"
    GREEN_AUTH_FAILED = "GreenAuthFailed"
    GREEN_REFUSED_TASK = "GreenRefusedTask"
    # the poller
    POLL_RUN = "PollRuns"
    STILL_PROCESSING = "StillProcessing"
    RESULT_MISSING = "ResultMissing"
    RESUBMITTED = "Resubmitted"
    RECOVERED = "RecoveredStranded"
    # verdicts (terminal states)
    VERDICT_PASS = "VerdictPass"  # noqa: S105 - a metric name, not a password
    VERDICT_REVIEW = "VerdictReview"
    VERDICT_BLOCK = "VerdictBlock"
    SKIPPED = "ObjectSkipped"
    ERRORED = "ObjectErrored"
    SUPERSEDED = "ObjectSuperseded"
    # enforcement (acting on decisions) and verdict events
    ENFORCED = "DecisionEnforced"
    SHADOW_DECIDED = "DecisionShadowed"  # shadow mode: recorded and announced, the object untouched
    ENFORCEMENT_STALE = "EnforcementStale"  # a newer decision replaced the one to enforce
    ENFORCEMENT_RETRIED = "EnforcementRetried"  # a step failed; the work went to the retry queue
    KNOWN_CONTENT = "KnownContentReused"  # identical content decided without a Green scan
    FEEDBACK_SENT = "FeedbackSent"  # Green was told about a person's correction
    FEEDBACK_FAILED = "FeedbackFailed"  # ... and did not take it this time (retried)
    # the moderation policy
    POLICY_INVALID = "PolicyInvalid"  # the configured policy was refused or unreadable; the last valid one decided
    # callbacks
    CALLBACK_REQUEST = "CallbackRequests"
    CALLBACK_APPLIED = "CallbackApplied"
    CALLBACK_NOOP = "CallbackNoop"

    @classmethod
    def for_terminal(cls, state: State, suggestion: str | None = None) -> Outcome | None:
        """The outcome a record reaching terminal `state` counts as (None for a FINAL without a suggestion)."""
        if state is State.FINAL:
            return _VERDICTS.get(suggestion or "")
        return _TERMINAL.get(state)


_VERDICTS = {"pass": Outcome.VERDICT_PASS, "review": Outcome.VERDICT_REVIEW, "block": Outcome.VERDICT_BLOCK}
_TERMINAL = {State.SKIPPED: Outcome.SKIPPED, State.ERROR: Outcome.ERRORED, State.SUPERSEDED: Outcome.SUPERSEDED}


class Tally:
    """Outcomes counted during one invocation; safe to add to from the small worker pools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Outcome] = Counter()

    def add(self, outcome: Outcome | None, count: int = 1) -> None:
        if outcome is None or count <= 0:
            return
        with self._lock:
            self._counts[outcome] += count

    def add_all(self, outcomes: Iterable[Outcome | None]) -> None:
        for outcome in outcomes:
            self.add(outcome)

    def __getitem__(self, outcome: Outcome) -> int:
        with self._lock:
            return self._counts[outcome]

    def __iter__(self) -> Iterator[tuple[Outcome, int]]:
        with self._lock:
            return iter(sorted(self._counts.items()))

    def as_dict(self) -> dict[str, int]:
        return {outcome.value: count for outcome, count in self}
