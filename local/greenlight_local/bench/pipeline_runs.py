"""Runs of the whole local pipeline (moto, the emulator, the four functions in their own processes)
at realistic latency: uploads in waves, each wave waited out until every upload is decided and
enforced, then read back.

Three runs, made once and read by several figures:
- CALLBACKS: async with callbacks (the default), the template's batching window (5 s) and poll
  schedule (every 60 s, 60 s grace, 30 s batch window: the poller stays out of the way, as in AWS);
- POLL_ONLY: async with every callback dropped, the poll schedule at a tenth of the template's
  (every 6 s, 6 s grace, 3 s batch window and recheck), then a backlog for the request counts: a
  burst uploaded while the submit hosts are paused (as when uploads wait for ProcessUploads, or
  after an outage), then taken from the queue at the budget's pace;
- SYNC: ScanMode=sync, verdicts recorded by submit.

A wave is either a trickle (uploads paced at a steady rate below both Green's budget and what moto
serves without queueing) or a burst (uploads as fast as a few threads can PUT them), possibly held
back as a backlog. Upload times
are taken by the bench when each PUT returns (the object exists, S3 emits its event); the rest
comes from the records' own timestamps (created_at = claimed by submit, submitted_at = Green
accepted the task, decided_at, enforcement.at).

The functions run under greenlight_local.bench.metered_handler, which writes their invocations and
AWS requests to <workdir>/meter; the template's SECRET_MAX_AGE is kept (the local pipeline re-reads
secrets on every use, which would inflate Secrets Manager calls), and GREEN_CONCURRENCY is the
template's MaxConcurrency, so each submit host paces itself to the share of Green's budget one
Lambda instance gets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.harness import BenchConfig, Shared
from greenlight_local.bench.network import REALISTIC, NetworkProfile
from greenlight_local.bench.resources import child_cpu, cpu_used_since, own_cpu_seconds
from greenlight_local.bench.uploads import bench_images
from greenlight_local.pipeline import LocalPipeline, PipelineOptions

if TYPE_CHECKING:
    from greenlight.domain.record import VerdictRecord
    from greenlight_local.bench.harness import Bench
    from greenlight_local.stack import LocalStack

TEMPLATE_POLL = {"poll_interval": 60.0, "poll_grace": 60.0, "poll_batch_window": 30.0, "recheck": 30.0}
POLL_SCALE = 10  # the poll-only run's schedule is the template's divided by this
SCALED_POLL = {name: value / POLL_SCALE for name, value in TEMPLATE_POLL.items()}
TEMPLATE_BATCH_WINDOW = 5.0  # BatchingWindowSeconds
TEMPLATE_MAX_CONCURRENCY = "5"  # MaxConcurrency: GREEN_CONCURRENCY in AWS
UPLOAD_THREADS = 4
BENCH_AGENT = "greenlight-bench"  # user agent of the bench's own clients (never metered)


@dataclass(frozen=True)
class Wave:
    name: str
    count: int
    rate: float  # uploads a second; 0 = a burst (as fast as UPLOAD_THREADS threads PUT)
    enforce: bool = True  # wait for enforcement; False: for the decisions only, with the enforce host paused
    backlog: bool = False  # upload with the submit hosts paused, then let them at the queue: a backlog


@dataclass
class Image:
    key: str
    size: int
    uploaded: float  # epoch: the PUT returned
    record: VerdictRecord | None = None

    def seconds(self, iso_time: str | None) -> float | None:
        return epoch(iso_time) - self.uploaded if iso_time else None

    @property
    def verdict(self) -> float | None:
        """Upload to the final decision (decided_at; finished_at for a record without a decision)."""
        record = self.record
        return None if record is None else self.seconds(record.decided_at or record.finished_at)

    @property
    def enforced(self) -> float | None:
        record = self.record
        return None if record is None else self.seconds(str(record.enforcement.get("at") or "") or None)


@dataclass
class WaveResult:
    wave: Wave
    images: list[Image]
    started: float  # first upload started (epoch)
    uploads_done: float
    complete: bool  # every image decided and enforced before the wait ended
    green: dict[str, int]  # emulator counters during the wave (calls by operation, callbacks, downloads)

    @property
    def decided(self) -> list[float]:
        return [v for v in (i.verdict for i in self.images) if v is not None]

    @property
    def enforced(self) -> list[float]:
        return [v for v in (i.enforced for i in self.images) if v is not None]

    @property
    def last_decided(self) -> float:
        """Seconds from the first upload's start to the last decision."""
        times = [epoch(when) for when in (i.record.decided_at or i.record.finished_at for i in self.images
                                          if i.record is not None) if when]
        return (max(times) if times else time.time()) - self.started

    def components(self) -> dict[str, list[float]]:
        """Per image, seconds of each step: upload -> claimed by submit (created_at) -> Green accepted
        (submitted_at; sync: the verdict) -> decided -> enforced."""
        steps: dict[str, list[float]] = {"upload -> claimed": [], "claimed -> sent": [], "sent -> decided": [],
                                         "decided -> enforced": []}
        for image in self.images:
            r = image.record
            if r is None or not (r.created_at and r.decided_at):
                continue
            claimed, decided = epoch(r.created_at), epoch(r.decided_at)
            steps["upload -> claimed"].append(claimed - image.uploaded)
            sent = epoch(r.submitted_at) if r.submitted_at else decided
            steps["claimed -> sent"].append(sent - claimed)
            steps["sent -> decided"].append(decided - sent)
            if r.enforcement.get("at"):
                steps["decided -> enforced"].append(epoch(str(r.enforcement["at"])) - decided)
        return steps


@dataclass
class PipelineRun:
    name: str
    options: PipelineOptions
    network: NetworkProfile
    waves: list[WaveResult]
    meter: list[dict[str, Any]]  # metered_handler lines, each with its "fn"
    stream: list[dict[str, Any]]  # the verdict table's stream records (old and new images)
    items: list[dict[str, Any]]  # every item of the table at the end (wire format)
    indexes: list[dict[str, Any]]  # the table's GlobalSecondaryIndexes, as described
    log_bytes: dict[str, int]  # bytes each function logged (CloudWatch Logs ingestion)
    green: dict[str, Any]  # the emulator's counters at the end
    cpu: dict[str, float]  # CPU seconds by process kind
    seconds: float  # the whole run, start to stop
    scan_queue: str  # the scan queue's name (its messages are the uploads' S3 events)

    def waves_named(self, prefix: str) -> list[WaveResult]:
        return [w for w in self.waves if w.wave.name.startswith(prefix)]

    @property
    def images(self) -> int:
        return sum(len(w.images) for w in self.waves)

    def incomplete(self) -> list[str]:
        found = []
        for w in self.waves:
            if w.complete:
                continue
            undecided = sum(1 for i in w.images if i.verdict is None)
            unenforced = sum(1 for i in w.images if i.enforced is None)
            found.append(f"{self.name} {w.wave.name}: {undecided} of {len(w.images)} uploads not decided"
                         + (f" and {unenforced} not enforced" if w.wave.enforce else "")
                         + " when the wait ended")
        return found


class BenchPipeline(LocalPipeline):
    """The local pipeline with the bench's metered handlers and the template's secret cache."""

    def __init__(self, options: PipelineOptions, meter_dir: Path) -> None:
        super().__init__(options)
        self.meter_dir = meter_dir

    def _state(self) -> dict[str, Any]:
        from greenlight_local.bench import metered_handler

        state = super()._state()
        assert self.stack is not None
        for name, function in state["functions"].items():
            env = function["environment"]
            env["SECRET_MAX_AGE"] = self.stack.functions[name].environment.get("SECRET_MAX_AGE", "300")
            env[metered_handler.HANDLER_ENV] = function["handler"]
            env[metered_handler.METER_ENV] = str(self.meter_dir)
            env[metered_handler.FUNCTION_ENV] = name
            function["handler"] = metered_handler.ENTRY
        return state


def epoch(iso_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


def bench_client(stack: LocalStack, service: str) -> Any:
    """A client of the bench's own (its user agent marks it; it is never metered)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=stack.region)
    return session.client(service, endpoint_url=stack.endpoint,  # type: ignore[call-overload]
                          config=Config(user_agent_extra=BENCH_AGENT, retries={"max_attempts": 3}))


def options_for(config: BenchConfig, name: str, *, scan_mode: str = "async", poll: Mapping[str, float],
                network: NetworkProfile, drop_callbacks: bool = False) -> PipelineOptions:
    faults: dict[str, Any] = {"processing_delay": 0.5, **network.faults}
    if drop_callbacks:
        faults["callback_drop_rate"] = 1.0
    return PipelineOptions(workdir=config.workdir / name, scan_mode=scan_mode, batch_window=TEMPLATE_BATCH_WINDOW,
                           faults=faults, extra_env={"GREEN_CONCURRENCY": TEMPLATE_MAX_CONCURRENCY},
                           poll_interval=poll["poll_interval"], poll_grace=poll["poll_grace"],
                           poll_batch_window=poll["poll_batch_window"], recheck=poll["recheck"])


def run_pipeline(bench: Bench, name: str, options: PipelineOptions, network: NetworkProfile,
                 waves: Sequence[Wave]) -> PipelineRun:
    """Start the pipeline, run each wave to completion in turn, read everything back, stop."""
    config = bench.config
    meter_dir = options.workdir.parent / f"{options.workdir.name}-meter"
    if meter_dir.exists():
        import shutil

        shutil.rmtree(meter_dir)
    started = time.monotonic()
    cpu_before, children_before = own_cpu_seconds(), child_cpu()
    results: list[WaveResult] = []
    with BenchPipeline(options, meter_dir) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        stack, emulator = pipeline.stack, pipeline.emulator
        s3_clients = [bench_client(stack, "s3") for _ in range(UPLOAD_THREADS)]
        dynamodb = bench_client(stack, "dynamodb")
        for wave in waves:
            if not wave.enforce and pipeline.hosts["enforce"][0].poll() is None:
                # Enforcement takes decisions one after another (one stream shard, one invocation at a
                # time, as in AWS); a burst would leave minutes of backlog competing for moto.
                pipeline.pause_host("enforce")
            images = bench_images(wave.count, f"{name}/{wave.name}")
            before = green_counts(emulator.stats())
            submitters = range(len(pipeline.hosts["submit"])) if wave.backlog else range(0)
            for index in submitters:  # as when uploads wait for set-up (ProcessUploads) or an outage ends
                pipeline.pause_host("submit", index)
            first, uploaded = upload(stack.bucket, images, s3_clients, wave.rate)
            uploads_done = time.time()
            for index in submitters:
                pipeline.resume_host("submit", index)
            complete = wait_done(dynamodb, stack.table, f"{name}/{wave.name}/", wave.count,
                                 timeout=config.wave_timeout, field="enforcement" if wave.enforce else "decided_at")
            records = {r.key: r for r in read_records(dynamodb, stack.table, f"{name}/{wave.name}/")}
            after = green_counts(emulator.stats())
            results.append(WaveResult(
                wave, [Image(key, len(body), uploaded[key], records.get(key)) for key, body in images], first,
                uploads_done, complete, {k: after.get(k, 0) - before.get(k, 0) for k in after}))
            time.sleep(config.wave_pause)  # let the functions go idle before the next wave
        items = scan_items(dynamodb, stack.table)
        stream = read_stream(stack, dynamodb)
        indexes = dynamodb.describe_table(TableName=stack.table)["Table"].get("GlobalSecondaryIndexes", [])
        green = emulator.stats()
        log_bytes = function_log_bytes(pipeline.workdir / "logs")
        cpu = {**cpu_used_since(children_before),
               "this process (uploads, Green emulator)": own_cpu_seconds() - cpu_before}
    meter = read_meter(meter_dir)
    write_debug(options.workdir / "counts.json", stream, meter)
    return PipelineRun(name, options, network, results, meter, stream, items, indexes, log_bytes, green, cpu,
                       time.monotonic() - started, stack.queue_url.rsplit("/", 1)[-1])


def upload(bucket: str, images: Sequence[tuple[str, bytes]], clients: Sequence[Any],
           rate: float) -> tuple[float, dict[str, float]]:
    """PUT every image: paced at `rate` a second from one thread, or (rate 0) as fast as the clients
    can in parallel. Returns when the first started and when each PUT returned (epoch)."""
    from concurrent.futures import ThreadPoolExecutor

    done: dict[str, float] = {}
    started = time.time()
    if rate > 0:
        begin = time.monotonic()
        for index, (key, body) in enumerate(images):
            delay = begin + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            clients[0].put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/png")
            done[key] = time.time()
        return started, done

    def put_share(share_and_client: tuple[Sequence[tuple[str, bytes]], Any]) -> None:
        share, s3 = share_and_client
        for key, body in share:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/png")
            done[key] = time.time()

    shares = [images[index::len(clients)] for index in range(len(clients))]
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(put_share, zip(shares, clients, strict=True)))
    return started, done


def count_done(dynamodb: Any, table: str, prefix: str, field: str) -> int:
    """Records under `prefix` that have `field` (a COUNT scan: little load on moto)."""
    total, kwargs = 0, dict[str, Any]()
    for _ in range(1000):  # pages; bounded
        page = dynamodb.scan(TableName=table, Select="COUNT",
                             FilterExpression="begins_with(#k, :p) AND attribute_exists(#e)",
                             ExpressionAttributeNames={"#k": "key", "#e": field},
                             ExpressionAttributeValues={":p": {"S": prefix}}, **kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    return total


def wait_done(dynamodb: Any, table: str, prefix: str, expected: int, *, timeout: float, field: str,
              stall: float = 60.0, interval: float = 1.0) -> bool:
    """Until every record under `prefix` has `field` (enforcement, or decided_at); False after
    `timeout`, or `stall` seconds without progress. The times come from the records, not from this loop."""
    deadline = time.monotonic() + timeout
    best, progressed = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - progressed < stall:
        done = count_done(dynamodb, table, prefix, field)
        if done >= expected:
            return True
        if done > best:
            best, progressed = done, time.monotonic()
        time.sleep(interval)
    return False


def scan_items(dynamodb: Any, table: str, prefix: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    if prefix is not None:
        kwargs = {"FilterExpression": "begins_with(#k, :p)", "ExpressionAttributeNames": {"#k": "key"},
                  "ExpressionAttributeValues": {":p": {"S": prefix}}}
    for _ in range(1000):
        page = dynamodb.scan(TableName=table, **kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


def read_records(dynamodb: Any, table: str, prefix: str) -> list[VerdictRecord]:
    from greenlight.aws.dynamo_writes import record_from_item

    return [record_from_item(i) for i in scan_items(dynamodb, table, prefix) if i["id"]["S"].startswith("v-")]


def read_stream(stack: LocalStack, dynamodb: Any) -> list[dict[str, Any]]:
    """Every record of the table's stream (NEW_AND_OLD_IMAGES): what each successful write changed."""
    arn = dynamodb.describe_table(TableName=stack.table)["Table"].get("LatestStreamArn")
    if not arn:
        return []
    streams = bench_client(stack, "dynamodbstreams")
    found: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", []):
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON").get("ShardIterator")
        for _ in range(10_000):  # pages; bounded
            if not iterator:
                break
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            found.extend(page.get("Records", []))
            if not page.get("Records"):
                break
            iterator = page.get("NextShardIterator")
    return found


def green_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    calls = stats.get("calls") or {}
    callbacks = stats.get("callbacks") or {}
    return {"asyncscan": int(calls.get("asyncscan", 0)), "scan": int(calls.get("scan", 0)),
            "results": int(calls.get("results", 0)), "callbacks_sent": int(callbacks.get("sent", 0)),
            "callbacks_delivered": int(callbacks.get("delivered", 0)), "downloads": int(stats.get("downloads", 0)),
            "tasks": int(stats.get("tasks_submitted", 0))}


def function_log_bytes(logs: Path) -> dict[str, int]:
    """Bytes each function's hosts wrote to stdout (what CloudWatch Logs would ingest from the code)."""
    found: dict[str, int] = {}
    for path in logs.glob("*-*.log"):
        function = path.name.rsplit("-", 1)[0]
        if function in ("submit", "callback", "poll", "enforce"):
            found[function] = found.get(function, 0) + path.stat().st_size
    return found


def write_debug(path: Path, stream: Sequence[Mapping[str, Any]], meter: Sequence[Mapping[str, Any]]) -> None:
    """What the stream holds and what the meter counted, by kind, beside the run's logs (for checking
    the two against each other by hand)."""
    from collections import Counter

    def kind(record: Mapping[str, Any]) -> str:
        keys = (record.get("dynamodb") or {}).get("Keys") or {}
        return f"{record.get('eventName')} {str((keys.get('id') or {}).get('S', ''))[:2]}"

    events = Counter(kind(r) for r in stream)
    calls = Counter(f"{m['fn']} {m.get('svc')} {m.get('op')} {m.get('error', '')} {str(m.get('id', ''))[:2]}"
                    for m in meter if m.get("k") == "call" and m.get("svc") == "dynamodb")
    path.write_text(json.dumps({"stream": events, "dynamodb_calls": calls}, indent=1, sort_keys=True), encoding="utf-8")


def read_meter(meter_dir: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for path in sorted(meter_dir.glob("*.jsonl")):
        function = path.name.rsplit("-", 1)[0]
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                lines.append({**json.loads(line), "fn": function})
            except ValueError:
                continue
    return lines


def trickle(config: BenchConfig) -> list[Wave]:
    return [Wave(f"w{n}", config.wave_images, config.trickle_rate) for n in range(1, config.repeats + 1)]


def _callbacks(bench: Bench) -> PipelineRun:
    options = options_for(bench.config, "callbacks", poll=TEMPLATE_POLL, network=REALISTIC)
    return run_pipeline(bench, "callbacks", options, REALISTIC, trickle(bench.config))


def _poll_only(bench: Bench) -> PipelineRun:
    config = bench.config
    options = options_for(config, "poll-only", poll=SCALED_POLL, network=REALISTIC, drop_callbacks=True)
    backlog = Wave("backlog", config.burst_images, 0.0, enforce=False, backlog=True)
    return run_pipeline(bench, "poll-only", options, REALISTIC, [*trickle(config), backlog])


def _sync(bench: Bench) -> PipelineRun:
    options = options_for(bench.config, "sync", scan_mode="sync", poll=TEMPLATE_POLL, network=REALISTIC)
    return run_pipeline(bench, "sync", options, REALISTIC, trickle(bench.config))


CALLBACKS: Shared[PipelineRun] = Shared("pipeline-callbacks", _callbacks)
POLL_ONLY: Shared[PipelineRun] = Shared("pipeline-poll-only", _poll_only)
SYNC: Shared[PipelineRun] = Shared("pipeline-sync", _sync)


def poll_runs(run: PipelineRun) -> list[dict[str, Any]]:
    """The poll function's invocations (start epoch, milliseconds)."""
    return [m for m in run.meter if m.get("k") == "invoke" and m["fn"] == "poll"]


def describe(run: PipelineRun) -> str:
    o = run.options
    busy = sum(run.cpu.values())
    cpu = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(run.cpu.items(), key=lambda i: -i[1])
                    if seconds >= 0.5)
    return (f"{o.submit_instances} submit hosts pacing to Green's budget share of one Lambda instance "
            f"(GREEN_CONCURRENCY={TEMPLATE_MAX_CONCURRENCY}), {o.callback_instances} callback hosts, one poll and "
            f"one enforce host; batching window {o.batch_window:g} s; poll every {o.poll_interval:g} s, grace "
            f"{o.poll_grace:g} s, batch window {o.poll_batch_window:g} s; {run.network.describe()}; run "
            f"{run.seconds:.0f} s, CPU seconds {cpu} = {busy:.0f}")

