"""Requests: Green requests per 1,000 uploads through the local pipeline (the template's 5 s batching
window, every callback dropped so the poller fetches every result: the worst case for results
requests) vs the requests of Green's own sample approach, counted while it runs (see throughput)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenlight_local.bench.harness import Figure
from greenlight_local.bench.pipeline_runs import POLLER_ONLY, PipelineRun, default_options
from greenlight_local.bench.report import Row, Section, per_thousand, verdict
from greenlight_local.bench.stacks import BATCH
from greenlight_local.bench.submit_runs import NAIVE

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench

MAX_REQUESTS_PER_1000 = 10  # target, for scan requests and for results requests alike


def measure(bench: Bench) -> Section:
    run = POLLER_ONLY.get(bench)
    naive = NAIVE.get(bench)
    scans = per_thousand(run.scan_requests, run.images)
    results = per_thousand(run.result_requests, run.images)
    naive_scans = per_thousand(naive.submit.scan_requests, naive.submit.images)
    naive_results = per_thousand(naive.result_requests, naive.submit.images)
    section = Section(rows=[
        Row("Green scan requests per 1,000 uploads", f"{scans:.0f}", f"{naive_scans:.0f}",
            f"{naive_scans / max(scans, 1):.0f}x fewer", f"<= {MAX_REQUESTS_PER_1000}",
            verdict(scans <= MAX_REQUESTS_PER_1000 and run.complete)),
        Row("Green results requests per 1,000 uploads (callbacks dropped)", f"{results:.0f}",
            f"{naive_results:.0f}", f"{naive_results / max(results, 1):.0f}x fewer",
            f"<= {MAX_REQUESTS_PER_1000}", verdict(results <= MAX_REQUESTS_PER_1000 and run.complete)),
    ])
    section.settings.append(
        f"Requests: {run.images:,} uploads through LocalPipeline with default PipelineOptions except "
        f"batch_window={run.options.batch_window:g} (the template's BatchingWindowSeconds instead of the local "
        f"{default_options().batch_window:g} s cap, since batching is what is measured) and the emulator's "
        "callback_drop_rate=1.0 (every "
        f"result comes from the poller); counted by the emulator: {run.scan_requests} asyncscan, "
        f"{run.result_requests} results; {run.describe()}. Baseline counted the same way while the throughput "
        f"baseline ran: {naive.submit.scan_requests} asyncscan for {naive.submit.images:,} images, then "
        f"{naive.result_requests} results calls (one per image, each asked once: the baseline's best case).")
    if not run.complete:
        section.misses.append(run.incomplete("requests (callbacks dropped)"))
    if scans > MAX_REQUESTS_PER_1000:
        section.misses.append(scan_requests_miss(run))
    if results > MAX_REQUESTS_PER_1000:
        section.misses.append(result_requests_miss(run))
    return section


def scan_requests_miss(run: PipelineRun) -> str:
    sizes = [int(b.get("versions", 0)) for b in run.submit_batches]
    retried = run.full_batches_retried
    small = sum(1 for size in sizes if size < BATCH)
    sentence = (f"Scan requests: {run.scan_requests} asyncscan calls for {run.images:,} uploads. The submit "
                f"hosts ran {len(sizes)} invocations averaging {sum(sizes) / max(1, len(sizes)):.0f} objects, "
                f"{small} of them under 100 ({run.options.submit_instances} submit hosts share the queue, so "
                f"each {run.options.batch_window:g} s batching window holds only its share of the uploads that "
                "arrived meanwhile, and the last batch is a remainder)")
    if retried:
        sentence += (f"; {len(retried)} invocations ({sum(int(b['retry_messages']) for b in retried)} messages) "
                     "sent nothing and handed every message back, as preparing the batch used up the local "
                     f"{run.options.timeout:g} s timeout less twice TIME_RESERVE_SECONDS "
                     f"({run.options.time_reserve:g} s), so those images were "
                     "sent again on redelivery")
    return sentence + "."


def result_requests_miss(run: PipelineRun) -> str:
    asking = [r for r in run.poll_runs if r.get("requests")]
    asked = sum(int(r.get("asked", 0)) for r in asking)
    early = sum(1 for r in asking if r.get("stopped_early"))
    partial = sum(1 for r in asking if int(r.get("asked", 0)) % BATCH)
    sentence = (f"Results requests: {run.result_requests} for {run.images:,} uploads from {len(asking)} poll "
                f"runs, {asked / max(1, run.result_requests):.0f} task ids a request on average (100 at most): "
                f"{partial} runs asked about a number of records that is not a multiple of 100 (a partial "
                f"request goes out once its oldest record has been due {run.options.poll_batch_window:g} s, "
                "and uploads trickle into moto over half a minute)")
    if early:
        sentence += (f", and {early} runs stopped after one group because the local {run.options.timeout:g} s "
                     f"timeout less the {run.options.time_reserve:g} s reserve ran out while applying results")
    return sentence + "."


FIGURE = Figure("requests", "Green scan and results requests per 1,000 uploads through the local pipeline",
                measure)
