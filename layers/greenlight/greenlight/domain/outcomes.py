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
    # callbacks (rejections are counted by reason: CALLBACK_REJECTED_METRIC)
    CALLBACK_REQUEST = "CallbackRequests"
    CALLBACK_APPLIED = "CallbackApplied"
    CALLBACK_NOOP = "CallbackNoop"
    # the spend guard (greenlight.scanning.spend)
    BUDGET_EXHAUSTED = "BudgetExhausted"  # an image held back for the next UTC day's budget (nothing lost)
    # first decisions of the policy, by decision (counted by enforce, once per record, from the table's stream)
    DECISION_PASS = "DecisionPass"  # noqa: S105 - a metric name, not a password
    DECISION_REVIEW = "DecisionReview"
    DECISION_BLOCK = "DecisionBlock"

    @classmethod
    def for_terminal(cls, state: State, suggestion: str | None = None) -> Outcome | None:
        """The outcome a record reaching terminal `state` counts as (None for a FINAL without a suggestion)."""
        if state is State.FINAL:
            return _VERDICTS.get(suggestion or "")
        return _TERMINAL.get(state)

    @classmethod
    def for_decision(cls, decision: str | None) -> Outcome | None:
        """The outcome a record's first decision (pass, review, block) counts as."""
        return _DECISIONS.get(decision or "")


class Measure(StrEnum):
    """Metrics that are measured values, not counts; each value is the name of its CloudWatch metric."""

    # Poll: of the records not yet final that a run found due, the age (now - created_at) of the oldest
    # (0 when none was due). A record waiting out a backoff is not due, so it is counted again when it is:
    # read it as the Maximum over at least the longest backoff (an hour) - README, "Production checklist".
    OLDEST_UNFINISHED_AGE = "OldestUnfinishedAgeSeconds"
    # Enforce: a record's first decision, from its creation (the upload's first event) to its terminal write.
    VERDICT_LATENCY = "VerdictLatencySeconds"


CALLBACK_REJECTED_METRIC = "CallbackRejected"  # a count per rejection, with the dimension `reason`

_VERDICTS = {"pass": Outcome.VERDICT_PASS, "review": Outcome.VERDICT_REVIEW, "block": Outcome.VERDICT_BLOCK}
_TERMINAL = {State.SKIPPED: Outcome.SKIPPED, State.ERROR: Outcome.ERRORED, State.SUPERSEDED: Outcome.SUPERSEDED}
_DECISIONS = {"pass": Outcome.DECISION_PASS, "review": Outcome.DECISION_REVIEW, "block": Outcome.DECISION_BLOCK}


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
