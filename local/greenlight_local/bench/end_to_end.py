"""End to end, smoke figures: waves of uploads through the whole local pipeline, first upload to the
last verdict or enforcement.

No target: on this machine they measure moto (one Python process serving every AWS request at about
a hundred requests a second) as much as greenlight; they show the whole pipeline still works, and how
long a wave takes here. The waves are the pipeline runs' (pipeline_runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenlight_local.bench.harness import Figure
from greenlight_local.bench.pipeline_runs import CALLBACKS, POLL_ONLY, WaveResult
from greenlight_local.bench.report import Row, Section, Spread

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench


def last_enforced(wave: WaveResult) -> float:
    """Seconds from the wave's first upload starting to its last enforcement."""
    done = [image.uploaded + seconds for image in wave.images if (seconds := image.enforced) is not None]
    return (max(done) if done else wave.uploads_done) - wave.started


def measure(bench: Bench) -> Section:
    waves = CALLBACKS.get(bench).waves_named("w")
    poll_only = POLL_ONLY.get(bench)
    backlog = poll_only.waves_named("backlog")
    section = Section()
    if waves:
        section.rows.append(Row(
            f"End to end (smoke), {bench.config.wave_images} uploads at {bench.config.trickle_rate:g}/s, first upload "
            "to last enforcement, async + callbacks (s)",
            Spread(tuple(last_enforced(w) for w in waves)),
            f"uploads alone: {Spread(tuple(w.uploads_done - w.started for w in waves))}", "-", "none", "-"))
    if backlog:
        wave = backlog[0]
        section.rows.append(Row(
            f"End to end (smoke), a backlog of {len(wave.images):,} uploads to the last verdict, callbacks dropped "
            "(s, one run)", f"{wave.last_decided:.1f}", f"uploads alone: {wave.uploads_done - wave.started:.1f}",
            "-", "none", "-"))
    moto = poll_only.cpu.get("moto", 0.0)
    section.settings.append(
        "End to end: smoke figures with no target (on this machine they measure moto, one Python process serving "
        "every AWS request, as much as greenlight): the callbacks run's trickle waves, first upload started to the "
        "last enforcement.at; and the poll-only run's backlog, first upload started to the latest decided_at "
        f"(moto used {moto:.0f} CPU seconds in that {poll_only.seconds:.0f} s run).")
    return section


FIGURE = Figure("e2e", "waves of uploads through the local pipeline to the last verdict (smoke, no target)",
                measure)
