"""The verdict record's states and the only transitions allowed between them.

    (new) ──claim──▶ RECEIVED ──submitted──▶ PENDING ──result──▶ FINAL
      │                │  ▲ lease takeover,      │  ▲ rescanned (fresh URL, new task)
      │                │  │ recovery by the poll │  │
      │                ├──┴──────────────────────┴──┴──▶ SKIPPED | ERROR | SUPERSEDED
      └──older write seen after a newer one──▶ SUPERSEDED

    FINAL | SKIPPED | ERROR | SUPERSEDED | OVERRIDDEN ──a person's override──▶ OVERRIDDEN
    SKIPPED | ERROR ──a person's rescan (`greenlight rescan`)──▶ RECEIVED (due at once: the poller submits it)
    ERROR gave_up_after_... ──a genuine Green verdict that arrives late──▶ FINAL

- RECEIVED: claimed by one invocation (a lease) and not yet known to be at Green.
- PENDING: at Green under task_id; waiting for a callback or the poller.
- FINAL: Green's verdict is recorded (suggestion pass/review/block, per-scene results).
- SKIPPED: Green was not asked, or cannot take the content (reason says why).
- ERROR: scanning failed for good (reason says why).
- SUPERSEDED: a newer write of the same key arrived before this one had a verdict.
- OVERRIDDEN: a person replaced the decision (who, when, why and the decision before are kept on the
  record); overriding an override is another override.

FINAL, SKIPPED, ERROR, SUPERSEDED and OVERRIDDEN are terminal: nothing but a person moves a record
out of them (an override, or a rescan of a version that was not scanned), so a verdict never goes
back to pending and never changes by itself. One exception, which only adds a verdict: an ERROR
that says the system gave up waiting (`gave_up_after_...`) takes Green's genuine verdict if one
still arrives (the task of a rescan whose answer was lost, a callback later than the poller's last
look): a verdict Green made is never thrown away for want of patience (LATE_VERDICT_FROM).

The verdict store enforces this table with conditional writes; a person's rescan has a table of its
own (REOPENABLE), outside ALLOWED_FROM, so that no automatic write (a claim, a recovery) can ever
take a terminal record back.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "RECEIVED"
    PENDING = "PENDING"
    FINAL = "FINAL"
    SKIPPED = "SKIPPED"
    ERROR = "ERROR"
    SUPERSEDED = "SUPERSEDED"
    OVERRIDDEN = "OVERRIDDEN"


TERMINAL = frozenset({State.FINAL, State.SKIPPED, State.ERROR, State.SUPERSEDED, State.OVERRIDDEN})

# to-state -> the states a record may be in for the write to succeed (None: the record is new).
ALLOWED_FROM: dict[State, frozenset[State | None]] = {
    State.RECEIVED: frozenset({None, State.RECEIVED}),
    State.PENDING: frozenset({State.RECEIVED, State.PENDING}),
    State.FINAL: frozenset({State.RECEIVED, State.PENDING}),
    State.SKIPPED: frozenset({State.RECEIVED, State.PENDING}),
    State.ERROR: frozenset({State.RECEIVED, State.PENDING}),
    State.SUPERSEDED: frozenset({None, State.RECEIVED, State.PENDING}),
    State.OVERRIDDEN: frozenset(TERMINAL),  # only a person does this, and only once there is a decision
}


# A genuine Green verdict (FINAL, from a result whose checksum or signature proved it Green's) may
# replace these give-ups: ERROR records whose reason starts with this prefix.
GAVE_UP = "gave_up_after_"
LATE_VERDICT_FROM = State.ERROR


def may_take_late_verdict(current: State | None, reason: str | None) -> bool:
    """Whether a record that gave up waiting may still take Green's verdict."""
    return current is LATE_VERDICT_FROM and (reason or "").startswith(GAVE_UP)


# A person's rescan: the states a record may be reopened from (back to RECEIVED, its attempts,
# recoveries and lease cleared, due at once). Only versions that were not scanned: a FINAL verdict is
# changed by an override, not by paying Green again.
REOPENABLE: frozenset[State] = frozenset({State.ERROR, State.SKIPPED})


def is_allowed(current: State | None, target: State) -> bool:
    return current in ALLOWED_FROM[target]


def may_reopen(current: State | None) -> bool:
    """Whether a person's rescan may take a record in `current` back to RECEIVED."""
    return current in REOPENABLE
