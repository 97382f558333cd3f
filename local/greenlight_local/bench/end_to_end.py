"""End to end: first upload to last verdict for 1,000 images in the local pipeline (async with
callbacks, the default) vs ScanMode=sync."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenlight_local.bench.harness import Figure
from greenlight_local.bench.pipeline_runs import (
    POLLER_ONLY,
    PipelineRun,
    default_options,
    describe_options,
    run_pipeline,
)
from greenlight_local.bench.report import Row, Section, per_thousand, verdict

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench

MAX_E2E_SECONDS = 60.0  # target for 1,000 images, async with callbacks


def measure(bench: Bench) -> Section:
    config = bench.config
    ours = run_pipeline(config, "e2e-async")
    sync = run_pipeline(config, "e2e-sync", scan_mode="sync")
    ok = ours.seconds <= MAX_E2E_SECONDS and ours.complete
    section = Section(rows=[Row(f"End to end, {ours.images:,} images, async + callbacks (s)", f"{ours.seconds:.1f}",
                                f"{sync.seconds:.1f} (sync)", f"{ours.seconds / sync.seconds:.2f}x",
                                f"<= {MAX_E2E_SECONDS:.0f} s", verdict(ok))])
    poller = POLLER_ONLY.peek(bench)  # only if the requests figure ran
    if poller is not None:
        section.rows.append(Row(f"End to end, {poller.images:,} images, callbacks dropped, 5 s window (s)",
                                f"{poller.seconds:.1f}", f"{sync.seconds:.1f} (sync)",
                                f"{poller.seconds / sync.seconds:.2f}x"))
    section.settings.append(
        "End to end: seconds from the first upload's start to the latest finished_at among the records "
        f"(completion watched with a COUNT scan every 3 s), {config.upload_threads} upload threads, "
        f"LocalPipeline with default PipelineOptions ({describe_options(default_options())}). "
        f"Async: {ours.describe()}; with the local batching window that is "
        f"{per_thousand(ours.scan_requests, ours.images):.0f} scan requests per 1,000. Baseline ScanMode=sync "
        f"(verdicts recorded by submit): {sync.describe()}.")
    if not ok:
        section.misses.append(miss(ours))
    section.misses.extend(run.incomplete(name) for name, run in (("async end-to-end", ours),
                                                                 ("sync end-to-end", sync)) if not run.complete)
    return section


def miss(run: PipelineRun) -> str:
    from greenlight.domain.outcomes import Outcome

    applied = int(run.metric(Outcome.CALLBACK_APPLIED))
    noop = int(run.metric(Outcome.CALLBACK_NOOP))
    moto = run.cpu.get("moto", 0.0)
    moto_load = (f"it served {run.moto_requests:,} requests ({run.moto_requests / run.images:.1f} per image) "
                 f"and used {moto:.0f} CPU seconds in {run.seconds:.0f} s ({moto / run.seconds:.0%} of one core, "
                 "which is all a Python server handling one request at a time can use)")
    if run.pacing_floor >= run.seconds / 2:
        bound = (f"bound by the submit hosts' pacing: each sends at most {run.quota_share:g} images a second, its "
                 "share of Green's quota (GREEN_MAX_RPS / GREEN_CONCURRENCY, the template's defaults), so "
                 f"{run.options.submit_instances} hosts need at least {run.pacing_floor:.0f} s to send "
                 f"{run.images:,} images; moto meanwhile: {moto_load}")
    else:
        bound = f"bound by moto: {moto_load}"
    return (f"End to end took {run.seconds:.1f} s ({'complete' if run.complete else 'INCOMPLETE'}), {bound}; "
            "uploads alone took "
            f"{run.upload_seconds:.1f} s ({run.images / run.upload_seconds:.0f}/s into moto)"
            + (f"; {len(run.full_batches_retried)} submit invocations ran out of time and were redone"
               if run.full_batches_retried else "")
            + f"; of {applied + noop} callbacks {applied} applied a verdict and the rest found the poller had "
            f"recorded it first (the local poll grace is {run.options.poll_grace:g} s where the template's is "
            "60 s, so the poller often fetches a result before its callback is through).")


FIGURE = Figure("e2e", "first upload to last verdict in the local pipeline, async + callbacks vs sync", measure)
