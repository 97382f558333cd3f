"""`make review-demo`: the local pipeline on the demo's samples, and the reviewer page on it for a person
to try.

    python -m greenlight_local.review_demo [--port N] [--no-browser] [--timeout SECONDS]

Uploads the `make demo` samples plus two more scripted for review (so the queue has something to step
through), waits until every verdict is decided and enforced, starts the page on the local stack
(greenlight_cli.web, what `greenlight review serve` runs) and opens it in the default browser when
there is a graphical one; the URL is printed either way. While it runs, each override made on the page
is followed to its end here (what enforcement did, what Green was told), and the stack's state file
(.local/run/state.json) lets the `greenlight` CLI reach the same stack from another terminal. Ctrl-C
stops everything.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from green_emulator import make_image
from greenlight.domain.record import VerdictRecord
from greenlight.domain.states import TERMINAL, State
from greenlight_cli.stack import from_local
from greenlight_cli.web import ReviewBackend, ReviewServer, open_in_browser
from greenlight_local.demo_checks import Sample, builtin_samples
from greenlight_local.pipeline import LocalPipeline, PipelineOptions


def review_samples() -> list[Sample]:
    """The demo's samples (one of them, uploads/review.png, ends in review) and two more for review."""
    sexy = [{"scene": "porn", "label": "sexy", "suggestion": "review", "rate": 68.3}]
    weapon = [{"scene": "terrorism", "label": "weapon", "suggestion": "review", "rate": 74.9}]
    return [*builtin_samples(),
            Sample("uploads/review/beach.png", make_image(sexy, size=(240, 160), seed=11), "image/png",
                   State.FINAL, "review", decision="review"),
            Sample("uploads/review/poster.jpg", make_image(weapon, fmt="JPEG", size=(160, 240), seed=12),
                   "image/jpeg", State.FINAL, "review", decision="review")]


def enforced(record: VerdictRecord) -> bool:
    return record.state in TERMINAL and record.enforcement.get("decision_rev") == record.decision_rev


def follow_line(record: VerdictRecord) -> str | None:
    """What to say about an overridden record now (None: nothing new to say yet)."""
    if record.state is not State.OVERRIDDEN:
        return None
    by, reason = record.override.get("by"), record.override.get("reason")
    line = f"review-demo: {record.key}: {record.decision} by {by} ({reason})"
    if enforced(record):
        line += "; enforcement: " + ("; ".join(record.enforcement.get("actions") or []) or "nothing to do")
    if record.feedback.get("decision_rev") == record.decision_rev:
        line += f"; Green told: {record.feedback.get('status')}"
    return line


def follow(pipeline: LocalPipeline, stop: threading.Event) -> None:
    """Print each override's progress (recorded, enforced, feedback) as it happens."""
    said: dict[str, str] = {}
    while not stop.wait(1.0):
        try:
            records = pipeline.records()
        except Exception as exc:  # the stack is shutting down, or moto is busy: try again next second
            records = []
            print(f"review-demo: could not read the records ({type(exc).__name__})", file=sys.stderr)
        for record in records:
            line = follow_line(record)
            if line and said.get(record.id) != line:
                said[record.id] = line
                print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local pipeline on sample images, and the reviewer page.")
    parser.add_argument("--port", type=int, default=0, help="the page's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="only print the page's URL")
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait for every verdict")
    args = parser.parse_args(argv)
    try:
        return run(args.port, open_browser=not args.no_browser, timeout=args.timeout)
    except KeyboardInterrupt:  # before the page was up: the pipeline has been stopped on the way out
        print("\nreview-demo: stopped", flush=True)
        return 130


def run(port: int, *, open_browser: bool, timeout: float) -> int:
    samples = review_samples()
    keys = {s.key for s in samples}
    print("review-demo: starting moto server, the Green emulator and the four functions ...", flush=True)
    with LocalPipeline(PipelineOptions()) as pipeline:
        for sample in samples:
            pipeline.upload(sample.key, sample.body, sample.content_type)
        print(f"review-demo: uploaded {len(samples)} objects; waiting for their verdicts (up to {timeout:.0f}s) ...",
              flush=True)
        try:
            records = pipeline.wait_for(lambda rs: {r.key for r in rs if enforced(r)} >= keys, timeout=timeout,
                                        what="every verdict, enforced")
        except TimeoutError:
            records = pipeline.records()
            print("review-demo: not every verdict arrived in time; the page shows those that did", flush=True)
        for record in sorted((r for r in records if r.key in keys), key=lambda r: r.key):
            print(f"  {record.decision or '-':7} {record.state.value:9} {record.key}")

        context = from_local(pipeline.state_file)
        try:
            server = ReviewServer(ReviewBackend.from_context(context), port=port).start()
        except OSError as exc:
            print(f"review-demo: {exc}", file=sys.stderr)
            return 1
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or a supervisor: stop cleanly
            signal.signal(signum, lambda *_: stop.set())
        follower = threading.Thread(target=follow, args=(pipeline, stop), daemon=True)
        follower.start()
        try:
            print(f"\nreview-demo: the review page, acting as {context.caller()}:\n  {server.launch_url}\n", flush=True)
            if not (open_browser and open_in_browser(server.launch_url)):
                print("review-demo: open that URL in a browser on this machine", flush=True)
            print("review-demo: keys on the page: j/k next/previous, a approve, b block, e reason, r reload; "
                  "Ctrl-C here stops everything", flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            stop.set()
            server.stop()
            follower.join(timeout=5)
    print("\nreview-demo: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
