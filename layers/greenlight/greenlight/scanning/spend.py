"""The spend guard: a stack-wide budget of images sent to Green per UTC day, after which new scans wait.

Waiting loses nothing. Submit asks for the images of a batch at once (one conditional write to the
day's counter, `ImageBudget.take`) just before sending them; the images the budget does not cover are
not sent: their records are released, due at the start of the next UTC day, and their messages are
acknowledged. They stay RECEIVED and due, so the poller's recovery of stranded records submits them
then, through the same guard (it checks first whether the day's budget is spent at all, so records
that only wait for the budget are not counted as failed recoveries). Images counted but surely never
sent (Green throttled, refused our keys, unreachable, or no time was left) are given back.

What is counted: the images of first scans sent by submit and by the poller's recovery. Rescans of a
task Green lost or could not fetch are not counted: they finish images already admitted, and
MaxScanAttempts bounds them. Green bills each scene and each checked frame of an image; the budget
counts images (README, "Production checklist", for the cost per image).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from greenlight.ports import Clock, ImageBudget
from greenlight.runtime.observability import logger

WAITING_REASON = "daily_image_budget_spent"


def utc_day(epoch: float) -> str:
    """The UTC date of `epoch`, as the day's counter is named ("2026-12-03")."""
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def next_utc_day(epoch: float) -> float:
    """The first second of the UTC day after `epoch`'s: when a day's budget opens again."""
    midnight = datetime.fromtimestamp(epoch, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight + timedelta(days=1)).timestamp()


@dataclass(frozen=True)
class Admission:
    """How many of the images asked for may be sent today; the others wait until `resume_at`."""

    asked: int
    granted: int
    day: str
    resume_at: float

    @property
    def held(self) -> int:
        return self.asked - self.granted


class SpendGuard:
    """Decides, against the day's counter, how many images may go to Green now (`limit` a UTC day)."""

    def __init__(self, budget: ImageBudget, limit: int, clock: Clock) -> None:
        if limit <= 0:
            raise ValueError("a spend guard needs a positive daily limit")
        self.budget = budget
        self.limit = limit
        self.clock = clock

    def admit(self, images: int) -> Admission:
        """Take up to `images` from today's budget (one conditional write)."""
        now = self.clock()
        day = utc_day(now)
        granted = self.budget.take(day, images, limit=self.limit) if images > 0 else 0
        if granted < images:
            logger.warning("daily image budget spent: images wait for the next UTC day",
                           extra={"day": day, "limit": self.limit, "asked": images, "granted": granted})
        return Admission(asked=images, granted=granted, day=day, resume_at=next_utc_day(now))

    def give_back(self, admission: Admission, images: int) -> None:
        """Return images of `admission` that were surely never sent. A failure only under-spends the day."""
        if images <= 0:
            return
        try:
            self.budget.give_back(admission.day, min(images, admission.granted))
        except Exception as exc:
            logger.warning("could not give unsent images back to the budget", extra={"error": str(exc)[:200]})

    def spent_until(self) -> float | None:
        """When the budget opens again if today's is spent (the start of the next UTC day); None while it has
        room. A read, no write: for callers that must not claim work they would only hold back."""
        now = self.clock()
        if self.budget.used(utc_day(now)) < self.limit:
            return None
        return next_utc_day(now)
