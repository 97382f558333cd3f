"""Where the submit handler's time goes, for the sentence on a missed throughput target: the wall
time of its phases and of each call it makes to moto and Green, and the CPU hotspots of one batch.

Timed by wrapping the layer's own methods for the length of a run: submit_logic.submit_batch and
Submission.send (the two phases: taking every object in, then sending), Dispatcher.send,
GreenClient.image_async_scan and TokenBucket.acquire (Green, and the wait for the instance's share
of its quota), and the adapters' calls (DynamoVerdictStore.advance_head, claim, mark_pending;
S3Objects.inspect, presign).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenlight_local.bench import naive as baseline
from greenlight_local.bench.services import isolated_green
from greenlight_local.bench.stacks import BATCH, fresh_stack, handler_module
from greenlight_local.bench.submit_runs import NAIVE, NaiveRun, SubmitRun, run_ours
from greenlight_local.bench.timing import CallTimer, mean_ms, timing_lines

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench

BATCH_WORK = "submit_logic.submit_batch (wall)"
SEND = "Submission.send (wall)"
DISPATCH = "Dispatcher.send (wall)"
GREEN_SCAN = "Green asyncscan request"
PACING = "TokenBucket.acquire (waiting for the quota share)"
PREPARE = "Submission.prepare (claim, ranged GET, presign)"
HEAD = "advance_head (DynamoDB UpdateItem)"
CLAIM = "claim (DynamoDB PutItem)"
SNIFF = "inspect (S3 ranged GetObject)"
PRESIGN = "presign (local)"
PENDING = "mark_pending (DynamoDB UpdateItem)"
MOTO_CALLS = (HEAD, CLAIM, SNIFF, PENDING)
PREPARING_CALLS = (HEAD, CLAIM, SNIFF)


def load_submit(bench: Bench) -> None:
    """Import the submit handler (and so its logic) before wrapping what it calls; a submit run in
    this process has usually done it already."""
    if "submit_handler" not in sys.modules:
        stack, _ = fresh_stack(bench.services)
        handler_module(bench, stack, "submit")


def profile_submit(bench: Bench, count: int) -> SubmitProfile:
    load_submit(bench)
    import submit_handler
    from greenlight.aws.s3_objects import S3Objects
    from greenlight.aws.verdict_table import DynamoVerdictStore
    from greenlight.green.client import GreenClient
    from greenlight.green.pacing import TokenBucket
    from greenlight.scanning.dispatch import Dispatcher
    from greenlight.scanning.submission import Submission

    timer = CallTimer()
    timer.wrap(submit_handler, "submit_batch", BATCH_WORK)  # the name the handler calls
    timer.wrap(Submission, "send", SEND)
    timer.wrap(Dispatcher, "send", DISPATCH)
    timer.wrap(GreenClient, "image_async_scan", GREEN_SCAN)
    timer.wrap(TokenBucket, "acquire", PACING)
    timer.wrap(Submission, "prepare", PREPARE)
    timer.wrap(DynamoVerdictStore, "advance_head", HEAD)
    timer.wrap(DynamoVerdictStore, "claim", CLAIM)
    timer.wrap(S3Objects, "inspect", SNIFF)
    timer.wrap(S3Objects, "presign", PRESIGN)
    timer.wrap(DynamoVerdictStore, "mark_pending", PENDING)
    try:
        with isolated_green(bench.services.emulator()):
            run = run_ours(bench, count)
    finally:
        timer.restore()
    with isolated_green(bench.services.emulator()):
        hotspots = cprofile_submit(bench, min(count, BATCH))
    return SubmitProfile.build(run, timer.totals, NAIVE.get(bench), hotspots)


def cprofile_submit(bench: Bench, count: int) -> list[str]:
    """CPU hotspots of one batch, all threads: a profiler on the handler's thread, and one per call of
    what runs in the handler's thread pools (advance_head, Submission.prepare, mark_pending), merged."""
    import cProfile
    import io
    import pstats
    import threading

    from greenlight.aws.verdict_table import DynamoVerdictStore
    from greenlight.scanning.submission import Submission

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    restore: list[tuple[Any, str, Any]] = []

    def profile_in_threads(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def profiled(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread():
                return original(*args, **kwargs)  # the handler's own profiler sees it
            profile = cProfile.Profile()
            profile.enable()
            try:
                return original(*args, **kwargs)
            finally:
                profile.disable()
                with lock:
                    profiles.append(profile)

        setattr(owner, name, profiled)
        restore.append((owner, name, original))

    main = cProfile.Profile()
    for owner, name in ((DynamoVerdictStore, "advance_head"), (Submission, "prepare"),
                        (DynamoVerdictStore, "mark_pending")):
        profile_in_threads(owner, name)
    try:
        run_ours(bench, count, profiler=main)
    finally:
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)
    text = io.StringIO()
    stats = pstats.Stats(main, stream=text)
    for profile in profiles:
        stats.add(profile)
    stats.sort_stats("tottime").print_stats(12)
    return [line.rstrip() for line in text.getvalue().splitlines() if line.strip()]


@dataclass
class SubmitProfile:
    lines: list[str]
    sentence: str

    @classmethod
    def build(cls, run: SubmitRun, totals: Mapping[str, Sequence[float]], naive: NaiveRun,
              hotspots: Sequence[str]) -> SubmitProfile:
        send = sum(totals.get(SEND, ()))
        take_in = sum(totals.get(BATCH_WORK, ())) - send  # each batch: take every object in, then send
        lines = [f"Submit profile, ours: {run.images} images, {run.seconds:.2f} s wall "
                 f"({run.rate:.0f} images/s with timers on):", *timing_lines(totals),
                 f"  take-in phase (submit_batch less Submission.send): {take_in:.2f} s wall",
                 f"Submit profile, baseline: {naive.submit.images} images, {naive.submit.seconds:.2f} s wall "
                 f"({naive.submit.rate:.0f} images/s):", *timing_lines(naive.timings),
                 "CPU hotspots of one batch of ours (cProfile, all threads merged, by own time; in threads "
                 "this includes waiting for the GIL):",
                 *(f"  {line}" for line in hotspots if not line.startswith(("Ordered by", "List reduced")))]
        moto_calls = sum(len(totals.get(label, ())) for label in MOTO_CALLS)
        preparing = sum(len(totals.get(label, ())) for label in PREPARING_CALLS)
        paced = sum(totals.get(PACING, ()))
        pacing = ""
        if run.quota_share and paced >= run.seconds / 4:
            pacing = (f"the client paces itself to {run.quota_share:g} images a second, its share of Green's quota "
                      f"(GREEN_MAX_RPS / GREEN_CONCURRENCY), and waited {paced:.1f} s of the {run.seconds:.1f} s "
                      "for it, where the baseline does not pace at all; besides, ")
        sentence = pacing + (
            f"per image ours makes {moto_calls / run.images:.0f} requests to moto (advance_head, claim, a ranged "
            f"GET, mark_pending) where the baseline makes 1 PutItem "
            f"({mean_ms(naive.timings.get(baseline.PUT, ())):.1f} ms). moto is one Python process and answers "
            f"about one request at a time: with up to 8 in flight, the {preparing} preparing calls took "
            f"{take_in:.1f} s of wall time, {1000 * take_in / max(1, preparing):.1f} ms each, no faster than the "
            "baseline's serial PutItem, and sending (one Green request per 100, then a conditional mark_pending "
            f"update per image) {1000 * (send - paced) / run.images:.1f} ms per image ({send - paced:.1f} s"
            f"{', not counting the wait for the quota' if paced else ''}). The "
            f"baseline's one Green request per image costs only {mean_ms(naive.timings.get(baseline.SCAN, ())):.1f}"
            " ms against the loopback emulator; real Green is a round trip over the internet.")
        return cls(lines, sentence)
