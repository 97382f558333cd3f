"""`make demo`: run the whole pipeline locally on a set of images and show what moderation did.

    python -m greenlight_local.demo [--images DIR] [--sync] [--mode enforce|shadow] [--timeout SECONDS]

Without --images it uploads built-in samples (greenlight_local.demo_checks), each with the verdict
and decision it must reach: a clean image, one scripted (inside the image, see
green_emulator.scripting) to be blocked, one scripted for review, a non-image, a text file named
like a JPEG, an empty file, and a key with spaces and unicode. With --images every file under DIR
is uploaded (key = its relative path); files that start like an image must end FINAL, the others
SKIPPED. For each object it prints the verdict, the decision and policy version, what enforcement
did, and what is true of the object now (read back from S3) and how many verdict events a queue
subscribed to the bus received. In `enforce` mode the blocked sample must have left its key for
the quarantine bucket and the others be tagged with their decision; in `shadow` mode every object
must be untouched. Exits 0 when everything matches, 1 otherwise, saying what did not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import TERMINAL
from greenlight_local.demo_checks import (
    builtin_samples,
    enforcement_mismatches,
    folder_samples,
    mismatches,
    verdict_table,
)
from greenlight_local.pipeline import LocalPipeline, PipelineOptions
from greenlight_local.readback import BusSubscription, object_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the greenlight pipeline locally and show what moderation did.")
    parser.add_argument("--images", type=Path, help="upload every file under this folder instead of the samples")
    parser.add_argument("--sync", action="store_true", help="ScanMode=sync: verdicts recorded at submit")
    parser.add_argument("--mode", choices=("enforce", "shadow"), default="enforce",
                        help="the policy's mode (ModerationMode): act on objects, or only decide and record")
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait for every verdict")
    args = parser.parse_args(argv)

    if args.images is not None and not args.images.is_dir():
        print(f"demo: {args.images} is not a folder", file=sys.stderr)
        return 2
    samples = folder_samples(args.images) if args.images else builtin_samples()
    if not samples:
        print("demo: nothing to upload", file=sys.stderr)
        return 2
    keys = {s.key for s in samples}

    started = time.monotonic()
    print(f"demo: starting moto server, the Green emulator and the four functions ({args.mode} mode) ...",
          flush=True)
    options = PipelineOptions(scan_mode="sync" if args.sync else "async", parameters={"ModerationMode": args.mode})
    with LocalPipeline(options) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        stack = pipeline.stack
        print(f"demo: stack from template.yaml: bucket {stack.bucket}, quarantine {stack.quarantine_bucket}, "
              f"table {stack.table}")
        print(f"demo: Green emulator at {pipeline.emulator.url}; moto at {pipeline.moto_url}")
        bus = BusSubscription(stack)
        for sample in samples:
            pipeline.upload(sample.key, sample.body, sample.content_type)
        print(f"demo: uploaded {len(samples)} objects; waiting for verdicts and their enforcement "
              f"(up to {args.timeout:.0f}s) ...", flush=True)

        def all_done(records: list[VerdictRecord]) -> bool:
            done = {r.key for r in records if r.key in keys and r.state in TERMINAL
                    and r.enforcement.get("decision_rev") == r.decision_rev}
            return done == keys

        try:
            records = pipeline.wait_for(all_done, timeout=args.timeout, what="every verdict, enforced")
        except TimeoutError:
            records = pipeline.records()
        records = [r for r in records if r.key in keys]
        events: dict[str, list[dict[str, object]]] = {}
        deadline = time.monotonic() + 10  # events are put right after enforcement: a short bounded wait
        while time.monotonic() < deadline and len(events) < len(records):
            for detail in bus.details():
                events.setdefault(str(detail.get("record_id")), []).append(detail)
            if len(events) < len(records):
                time.sleep(0.2)
        objects = {r.id: object_state(stack, r) for r in records}
        stats = pipeline.emulator.stats()
        depths = pipeline.queue_depths()

    print()
    print(verdict_table(records, objects, {k: len(v) for k, v in events.items()}))
    for record in records:
        if objects[record.id].quarantined_at:
            print(f"demo: {record.key} is now at {objects[record.id].quarantined_at}")
    print()
    calls = stats["calls"]
    print(f"demo: {len(samples)} objects in {time.monotonic() - started:.1f}s; Green requests: "
          f"{calls['asyncscan']} async scan, {calls['scan']} sync scan, {calls['results']} results; "
          f"callbacks delivered: {stats['callbacks']['delivered']}; dead-letter queue: {depths['dlq']}")
    problems = mismatches(samples, records) + enforcement_mismatches(samples, records, objects, events,
                                                                     mode=args.mode)
    if problems:
        print("demo: FAILED - these objects did not end as expected:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(f"demo: function logs are in {pipeline.workdir / 'logs'}", file=sys.stderr)
        return 1
    print(f"demo: OK - every object reached its expected verdict and decision, "
          f"{'acted on' if args.mode == 'enforce' else 'left untouched (shadow mode)'}, one event each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
