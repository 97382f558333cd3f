"""Throughput: the submit handler in this process, fed the real queue messages in batches of 100 as
Lambda's SQS event source would, vs the same work per image done the samples' way (presign, a new
AcsClient + ImageAsyncScanRequest per image, PutItem)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenlight_local.bench.harness import Figure
from greenlight_local.bench.report import Row, Section, verdict
from greenlight_local.bench.services import isolated_green
from greenlight_local.bench.stacks import BATCH
from greenlight_local.bench.submit_runs import NAIVE, NaiveRun, SubmitRun, run_ours

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench

MIN_SPEEDUP = 10.0  # target: images a second, as a multiple of the baseline's


def measure(bench: Bench) -> Section:
    count = bench.config.uploads
    naive = NAIVE.get(bench)
    with isolated_green(bench.services.emulator()):
        ours = run_ours(bench, count)
    speedup = ours.rate / naive.submit.rate
    ok = speedup >= MIN_SPEEDUP and ours.failures == 0 and ours.states.get("PENDING") == count
    section = Section(rows=[Row(
        f"Submit throughput, {count:,} uploads (images/s)", f"{ours.rate:.0f} ({ours.seconds:.1f} s)",
        f"{naive.submit.rate:.0f} ({naive.submit.seconds:.1f} s)", f"{speedup:.1f}x",
        f">= {MIN_SPEEDUP:.0f}x baseline", verdict(ok))])
    section.settings.append(
        f"Throughput: {count:,} images uploaded to a fresh stack (untimed), the queue's real messages received "
        f"into Lambda SQS events of {BATCH}; ours = submit_handler.lambda_handler in this process, template "
        "environment, a new composition root (submit_handler.dependencies and the layer's boto3 clients built "
        "again, the secret read inside the timing); baseline = per image presign + new AcsClient + "
        "ImageAsyncScanRequest (official SDK) + PutItem into the same kind of table, on a stack of its own. Both "
        "with a role-like session token in the presigned URLs, no callback URL, and the emulator (its own process) "
        "not downloading images during the timing (tasks fail 480 at once), so Green's work does not share the "
        f"2 CPUs. Ours paces its Green requests to {ours.quota_share or 0:g} images a second, its share of Green's "
        "quota (GREEN_MAX_RPS / GREEN_CONCURRENCY, the template's defaults); the baseline does not pace. Ours: "
        f"{ours.scan_requests} asyncscan requests, {ours.failures} batch item failures, states {ours.states}.")
    if not ok:
        section.misses.append(miss(bench, ours, naive, section))
    return section


def miss(bench: Bench, ours: SubmitRun, naive: NaiveRun, section: Section) -> str:
    from greenlight_local.bench.submit_profile import profile_submit

    profile = profile_submit(bench, min(bench.config.uploads, 3 * BATCH))
    section.evidence.extend(profile.lines)
    return (f"Submit throughput is {ours.rate / naive.submit.rate:.1f}x the per-image SDK loop, not "
            f"{MIN_SPEEDUP:.0f}x: {profile.sentence}")


FIGURE = Figure("throughput", "the submit handler in this process vs the per-image SDK loop (images/s)", measure)
