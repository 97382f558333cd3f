"""The chaos run's settings: its size, its local time scale, and the faults it injects at what rates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greenlight_local.processes import ROOT

# Background faults of the emulator during the whole run (outages come on top, in their phases).
EMULATOR_FAULTS: dict[str, Any] = {
    "throttle_rate": 0.05,  # body code 588 (the client retries within its budget)
    "error_rate": 0.03,  # HTTP 500 in Green's envelope or 503 from the gateway
    "gateway_throttle_rate": 0.02,  # HTTP 400 Throttling.User
    "general_error_rate": 0.01,  # HTTP 200, body code 500
    "permission_deny_rate": 0.005,  # HTTP 200, body code 596 (never retried by the client)
    "answer_lost_rate": 0.08,  # Green accepts the scan; the connection closes without an answer (batched: few requests)
    "task_submit_error_rate": 0.03,  # a task refused at submit with a per-task code
    "task_finish_error_rate": 0.03,  # a task that finishes with a per-task code instead of results
    "results_omit_rate": 0.10,  # a task id left out of a results answer
    "url_expired_rate": 0.02,  # the presigned URL answered 403 as expired
    "download_failure_rate": 0.03,  # 480 without a fetch
    "expire_rate": 0.02,  # a finished task forgotten at once (594, no callback)
    "callback_drop_rate": 0.30,
    "callback_duplicate_rate": 0.10,
    "callback_delay": 2.0,  # callbacks reordered, some after the poller applied the result
    "processing_delay": 0.5,
}

# Crash points (greenlight_local.fault_hooks.POINTS): chance per pass, and tokens armed (mode -> count).
CRASH_RATES = {
    "submit.after_claim": 0.02,
    "submit.before_pending": 0.05,
    "poll.after_claim": 0.2,
    "poll.before_pending": 0.2,
    "poll.before_resubmitted": 0.3,
    "callback.before_finish": 0.01,
    "callback.after_finish": 0.01,
}
FULL_TOKENS = {
    "submit.after_claim": {"exit": 3, "timeout": 1},
    "submit.before_pending": {"exit": 3, "timeout": 2},
    "poll.after_claim": {"exit": 1},
    "poll.before_pending": {"exit": 1, "timeout": 1},
    "poll.before_resubmitted": {"exit": 2, "timeout": 1},
    "callback.before_finish": {"exit": 2, "timeout": 1},
    "callback.after_finish": {"exit": 2},
}
SMALL_TOKENS = {
    "submit.after_claim": {"exit": 1},
    "submit.before_pending": {"exit": 1, "timeout": 1},
    "poll.before_pending": {"exit": 1},
    "poll.before_resubmitted": {"exit": 1},
    "callback.before_finish": {"exit": 1},
    "callback.after_finish": {"exit": 1},
}

# Share of the items each phase uploads (the rest of the plan decides what each item is).
PHASES = (("steady", 0.55), ("poller_outage", 0.14), ("green_outage", 0.15), ("quota_outage", 0.08),
          ("auth_outage", 0.08))


@dataclass(frozen=True)
class ChaosConfig:
    uploads: int = 1000  # items (keys written by one scripted sequence: an upload, overwrites, a delete)
    seed: int = 7
    workdir: Path = ROOT / ".local" / "chaos"
    settle_timeout: float = 600.0  # bound on waiting for every version to settle after the last phase
    # Local time scale (visibility > lease > function timeout, as in the template)
    # At 8 s, 2 CPUs running moto, the emulator and seven hosts through 1,000 uploads made handlers
    # overrun their timeouts without any injected fault (moto answering in seconds): 12 s keeps the
    # overruns the harness's own doing.
    timeout: float = 12.0
    time_reserve: float = 3.0
    lease: float = 15.0
    # More than the lease plus the batching window: a redelivered message finds the lease long expired
    # (the template: 360 s against 90 s), not expiring while it is being claimed.
    visibility: float = 21.0
    max_receive_count: int = 5  # the template's MaxReceiveCount default
    recovery_backoff: float = 1.0
    resubmit_after: float = 30.0
    poll_interval: float = 3.0  # the schedule (template: 1 minute against a 60 s submit timeout)
    check_interval: float = 3.0  # seconds between the harness's own full reads of the table
    upload_rate: float = 6.0  # items started per second in the steady phase
    upload_workers: int = 6
    steady_drain: float = 60.0  # at most this long for the steady phase's versions to settle
    # Phases
    quota_outage: float = 15.0  # sustained 588
    auth_outage: float = 15.0  # sustained InvalidAccessKeyId.NotFound
    retention: float = 6.0  # Green's retention while the poller is down
    poller_outage_wait: float = 16.0  # at most this long for the phase's versions to reach Green, then retention
    outage_upload_window: float = 8.0  # seconds of each outage during which its items are uploaded
    # Harness faults
    duplicate_event_rate: float = 0.10
    dynamodb_throttle_rate: float = 0.004  # DynamoDB calls throttled on every attempt (the error surfaces)
    dynamodb_retry_rate: float = 0.01  # calls throttled once (a retry absorbs it)
    callback_unavailable_rate: float = 0.03  # callbacks answered 503 before the handler runs
    crash_rates: dict[str, float] = field(default_factory=lambda: dict(CRASH_RATES))
    crash_tokens: dict[str, dict[str, int]] = field(default_factory=lambda: dict(FULL_TOKENS))
    emulator_faults: dict[str, Any] = field(default_factory=lambda: dict(EMULATOR_FAULTS))

    @property
    def poll_timeout(self) -> float:
        """The poller's timeout, in the template's proportion (poll 300 s, submit 60 s)."""
        return 5 * self.timeout

    @property
    def green_outage(self) -> float:
        """A 5xx outage longer than MaxReceiveCount x visibility timeout: the first messages it fails
        reach the dead-letter queue, and only the poller's recovery can finish their versions."""
        return self.max_receive_count * self.visibility + 4

    @classmethod
    def small(cls, *, seed: int = 3, workdir: Path | None = None, uploads: int = 60) -> ChaosConfig:
        """The run `make test` does: every fault kind, a shorter time scale, MaxReceiveCount 3 (at 2, two
        failed claims of one message dead-letter it before any record exists: see the README)."""
        # submit passes its points once a batch, and a small run has few batches: the first two
        # passes through before_pending take its kill and its timeout
        rates = {"submit.after_claim": 0.1, "submit.before_pending": 1.0, "poll.after_claim": 0.5,
                 "poll.before_pending": 0.5, "poll.before_resubmitted": 1.0, "callback.before_finish": 0.1,
                 "callback.after_finish": 0.1}
        faults = {**EMULATOR_FAULTS, "answer_lost_rate": 0.2, "task_submit_error_rate": 0.06,
                  "results_omit_rate": 0.2, "url_expired_rate": 0.05}
        return replace(
            cls(), uploads=uploads, seed=seed, workdir=workdir or cls().workdir, settle_timeout=150,
            timeout=6.0, time_reserve=1.5, lease=7.0, visibility=10.0, max_receive_count=3, resubmit_after=20.0,
            check_interval=1.5, poll_interval=1.5, upload_rate=20.0,
            # long enough for the steady phase's lost answers to be rescanned (resubmit_after) before the
            # poller outage: otherwise its retention expires them too, and seeds end mostly ERROR
            steady_drain=30.0, quota_outage=4.0,
            auth_outage=4.0, retention=3.0,
            poller_outage_wait=20.0,  # its versions must reach Green before the retention runs out: the rescans
            outage_upload_window=2.0, dynamodb_throttle_rate=0.01, dynamodb_retry_rate=0.03,
            callback_unavailable_rate=0.1, crash_rates=rates, crash_tokens=dict(SMALL_TOKENS), emulator_faults=faults)
