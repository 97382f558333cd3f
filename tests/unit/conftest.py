"""The unit tier: logic on in-memory fakes of its ports (tests/fakes), no server, no network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from fakes import FakeClock, FakeGreen, InMemoryObjects, InMemoryVerdictStore
from fakes.known_content import InMemoryKnownContent
from fakes.policy import StaticPolicySource
from greenlight.domain.outcomes import Tally
from greenlight.domain.policy import initial_policy_json, parse_policy
from greenlight.ports import CallbackTarget
from greenlight.runtime.config import PollSettings, ScanSettings, SubmitSettings
from greenlight.scanning.submission import ScanPorts, Submission

BUCKET = "uploads"
BASE_ENV = {
    "TABLE_NAME": "verdicts", "GREEN_SECRET_ID": "keys", "CALLBACK_SECRET_ID": "callback",
    "BUCKET_NAMES": BUCKET, "CALLBACK_URL": "https://api.example.com/callback", "LEASE_SECONDS": "90",
    "POLL_GRACE_SECONDS": "60", "TIME_RESERVE_SECONDS": "1", "POLL_BATCH_WINDOW_SECONDS": "0",
    "MAX_SCAN_ATTEMPTS": "3", "POLICY_PARAMETER": "/greenlight/policy",
}


@dataclass
class World:
    """Fakes of every port the scanning logic needs, sharing one clock."""

    clock: FakeClock = field(default_factory=FakeClock)
    callback: CallbackTarget | None = field(
        default_factory=lambda: CallbackTarget("https://api.example.com/callback/" + "t" * 40, "s" * 40))
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))

    def __post_init__(self) -> None:
        self.store = InMemoryVerdictStore(self.clock)
        self.objects = InMemoryObjects(self.clock)
        self.green = FakeGreen()
        self.policy = StaticPolicySource(parse_policy(initial_policy_json("enforce")))
        self.known = InMemoryKnownContent()
        self.tally = Tally()

    @property
    def ports(self) -> ScanPorts:
        return ScanPorts(store=self.store, objects=self.objects, green=self.green, callback=lambda: self.callback,
                         policy=self.policy, known=self.known, clock=self.clock)

    def submission(self, by: str = "submit", **env: str) -> Submission:
        return Submission(self.ports, ScanSettings.from_env({**self.env, **env}), by=by)

    def submit_settings(self, **env: str) -> SubmitSettings:
        return SubmitSettings.from_env({**self.env, **env})

    def poll_settings(self, **env: str) -> PollSettings:
        return PollSettings.from_env({**self.env, **env})

    def budget(self, seconds: float = 30.0) -> Callable[[], float]:
        return lambda: seconds


@pytest.fixture
def world() -> World:
    return World()
