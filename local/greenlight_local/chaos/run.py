"""Drive the local pipeline through the chaos run's phases, then collect what happened and check it.

Phases (items of the plan are uploaded in the phase they belong to):
1. steady: every background fault of the emulator, crash points armed, DynamoDB throttling, callbacks
   answered 503, duplicated S3 events; then a while for its versions to settle;
2. poller_outage: the poller stopped while every callback is dropped and Green keeps results only a
   few seconds, for longer than that retention; then Green's retention is back and the poller restarts;
3. green_outage: Green answers 5xx for longer than MaxReceiveCount x visibility timeout, so the first
   messages it fails are dead-lettered and only the poller's recovery can finish their versions;
4. quota_outage: sustained 588 (EXCEED_QUOTA) for every request;
5. auth_outage: sustained InvalidAccessKeyId.NotFound, as if the key were disabled;
6. settle: until every version is final and the queue is drained, then quiet until late callbacks land.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from green_emulator import make_image
from greenlight_local import fault_hooks
from greenlight_local.chaos import invariants
from greenlight_local.chaos.config import ChaosConfig
from greenlight_local.chaos.plan import Item, build_plan
from greenlight_local.chaos.report import ChaosReport
from greenlight_local.chaos.stream import StreamFollower
from greenlight_local.chaos.verify import Observed, verify
from greenlight_local.chaos.world import Buckets, Tap, Uploader, match_sequencers, s3_object, wire_buckets
from greenlight_local.pipeline import LocalPipeline, PipelineOptions

if TYPE_CHECKING:
    from greenlight.domain.record import VerdictRecord

WARM_UP = "warmup/"


def _sleep_until(moment: float) -> None:
    while (left := moment - time.monotonic()) > 0:
        time.sleep(min(left, 1.0))


class Run:
    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.plan = build_plan(config)
        self.buckets = Buckets()
        self.hooks_dir = config.workdir / "faults"
        self.started = self.created = time.monotonic()
        self.phases: list[str] = []
        self.follower: StreamFollower  # set once the stack exists

    def options(self) -> PipelineOptions:
        config = self.config

        def with_stack(stack: Any) -> dict[str, str]:
            settings = wire_buckets(stack, self.buckets)
            self.hooks_dir.mkdir(parents=True, exist_ok=True)
            fault_hooks.HookPlan(directory=str(self.hooks_dir), seed=config.seed, crash_rates=config.crash_rates,
                                 dynamodb_throttle_rate=config.dynamodb_throttle_rate,
                                 dynamodb_retry_rate=config.dynamodb_retry_rate,
                                 callback_unavailable_rate=config.callback_unavailable_rate,
                                 ).write(self.hooks_dir / "plan.json")
            return settings

        return PipelineOptions(
            workdir=config.workdir, submit_instances=2, callback_instances=2, timeout=config.timeout,
            timeouts={"poll": config.poll_timeout},
            time_reserve=config.time_reserve, lease=config.lease, visibility_timeout=config.visibility,
            poll_interval=config.poll_interval, poll_grace=2, recheck=1, resubmit_after=config.resubmit_after,
            recovery_backoff=config.recovery_backoff,
            faults={"processing_delay": config.emulator_faults.get("processing_delay", 0.5)},  # after the warm-up
            emulator={"fault_seed": config.seed, "callback_retry_delay": 0.5, "workers": 16, "callback_workers": 8},
            # The stack's quota shared by 2 submit hosts (not the template's 5): pacing stays within the
            # function timeout of the local time scale. MaxScanAttempts stays the template's.
            parameters={"MaxReceiveCount": str(config.max_receive_count), "GreenMaxRps": "200",
                        "MaxConcurrency": "2"},
            with_stack=with_stack, host_faults=self.hooks_dir / "plan.json",
        )

    def note(self, name: str, started: float, items: int, detail: str) -> None:
        line = (f"{name}: +{started - self.started:.0f} s for {time.monotonic() - started:.0f} s, {items} items: "
                f"{detail}")
        self.phases.append(line)
        print(f"chaos: {line}", flush=True)

    # -- the run ------------------------------------------------------------------------------------

    def execute(self) -> Observed:
        config = self.config
        items_by_phase: dict[str, list[Item]] = {}
        for item in self.plan:
            items_by_phase.setdefault(item.phase, []).append(item)
        with LocalPipeline(self.options()) as pipeline:
            assert pipeline.stack is not None and pipeline.emulator is not None
            stack, emulator = pipeline.stack, pipeline.emulator
            uploader = Uploader(stack.client("s3"), self.buckets, config.upload_workers)
            tap = Tap(stack.client("sqs"), self.buckets.tap_url, stack.queue_url, config.duplicate_event_rate,
                      random.Random(config.seed + 1))
            tap.start()
            observed = Observed(uploader.writes)
            self.follower = StreamFollower(stack)
            try:
                self._warm_up(pipeline, observed)
                self.started = time.monotonic()
                self._phases(pipeline, uploader, items_by_phase, observed)
                self._settle(pipeline, uploader, tap, observed)
            finally:
                tap.stop()
            fault_hooks.disarm(self.hooks_dir)
            observed.problems.extend(uploader.errors)
            records = pipeline.records()
            observed.records = [r for r in records if not r.key.startswith(WARM_UP)]
            self.follower.poll()
            ids = {r.id for r in observed.records}
            observed.changes = [c for c in self.follower.changes if c.id in ids or c.event == "REMOVE"]
            observed.ledger = emulator.data_ids()
            observed.stats = emulator.stats()
            observed.metrics = pipeline.metric_totals()
            observed.depths = pipeline.queue_depths()
            observed.dlq_bodies = _warm_up_aside(_drain(stack.client("sqs"), stack.dlq_url), records, observed)
            observed.throttle_log_lines = sum(1 for _, line in pipeline.logs()
                                              if "ProvisionedThroughputExceededException" in line)
            observed.duplicated_events = tap.duplicated
        observed.hits = fault_hooks.read_hits(self.hooks_dir)
        observed.phases = self.phases
        self._dump(observed)
        return observed

    def _dump(self, observed: Observed) -> None:
        """Everything collected, for a post-mortem: records, stream changes, Green's ledger, hits."""
        dump = {"records": [dataclasses.asdict(r) for r in observed.records],
                "changes": [dataclasses.asdict(c) for c in observed.changes],
                "ledger": observed.ledger, "hits": observed.hits, "problems": observed.problems,
                "writes": [{"key": w.key, "bucket": w.bucket, "version_id": w.version_id, "sequencer": w.sequencer,
                            "etag": w.etag, "deleted": w.deleted, "kind": w.item.kind, "phase": w.item.phase,
                            "expected": w.content.expected, "at": w.at} for w in observed.writes]}
        (self.config.workdir / "observed.json").write_text(json.dumps(dump, default=str, indent=1), encoding="utf-8")

    def _warm_up(self, pipeline: LocalPipeline, observed: Observed) -> None:
        """A few uploads through a fault-free Green first, so the run's first batches do not meet cold
        hosts (a cold start costs seconds the local time scale does not have). Their records are not
        the run's (WARM_UP prefix); the emulator is then reset (counters, ledger) and given the faults."""
        assert pipeline.stack is not None and pipeline.emulator is not None
        s3 = pipeline.stack.client("s3")
        keys = {f"{WARM_UP}{n}.png" for n in range(4)}
        for key in sorted(keys):
            s3.put_object(Bucket=self.buckets.versioned, Key=key, Body=make_image(seed=len(key)),
                          ContentType="image/png")

        def warm() -> bool:
            self.follower.poll()
            images = self.follower.latest.values()
            return sum(1 for i in images if i.get("key") in keys and i.get("state") in invariants.TERMINAL) == len(keys)

        started = time.monotonic()
        if not _poll(warm, 60, 0.5):
            observed.problems.append("warm-up: the pipeline did not settle 4 fault-free uploads within 60 s")
        pipeline.emulator.reset()
        pipeline.emulator.set_faults(**self.config.emulator_faults)
        print(f"chaos: warm-up: {time.monotonic() - started:.0f} s (pipeline started in "
              f"{started - self.created:.0f} s)", flush=True)

    def _phases(self, pipeline: LocalPipeline, uploader: Uploader, items: dict[str, list[Item]],
                observed: Observed) -> None:
        config = self.config
        emulator = pipeline.emulator
        assert emulator is not None
        for point, modes in config.crash_tokens.items():
            for mode, count in modes.items():
                fault_hooks.arm(self.hooks_dir, point, mode, count)

        started = time.monotonic()
        steady = items.get("steady", [])
        uploader.phase(steady, len(steady) / config.upload_rate)
        drained = self._wait_for_items(pipeline, steady, config.steady_drain, final=True)
        self.note("steady", started, len(steady), "background faults, crash points armed, DynamoDB throttling, "
                  f"callbacks answered 503, duplicated events; {drained}")

        # The poller down for longer than Green keeps results, while no callback arrives.
        started = time.monotonic()
        phase_items = items.get("poller_outage", [])
        pipeline.pause_host("poll")
        emulator.set_faults(retention=config.retention, callback_drop_rate=1.0)
        uploader.phase(phase_items, config.outage_upload_window)
        submitted = self._wait_for_items(pipeline, phase_items, config.poller_outage_wait, final=False)
        time.sleep(config.retention + 1)  # every task the phase submitted is now past Green's retention
        emulator.set_faults(retention=3600, callback_drop_rate=config.emulator_faults.get("callback_drop_rate", 0))
        pipeline.resume_host("poll")
        # The poller now finds those tasks expired and rescans them: let it, before Green's own outage
        # (which would make every rescan fail and spend the versions' attempts instead).
        rescanned = self._wait_for_items(pipeline, phase_items, config.poller_outage_wait, final=True)
        self.note("poller_outage", started, len(phase_items), f"poller stopped, callbacks dropped, Green's retention "
                  f"{config.retention:g} s; {submitted}; after it, {rescanned}")

        for name, mode, seconds in (("green_outage", "5xx", config.green_outage),
                                    ("quota_outage", "588", config.quota_outage),
                                    ("auth_outage", "auth", config.auth_outage)):
            started = time.monotonic()
            before = emulator.stats()["faults"].get(f"outage_{mode}", 0)
            # The window is opened long and closed by the harness: it lasts its length, and longer (up
            # to 3x) until some requests really met it, so a busy machine cannot skip an outage.
            emulator.set_faults(outage_mode=mode, outage_seconds=3 * seconds)
            uploader.phase(items.get(name, []), config.outage_upload_window)
            _sleep_until(started + seconds)
            _poll(lambda: emulator.stats()["faults"].get(f"outage_{mode}", 0) - before >= 3,  # noqa: B023
                  2 * seconds, 0.5)
            emulator.set_faults(outage_mode="", outage_seconds=0)
            met = emulator.stats()["faults"].get(f"outage_{mode}", 0) - before
            self.note(name, started, len(items.get(name, [])), f"every Green request answered {mode}; "
                      f"{met} requests met it")

    def _wait_for_items(self, pipeline: LocalPipeline, items: list[Item], bound: float, *, final: bool) -> str:
        """Wait (at most `bound` seconds) until every version of `items` is final, or (final=False) at
        Green (no longer RECEIVED); then (final=False) at least until half of them are; say how it went."""
        keys = {(self.buckets.name(i.bucket), i.key) for i in items}
        versions = sum(sum(1 for s in i.steps if s.action == "put") for i in items)

        def states_now() -> list[str]:
            self.follower.poll()
            images = self.follower.latest.values()
            return [str(i.get("state")) for i in images if (i.get("bucket"), i.get("key")) in keys]

        def done() -> bool:
            states = states_now()
            if len(states) < versions:
                return False
            return all(s in invariants.TERMINAL for s in states) if final else "RECEIVED" not in states

        def half_submitted() -> bool:
            return sum(1 for s in states_now() if s != "RECEIVED") * 2 >= versions

        started = time.monotonic()
        if _poll(done, bound, self.config.check_interval):
            return f"all {'final' if final else 'submitted'} after {time.monotonic() - started:.0f} s"
        if not final:
            half = _poll(half_submitted, 2 * bound, self.config.check_interval)
            return (f"{'half' if half else 'not half'} submitted after {time.monotonic() - started:.0f} s "
                    "(went on)")
        return f"not all final after {bound:g} s (went on)"

    def _settle(self, pipeline: LocalPipeline, uploader: Uploader, tap: Tap, observed: Observed) -> None:
        started = time.monotonic()
        writes = uploader.writes

        def settled() -> bool:
            if match_sequencers(writes, tap):
                return False
            self.follower.poll()
            index = invariants.index_images(self.follower.latest.values())
            for write in writes:
                image = index.get(invariants.write_key(write))
                if image is None or image.get("state") not in invariants.TERMINAL:
                    return False
            depths = pipeline.queue_depths()
            return depths["queue"] == 0 and depths["queue_in_flight"] == 0

        if not _poll(settled, self.config.settle_timeout, self.config.check_interval):
            observed.problems.append(f"not every version settled within {self.config.settle_timeout:g} s")
        # Late, duplicated and retried callbacks land now: wait until Green has been quiet for a while.
        quiet = self.config.emulator_faults.get("callback_delay", 0) + 4
        emulator = pipeline.emulator
        assert emulator is not None

        def signature() -> tuple[Any, ...]:
            stats = emulator.stats()
            return (tuple(stats["calls"].values()), stats["callbacks"]["sent"], stats["callbacks"]["retries"])

        last, since, deadline = signature(), time.monotonic(), time.monotonic() + 60
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.5)
            if (now := signature()) != last:
                last, since = now, time.monotonic()
        match_sequencers(writes, tap)
        self.note("settle", started, 0, "until every version was final and the queue drained, then Green quiet "
                  f"for {quiet:g} s")


def _poll(check: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Bounded wait: True once `check` holds, False after `timeout` seconds. The interval keeps the
    harness's own reads (full scans of the table) from loading the machine it measures."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except Exception as exc:  # moto busy: look again
            print(f"chaos: check failed: {exc!r}", flush=True)
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _warm_up_aside(bodies: list[str], records: list[VerdictRecord], observed: Observed) -> list[str]:
    """The run's dead letters. A duplicated event of a warm-up upload may be dead-lettered by the
    outages too: not the run's, but its version must still have settled."""
    settled = {r.key for r in records if r.key.startswith(WARM_UP) and r.state.value in invariants.TERMINAL}
    run_bodies = []
    for body in bodies:
        _, key, _ = s3_object(json.loads(body))
        if not key.startswith(WARM_UP):
            run_bodies.append(body)
        elif key not in settled:
            observed.problems.append(f"dead-lettered warm-up upload {key} never settled")
    return run_bodies


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    for _ in range(500):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                       WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        bodies.extend(m["Body"] for m in messages)
    return bodies


# -- checking and reporting ------------------------------------------------------------------------------

def run(config: ChaosConfig) -> ChaosReport:
    started = time.monotonic()
    observed = Run(config).execute()
    return verify(config, observed, time.monotonic() - started)
