"""`make demo`: run the whole pipeline locally on a set of images and print the verdicts.

    python -m greenlight_local.demo [--images DIR] [--sync] [--timeout SECONDS]

Without --images it uploads built-in samples, each with the outcome it must reach: a clean
image, one scripted (inside the image, see green_emulator.scripting) to be blocked, one scripted
for review, a non-image, a text file named like a JPEG, an empty file, and a key with spaces and
unicode. With --images every file under DIR is uploaded (key = its relative path); files that
start like an image must end FINAL, the others SKIPPED. Exits 0 when every object reached its
expected state, 1 otherwise, saying which did not.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from green_emulator import make_image
from greenlight.domain.inspection import sniff_image
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import TERMINAL, State
from greenlight_local.pipeline import LocalPipeline, PipelineOptions


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    content_type: str
    state: State
    suggestion: str | None = None
    reason: str | None = None


def builtin_samples() -> list[Sample]:
    block = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.6}]
    review = [{"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 81.2}]
    return [
        Sample("uploads/clean.png", make_image(seed=1), "image/png", State.FINAL, "pass"),
        Sample("uploads/blocked.jpg", make_image(block, fmt="JPEG", seed=2), "image/jpeg", State.FINAL, "block"),
        Sample("uploads/review.png", make_image(review, seed=3), "image/png", State.FINAL, "review"),
        Sample("uploads/holiday photos/plage été ☀️ 1.png", make_image(seed=4), "image/png", State.FINAL, "pass"),
        Sample("uploads/notes.txt", b"not an image at all\n", "text/plain", State.SKIPPED, reason="not_an_image"),
        Sample("uploads/disguised.jpg", b"<html>a page named like a photo</html>", "image/jpeg", State.SKIPPED,
               reason="not_an_image"),
        Sample("uploads/empty.png", b"", "image/png", State.SKIPPED, reason="zero_bytes"),
    ]


def folder_samples(folder: Path) -> list[Sample]:
    samples = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        body = path.read_bytes()
        is_image = bool(body) and sniff_image(body[:32]) is not None
        samples.append(Sample(
            key=path.relative_to(folder).as_posix(),
            body=body,
            content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            state=State.FINAL if is_image else State.SKIPPED,
        ))
    return samples


def verdict_table(records: list[VerdictRecord]) -> str:
    rows = [("KEY", "STATE", "SUGGESTION", "SCENES", "SOURCE", "REASON")]
    for record in sorted(records, key=lambda r: r.key):
        scenes = " ".join(f"{scene}:{v.get('label')}/{v.get('rate')}" for scene, v in sorted(record.scenes.items()))
        rows.append((record.key, record.state.value, record.suggestion or "-", scenes or "-", record.source or "-",
                     record.reason or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def mismatches(samples: list[Sample], records: list[VerdictRecord]) -> list[str]:
    by_key = {r.key: r for r in records}
    problems = []
    for sample in samples:
        record = by_key.get(sample.key)
        if record is None:
            problems.append(f"{sample.key}: no verdict record")
            continue
        if record.state is not sample.state:
            problems.append(f"{sample.key}: state {record.state.value}, expected {sample.state.value}"
                            + (f" ({record.reason})" if record.reason else ""))
        elif sample.suggestion and record.suggestion != sample.suggestion:
            problems.append(f"{sample.key}: suggestion {record.suggestion}, expected {sample.suggestion}")
        elif sample.reason and record.reason != sample.reason:
            problems.append(f"{sample.key}: reason {record.reason}, expected {sample.reason}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the greenlight pipeline locally and print the verdicts.")
    parser.add_argument("--images", type=Path, help="upload every file under this folder instead of the samples")
    parser.add_argument("--sync", action="store_true", help="ScanMode=sync: verdicts recorded at submit")
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
    print("demo: starting moto server, the Green emulator and the three functions ...", flush=True)
    with LocalPipeline(PipelineOptions(scan_mode="sync" if args.sync else "async")) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        print(f"demo: stack from template.yaml: bucket {pipeline.stack.bucket}, table {pipeline.stack.table}")
        print(f"demo: Green emulator at {pipeline.emulator.url}; moto at {pipeline.moto_url}")
        for sample in samples:
            pipeline.upload(sample.key, sample.body, sample.content_type)
        print(f"demo: uploaded {len(samples)} objects; waiting for verdicts (up to {args.timeout:.0f}s) ...",
              flush=True)

        def all_done(records: list[VerdictRecord]) -> bool:
            done = {r.key for r in records if r.key in keys and r.state in TERMINAL}
            return done == keys

        try:
            records = pipeline.wait_for(all_done, timeout=args.timeout, what="every verdict")
        except TimeoutError:
            records = pipeline.records()
        records = [r for r in records if r.key in keys]
        stats = pipeline.emulator.stats()
        depths = pipeline.queue_depths()

    print()
    print(verdict_table(records))
    print()
    calls = stats["calls"]
    print(f"demo: {len(samples)} objects in {time.monotonic() - started:.1f}s; Green requests: "
          f"{calls['asyncscan']} async scan, {calls['scan']} sync scan, {calls['results']} results; "
          f"callbacks delivered: {stats['callbacks']['delivered']}; dead-letter queue: {depths['dlq']}")
    problems = mismatches(samples, records)
    if problems:
        print("demo: FAILED - these objects did not reach their expected state:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(f"demo: function logs are in {pipeline.workdir / 'logs'}", file=sys.stderr)
        return 1
    print("demo: OK - every object reached its expected state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
