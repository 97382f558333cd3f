"""`make bench`: greenlight measured against naive baselines on this machine, in one run, one table.

    python -m greenlight_local.bench [--quick] [--only NAME[,NAME...]] [--write BENCHMARKS.md]

Figures (NAME for --only):
  requests    Green requests per 1,000 uploads through the local pipeline (the template's 5 s
              batching window, every callback dropped so the poller fetches every result: the worst
              case for results requests) vs the requests of Green's own sample approach, counted
              while it runs (see throughput).
  throughput  The submit handler in this process, fed the real queue messages in batches of 100 as
              Lambda's SQS event source would, vs the same work per image done the samples' way
              (presign, a new AcsClient + ImageAsyncScanRequest per image, PutItem).
  imports     Cold import of each handler vs `import boto3` (median of fresh processes, bytecode
              compiled, Lambda-like sys.path and environment), and the submit handler with X-Ray on.
  signing     greenlight.green.signer.sign_request vs the official SDK's ROA signer, per request.
  e2e         First upload to last verdict for 1,000 images in the local pipeline (async with
              callbacks, the default) vs ScanMode=sync.
  memory      Peak RSS of each handler on a full batch, each in a fresh process, vs the same
              process right after importing the handler.

Everything talks to 127.0.0.1 only (moto server, the Green emulator, the local hosts); every wait
is bounded. Module-level imports are stdlib only: the memory probe runs this module in a fresh
process and must not carry the harness's dependencies into the handler's figures.
(`--memory-probe SPEC` is that child's entry point, not meant to be run by hand.)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from greenlight_local.context import LambdaContext
from greenlight_local.moto_server import MotoServer
from greenlight_local.processes import pythonpath as base_pythonpath
from greenlight_local.processes import terminate, wait_until

if TYPE_CHECKING:
    import subprocess

    from greenlight_local.pipeline import LocalPipeline
    from greenlight_local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "greenlight"
FUNCTIONS = ("submit", "callback", "poll")
FIGURES = ("requests", "throughput", "imports", "signing", "e2e", "memory")
COMMAND = "make bench"
RAW_COMMAND = "PYTHONPATH=layers/greenlight:local .venv/bin/python -m greenlight_local.bench --write BENCHMARKS.md"
GREEN_REGION = "cn-shanghai"
SCENES = ("porn", "terrorism")
BATCH = 100  # the template's BatchSize, and Green's most images per request
TIMEOUTS = {"submit": 60.0, "callback": 15.0, "poll": 300.0}  # the template's function timeouts
LOGICAL_IDS = {"submit": "SubmitFunction", "callback": "CallbackFunction", "poll": "PollFunction"}
REVIEW = [{"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 81.2}]
BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.6}]

# Targets (see the brief in BENCHMARKS.md): requests per 1,000 uploads, import ratio, speed-up, seconds.
MAX_REQUESTS_PER_1000 = 10
MAX_IMPORT_RATIO = 1.2
MIN_SPEEDUP = 10.0
MAX_E2E_SECONDS = 60.0


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class BenchConfig:
    uploads: int = 1000
    processes: int = 15  # fresh processes per import measurement
    sign_iterations: int = 20_000
    upload_threads: int = 4
    settle_timeout: float = 300.0  # longest wait for every verdict in a pipeline run
    quick: bool = False
    workdir: Path = ROOT / ".local" / "bench"


QUICK = BenchConfig(uploads=200, processes=7, sign_iterations=3_000, settle_timeout=120.0, quick=True)


@dataclass(frozen=True)
class Row:
    figure: str
    ours: str
    baseline: str
    ratio: str = "-"
    target: str = "-"
    result: str = "-"


@dataclass
class Report:
    rows: dict[str, list[Row]] = field(default_factory=dict)
    settings: list[str] = field(default_factory=list)  # how each figure was measured
    misses: list[str] = field(default_factory=list)  # one sentence per missed target
    evidence: list[str] = field(default_factory=list)  # what the sentences rest on (import costs, profile)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def per_thousand(count: float, images: int) -> float:
    return count * 1000 / images


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def median(values: Sequence[float]) -> float:
    import statistics

    return float(statistics.median(values))


# ------------------------------------------------------------------------------------------ plumbing


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MiB.

    VmHWM, not ru_maxrss: Linux folds the parent's peak into ru_maxrss across fork + exec, so a probe
    started by this (large) harness would report at least the harness's size. VmHWM is the same
    high-water mark for the current process image only."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return rusage_peak_mb()


def rusage_peak_mb() -> float:
    """ru_maxrss (KiB on Linux), which includes the parent's peak at exec."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration, then put back exactly what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def stdout_to(log: IO[str]) -> Iterator[None]:
    """Handlers log JSON lines and EMF blobs to stdout; keep them out of the table. `log` stays open:
    Powertools' logger keeps the stream it found at import time."""
    saved = sys.stdout
    sys.stdout = log
    try:
        yield
    finally:
        sys.stdout = saved


def pythonpath(*extra: Path) -> str:
    return os.pathsep.join([base_pythonpath(), *(str(p) for p in extra)])


def bytecode_env(workdir: Path) -> dict[str, str]:
    """Bytecode for every module, ours included, kept under .local (PYTHONDONTWRITEBYTECODE is set
    machine-wide, so without a cache our own modules would compile from source in every process)."""
    return {"PYTHONPYCACHEPREFIX": str(workdir / "pycache")}


def warm_bytecode(workdir: Path, modules: Sequence[tuple[str, Mapping[str, str]]]) -> None:
    """Import each module once with bytecode writing on, so measured processes only read it."""
    import subprocess

    for module, env in modules:
        warm = {k: v for k, v in {**env, **bytecode_env(workdir)}.items() if k != "PYTHONDONTWRITEBYTECODE"}
        done = subprocess.run([sys.executable, "-c", f"import {module}"], env=warm, timeout=120,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")


def base_env() -> dict[str, str]:
    """A clean environment for child processes: no proxies, nothing inherited by accident."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def lambda_runtime_env(function: str) -> dict[str, str]:
    """What the Lambda runtime itself sets; LAMBDA_TASK_ROOT makes Powertools' Tracer really trace."""
    return {
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
        "AWS_LAMBDA_FUNCTION_NAME": f"greenlight-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def template_environment() -> dict[str, dict[str, str]]:
    """Each function's environment from template.yaml, resources replaced by placeholders (imports
    must not need them; nothing is called)."""
    from greenlight_local.cfn import Resolver, load_template
    from greenlight_local.stack import TEMPLATE, _functions  # the same resolution create_stack uses

    template = load_template(TEMPLATE)
    resolver = Resolver(template)
    for logical_id in template.get("Resources") or {}:
        resolver.set_resource(logical_id, f"local-{logical_id.lower()}",
                              Arn=f"arn:aws:local:us-east-1:123456789012:{logical_id}")
    return {name: spec.environment for name, spec in _functions(template, resolver).items()}


# ------------------------------------------------------------------------------------------ services


@dataclass
class EmulatorProcess:
    """The Green emulator in a process of its own, so its downloads do not share our GIL."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    key_id: str
    key_secret: str
    uid: str

    def _admin(self, method: str, route: str, body: Mapping[str, Any] | None = None) -> Any:
        import requests

        with requests.Session() as session:
            session.trust_env = False  # loopback only, never through a proxy
            response = session.request(method, f"{self.url}/_emulator/{route}", json=body, timeout=10)
            response.raise_for_status()
            return response.json()

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._admin("GET", "stats")
        return stats

    def set_faults(self, **changes: Any) -> None:
        self._admin("POST", "faults", changes)


class Services:
    """moto server and the Green emulator for the in-process figures, started on first use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._moto: MotoServer | None = None
        self._emulator: EmulatorProcess | None = None

    def moto(self) -> str:
        if self._moto is None:
            self._moto = MotoServer(self.workdir / "logs" / "moto.log")
        return self._moto.url

    def emulator(self) -> EmulatorProcess:
        if self._emulator is None:
            self._emulator = start_emulator_process(self.workdir)
        return self._emulator

    def stop(self) -> None:
        if self._emulator is not None:
            terminate(self._emulator.process)
            self._emulator = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None


def start_emulator_process(workdir: Path) -> EmulatorProcess:
    import re
    import secrets
    import subprocess

    key_id, key_secret = "LTAI" + secrets.token_hex(8), secrets.token_urlsafe(24)
    uid = str(secrets.randbelow(9 * 10**15) + 10**15)
    log_path = workdir / "logs" / "emulator.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "green_emulator", "--port", "0", "--access-key-id", key_id,
         "--access-key-secret", key_secret, "--uid", uid, "--processing-delay", "0.5"],
        stdout=log, stderr=subprocess.STDOUT, env={**base_env(), "PYTHONPATH": pythonpath()})

    def listening() -> re.Match[str] | None:
        return re.search(r"listening on (http://127\.0\.0\.1:(\d+))", log_path.read_text(errors="replace"))

    try:
        found = wait_until(listening, timeout=30, what="the Green emulator")
    except TimeoutError:
        terminate(process)
        raise
    return EmulatorProcess(process, found.group(1), int(found.group(2)), key_id, key_secret, uid)


def default_options() -> Any:
    from greenlight_local.pipeline import PipelineOptions  # heavy: not for the memory probes

    return PipelineOptions()


def describe_options(options: Any) -> str:
    """The local time scale a pipeline run used (options: PipelineOptions)."""
    return (f"{options.submit_instances} submit hosts, {options.callback_instances} callback hosts, "
            f"{options.batch_window:g} s batching window, {options.timeout:g} s function timeout, poll every "
            f"{options.poll_interval:g} s with a {options.poll_grace:g} s grace and a {options.poll_batch_window:g} s "
            f"batch window, emulator processing delay {options.faults.get('processing_delay', 1.0):g} s")


# ------------------------------------------------------------------------------------------ stacks and uploads


def fresh_stack(moto_url: str, emulator: EmulatorProcess) -> tuple[LocalStack, dict[str, str]]:
    """The template's resources under new names, with the emulator's keys in the Green secret."""
    import secrets

    from greenlight_local.stack import create_stack

    stack = create_stack(moto_url)
    values = stack.update_secret(access_key_id=emulator.key_id, access_key_secret=emulator.key_secret,
                                 uid=emulator.uid, callback_token=secrets.token_urlsafe(24))
    return stack, values


def bench_images(count: int, prefix: str = "bench") -> list[tuple[str, bytes]]:
    """Small real PNGs, a quarter scripted for review and a quarter for block (verdicts do not change costs)."""
    from green_emulator import make_image

    scripts: list[list[dict[str, Any]] | None] = [None, None, REVIEW, BLOCK]
    return [(f"{prefix}/{index:05d}.png", make_image(scripts[index % 4], seed=index)) for index in range(count)]


def upload_all(stack: LocalStack, images: Sequence[tuple[str, bytes]], threads: int) -> float:
    """PUT every image with a few threads; returns the wall-clock time the first upload started."""
    from concurrent.futures import ThreadPoolExecutor

    # One client per thread, built here: creating boto3 clients concurrently is not thread-safe.
    clients = [stack.client("s3") for _ in range(threads)]
    shares = [images[index::threads] for index in range(threads)]

    def put_share(share_and_client: tuple[Sequence[tuple[str, bytes]], Any]) -> None:
        share, s3 = share_and_client
        for key, body in share:
            s3.put_object(Bucket=stack.bucket, Key=key, Body=body, ContentType="image/png")

    started = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put_share, zip(shares, clients, strict=True)))
    return started


def lambda_batches(stack: LocalStack, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queue messages as the SQS event source hands them to Lambda: events of up to BatchSize records."""
    from greenlight_local.lambda_host import sqs_event

    return [sqs_event(list(messages[i:i + BATCH]), stack.queue_arn, stack.region)
            for i in range(0, len(messages), BATCH)]


def receive_messages(stack: LocalStack, expected: int, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Every S3 event the stack's rule put on the scan queue (hidden from other readers for an hour)."""
    sqs = stack.client("sqs")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       VisibilityTimeout=3600, MessageSystemAttributeNames=["All"],
                                       MessageAttributeNames=["All"])
        messages.extend(response.get("Messages", []))
    if len(messages) < expected:
        raise RuntimeError(f"only {len(messages)} of {expected} S3 events reached the scan queue in {timeout:.0f}s")
    return messages


def function_environment(stack: LocalStack, function: str, emulator_url: str, session_token: str,
                         **overrides: str) -> dict[str, str]:
    """The function's environment from the template, pointed at moto and the emulator. No callback
    URL (the emulator would call a host that does not exist); a role-like session token, so URLs
    are as long as in Lambda."""
    return {
        **stack.functions[function].environment,
        "GREEN_ENDPOINT": emulator_url,
        "CALLBACK_URL": "",
        "AWS_ENDPOINT_URL": stack.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": session_token,
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        **overrides,
    }


def load_handler(function: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Import a handler the way Lambda does: the layer and the function's folder on sys.path."""
    import importlib

    for path in (str(ROOT / "functions" / function), str(LAYER)):
        if path not in sys.path:
            sys.path.insert(0, path)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = importlib.import_module(
        f"{function}_handler").lambda_handler
    return handler


def count_states(stack: LocalStack) -> dict[str, int]:
    from collections import Counter

    from greenlight.store import VerdictStore

    records = VerdictStore(stack.client("dynamodb"), stack.table).scan_all()
    return dict(Counter(r.state.value for r in records))


# ------------------------------------------------------------------------------------------ the naive baseline


class NaiveSubmitter:
    """Green's sample approach, one image at a time: presign a URL, send it alone through a new
    AcsClient + ImageAsyncScanRequest, record it PENDING with a plain PutItem."""

    def __init__(self, *, endpoint: str, region: str, session_token: str, table: str, secret_id: str,
                 green_port: int) -> None:
        import boto3
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkgreen.request.v20180509.ImageAsyncScanRequest import ImageAsyncScanRequest
        from aliyunsdkgreen.request.v20180509.ImageAsyncScanResultsRequest import ImageAsyncScanResultsRequest
        from botocore.config import Config

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        aws_session_token=session_token, region_name=region)
        self.s3 = session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        secret = json.loads(session.client("secretsmanager", endpoint_url=endpoint).get_secret_value(
            SecretId=secret_id)["SecretString"])
        self.key_id, self.key_secret = secret["access_key_id"], secret["access_key_secret"]
        self.table = table
        self.port = green_port
        self._client_class = AcsClient
        self._scan_class = ImageAsyncScanRequest
        self._results_class = ImageAsyncScanResultsRequest
        self.timings: dict[str, list[float]] = {NAIVE_PRESIGN: [], NAIVE_SCAN: [], NAIVE_PUT: []}

    def _send(self, request: Any, payload: Any) -> list[dict[str, Any]]:
        client = self._client_class(self.key_id, self.key_secret, GREEN_REGION, port=self.port, auto_retry=False,
                                    timeout=10, connect_timeout=5)
        request.set_endpoint("127.0.0.1")
        request.set_protocol_type("http")
        request.set_accept_format("JSON")
        request.set_content(json.dumps(payload).encode("utf-8"))
        data: list[dict[str, Any]] = json.loads(client.do_action_with_exception(request))["data"]
        return data

    def submit(self, message_body: str) -> str:
        import uuid
        from urllib.parse import unquote_plus

        detail = json.loads(message_body)["detail"]
        bucket, key = detail["bucket"]["name"], unquote_plus(detail["object"]["key"])
        version_id = detail["object"].get("version-id")
        params = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        started = time.perf_counter()
        url = self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)
        presigned = time.perf_counter()
        data_id = uuid.uuid4().hex
        task_id = str(self._send(self._scan_class(), {"scenes": list(SCENES),
                                                      "tasks": [{"dataId": data_id, "url": url}]})[0]["taskId"])
        scanned = time.perf_counter()
        self.dynamodb.put_item(TableName=self.table, Item={
            "id": {"S": f"naive-{data_id}"}, "state": {"S": "PENDING"}, "bucket": {"S": bucket}, "key": {"S": key},
            "version_id": {"S": version_id or "null"}, "task_id": {"S": task_id},
            "submitted_epoch": {"N": str(time.time())}})
        # Three clock reads per image: far below the millisecond costs they split.
        self.timings[NAIVE_PRESIGN].append(presigned - started)
        self.timings[NAIVE_SCAN].append(scanned - presigned)
        self.timings[NAIVE_PUT].append(time.perf_counter() - scanned)
        return task_id

    def result(self, task_id: str) -> dict[str, Any]:
        return self._send(self._results_class(), [task_id])[0]

    def handle(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        """A Lambda-shaped entry point, for the memory probe."""
        task_ids = [self.submit(record["body"]) for record in event["Records"]]
        return {"submitted": len(task_ids)}


# ------------------------------------------------------------------------------------------ 2. throughput


@dataclass
class SubmitRun:
    images: int
    seconds: float
    scan_requests: int
    failures: int
    states: dict[str, int]

    @property
    def rate(self) -> float:
        return self.images / self.seconds


@dataclass
class NaiveRun:
    submit: SubmitRun
    result_requests: int
    result_seconds: float
    timings: dict[str, list[float]]


class Bench:
    """Runs the figures; shares the services and the runs that several figures read."""

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.report = Report()
        self.services = Services(config.workdir)
        self.session_token = ""
        self._naive: NaiveRun | None = None
        self._poller_only: PipelineRun | None = None
        self._log: IO[str] | None = None

    @property
    def log(self) -> IO[str]:
        if self._log is None:
            self._log = open(self.config.workdir / "logs" / "in-process.log", "a", encoding="utf-8")  # noqa: SIM115
        return self._log

    def close(self) -> None:
        self.services.stop()
        if self._log is not None:
            self._log.close()

    def token(self) -> str:
        from greenlight_local.pipeline import fake_session_token

        if not self.session_token:
            self.session_token = fake_session_token()
        return self.session_token

    def prepared_stack(self, count: int, prefix: str) -> tuple[LocalStack, dict[str, str], list[dict[str, Any]]]:
        """A fresh stack with `count` images uploaded, and their S3 events received from its queue."""
        stack, secret = fresh_stack(self.services.moto(), self.services.emulator())
        upload_all(stack, bench_images(count, prefix), self.config.upload_threads)
        return stack, secret, receive_messages(stack, count)

    def run_ours(self, count: int, profiler: Any = None) -> SubmitRun:
        """`profiler` (a cProfile.Profile) is enabled around the handler invocations only."""
        emulator = self.services.emulator()
        stack, _, messages = self.prepared_stack(count, "ours")
        events = lambda_batches(stack, messages)
        env = function_environment(stack, "submit", emulator.url, self.token())
        from greenlight import wiring

        with stdout_to(self.log):
            handler = load_handler("submit")  # Lambda's init phase: not part of the timing
        before = emulator.stats()["calls"]["asyncscan"]
        failures = 0
        with environ(env), stdout_to(self.log), warnings.catch_warnings():
            # Powertools flushes a metric by itself once it holds 100 values; a batch of exactly 100 then
            # ends with nothing left to flush, and log_metrics warns about that. Not a result.
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            wiring.reset()  # a new container: clients, secret and settings built on first use, inside the timing
            if profiler is not None:
                profiler.enable()
            started = time.perf_counter()
            for event in events:
                response = handler(event, LambdaContext(LOGICAL_IDS["submit"], TIMEOUTS["submit"]))
                failures += len(response["batchItemFailures"])
            seconds = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
            wiring.reset()
        scans = emulator.stats()["calls"]["asyncscan"] - before
        return SubmitRun(count, seconds, scans, failures, count_states(stack))

    def naive(self) -> NaiveRun:
        if self._naive is None:
            self._naive = self._run_naive(self.config.uploads)
        return self._naive

    def _run_naive(self, count: int) -> NaiveRun:
        emulator = self.services.emulator()
        stack, _, messages = self.prepared_stack(count, "naive")
        events = lambda_batches(stack, messages)
        stats = emulator.stats()["calls"]
        with isolated_green(emulator):
            started = time.perf_counter()
            naive = NaiveSubmitter(endpoint=stack.endpoint, region=stack.region, session_token=self.token(),
                                   table=stack.table, secret_id=stack.secret_id, green_port=emulator.port)
            task_ids = [naive.submit(record["body"]) for event in events for record in event["Records"]]
            seconds = time.perf_counter() - started
            after_submit = emulator.stats()["calls"]
            # One results call per image, as the samples do, asked once each: the baseline's best case
            # (a real loop asks again about a task still processing).
            started = time.perf_counter()
            for task_id in task_ids:
                naive.result(task_id)
            result_seconds = time.perf_counter() - started
        after = emulator.stats()["calls"]
        submit = SubmitRun(count, seconds, after_submit["asyncscan"] - stats["asyncscan"], 0,
                           {"PENDING": len(task_ids)})
        return NaiveRun(submit, after["results"] - after_submit["results"], result_seconds, naive.timings)

    # -- figures ------------------------------------------------------------------------------------

    def figure_throughput(self) -> None:
        count = self.config.uploads
        naive = self.naive()
        with isolated_green(self.services.emulator()):
            ours = self.run_ours(count)
        speedup = ours.rate / naive.submit.rate
        ok = speedup >= MIN_SPEEDUP and ours.failures == 0 and ours.states.get("PENDING") == count
        self.report.rows["throughput"] = [Row(
            f"Submit throughput, {count:,} uploads (images/s)", f"{ours.rate:.0f} ({ours.seconds:.1f} s)",
            f"{naive.submit.rate:.0f} ({naive.submit.seconds:.1f} s)", f"{speedup:.1f}x",
            f">= {MIN_SPEEDUP:.0f}x baseline", verdict(ok))]
        self.report.settings.append(
            f"Throughput: {count:,} images uploaded to a fresh stack (untimed), the queue's real messages received "
            f"into Lambda SQS events of {BATCH}; ours = submit_handler.lambda_handler in this process, template "
            "environment, a new composition root (clients and secret built inside the timing); baseline = per image "
            "presign + new AcsClient + ImageAsyncScanRequest (official SDK) + PutItem into the same kind of table, "
            "on a stack of its own. Both with a role-like session token in the presigned URLs, no callback URL, and "
            "the emulator (its own process) not downloading images during the timing (tasks fail 480 at once), so "
            f"Green's work does not share the 2 CPUs. Ours: {ours.scan_requests} asyncscan requests, "
            f"{ours.failures} batch item failures, states {ours.states}.")
        if not ok:
            self.report.misses.append(self._throughput_miss(ours, naive))

    def _throughput_miss(self, ours: SubmitRun, naive: NaiveRun) -> str:
        profile = self.profile_submit(min(self.config.uploads, 3 * BATCH))
        self.report.evidence.extend(profile.lines)
        return (f"Submit throughput is {ours.rate / naive.submit.rate:.1f}x the per-image SDK loop, not "
                f"{MIN_SPEEDUP:.0f}x: {profile.sentence}")

    def figure_requests(self) -> None:
        run = self.poller_only()
        naive = self.naive()
        scans = per_thousand(run.scan_requests, run.images)
        results = per_thousand(run.result_requests, run.images)
        naive_scans = per_thousand(naive.submit.scan_requests, naive.submit.images)
        naive_results = per_thousand(naive.result_requests, naive.submit.images)
        self.report.rows["requests"] = [
            Row("Green scan requests per 1,000 uploads", f"{scans:.0f}", f"{naive_scans:.0f}",
                f"{naive_scans / max(scans, 1):.0f}x fewer", f"<= {MAX_REQUESTS_PER_1000}",
                verdict(scans <= MAX_REQUESTS_PER_1000 and run.complete)),
            Row("Green results requests per 1,000 uploads (callbacks dropped)", f"{results:.0f}",
                f"{naive_results:.0f}", f"{naive_results / max(results, 1):.0f}x fewer",
                f"<= {MAX_REQUESTS_PER_1000}", verdict(results <= MAX_REQUESTS_PER_1000 and run.complete)),
        ]
        self.report.settings.append(
            f"Requests: {run.images:,} uploads through LocalPipeline with default PipelineOptions except "
            f"batch_window={run.options.batch_window:g} (the template's BatchingWindowSeconds instead of the local "
            f"{default_options().batch_window:g} s cap, since batching is what is measured) and the emulator's "
            "callback_drop_rate=1.0 (every "
            f"result comes from the poller); counted by the emulator: {run.scan_requests} asyncscan, "
            f"{run.result_requests} results; {run.describe()}. Baseline counted the same way while the throughput "
            f"baseline ran: {naive.submit.scan_requests} asyncscan for {naive.submit.images:,} images, then "
            f"{naive.result_requests} results calls (one per image, each asked once: the baseline's best case).")
        if not run.complete:
            self.report.misses.append(run.incomplete("requests (callbacks dropped)"))
        if scans > MAX_REQUESTS_PER_1000:
            self.report.misses.append(self._scan_requests_miss(run))
        if results > MAX_REQUESTS_PER_1000:
            self.report.misses.append(self._result_requests_miss(run))

    def _scan_requests_miss(self, run: PipelineRun) -> str:
        sizes = [int(b.get("objects", 0)) for b in run.submit_batches]
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

    def _result_requests_miss(self, run: PipelineRun) -> str:
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

    def poller_only(self) -> PipelineRun:
        if self._poller_only is None:
            self._poller_only = run_pipeline(self.config, "poller-only", batch_window=5.0,
                                             faults={"processing_delay": 0.5, "callback_drop_rate": 1.0})
        return self._poller_only

    def figure_e2e(self) -> None:
        ours = run_pipeline(self.config, "e2e-async")
        sync = run_pipeline(self.config, "e2e-sync", scan_mode="sync")
        ok = ours.seconds <= MAX_E2E_SECONDS and ours.complete
        rows = [Row(f"End to end, {ours.images:,} images, async + callbacks (s)", f"{ours.seconds:.1f}",
                    f"{sync.seconds:.1f} (sync)", f"{ours.seconds / sync.seconds:.2f}x",
                    f"<= {MAX_E2E_SECONDS:.0f} s", verdict(ok))]
        poller = self._poller_only
        if poller is not None:
            rows.append(Row(f"End to end, {poller.images:,} images, callbacks dropped, 5 s window (s)",
                            f"{poller.seconds:.1f}", f"{sync.seconds:.1f} (sync)",
                            f"{poller.seconds / sync.seconds:.2f}x"))
        self.report.rows["e2e"] = rows
        self.report.settings.append(
            "End to end: seconds from the first upload's start to the latest finished_at among the records "
            f"(completion watched with a COUNT scan every 3 s), {self.config.upload_threads} upload threads, "
            f"LocalPipeline with default PipelineOptions ({describe_options(default_options())}). "
            f"Async: {ours.describe()}; with the local batching window that is "
            f"{per_thousand(ours.scan_requests, ours.images):.0f} scan requests per 1,000. Baseline ScanMode=sync "
            f"(verdicts recorded by submit): {sync.describe()}.")
        if not ok:
            self.report.misses.append(self._e2e_miss(ours))
        self.report.misses.extend(run.incomplete(name) for name, run in (("async end-to-end", ours),
                                                                        ("sync end-to-end", sync))
                                  if not run.complete)

    def _e2e_miss(self, run: PipelineRun) -> str:
        applied = int(run.metrics.get("CallbackApplied", 0))
        noop = int(run.metrics.get("CallbackNoop", 0))
        moto = run.cpu.get("moto", 0.0)
        return (f"End to end took {run.seconds:.1f} s ({'complete' if run.complete else 'INCOMPLETE'}), bound by "
                f"moto: it served {run.moto_requests:,} requests ({run.moto_requests / run.images:.1f} per image) "
                f"and used {moto:.0f} CPU seconds in {run.seconds:.0f} s ({moto / run.seconds:.0%} of one core, "
                "which is all a Python server handling one request at a time can use); uploads alone took "
                f"{run.upload_seconds:.1f} s ({run.images / run.upload_seconds:.0f}/s into moto)"
                + (f"; {len(run.full_batches_retried)} submit invocations ran out of time and were redone"
                   if run.full_batches_retried else "")
                + f"; of {applied + noop} callbacks {applied} applied a verdict and the rest found the poller had "
                f"recorded it first (the local poll grace is {run.options.poll_grace:g} s where the template's is "
                "60 s, so the poller often fetches a result before its callback is through).")

    def figure_imports(self) -> None:
        result = measure_imports(self.config)
        self.report.rows["imports"] = result.rows
        self.report.settings.append(result.setting)
        self.report.misses.extend(result.misses)
        self.report.evidence.extend(result.evidence)

    def figure_signing(self) -> None:
        row, setting = measure_signing(self.config.sign_iterations)
        self.report.rows["signing"] = [row]
        self.report.settings.append(setting)

    def figure_memory(self) -> None:
        probe = MemoryProbe(self)
        self.report.rows["memory"] = probe.run()
        self.report.settings.append(probe.setting)

    # -- the submit profile ---------------------------------------------------------------------------

    def profile_submit(self, count: int) -> SubmitProfile:
        """Where the submit handler's time goes: wall time of its phases and of each call it makes."""
        with stdout_to(self.log):
            load_handler("submit")  # the layer's logger binds the stream it finds at its first import
        from greenlight import scanning, store
        from greenlight.green.client import GreenClient
        from greenlight.objects import UrlSigner

        timer = CallTimer()
        timer.wrap(scanning.Scanner, "prepare_many", PREPARE)
        timer.wrap(scanning.Scanner, "send", SEND)
        timer.wrap(store.VerdictStore, "advance_head", HEAD)
        timer.wrap(store.VerdictStore, "claim", CLAIM)
        timer.wrap(scanning, "inspect_object", SNIFF)
        timer.wrap(UrlSigner, "presign", PRESIGN)
        timer.wrap(GreenClient, "image_async_scan", GREEN_SCAN)
        timer.wrap(store.VerdictStore, "mark_pending", PENDING)
        try:
            with isolated_green(self.services.emulator()):
                run = self.run_ours(count)
        finally:
            timer.restore()
        with isolated_green(self.services.emulator()):
            hotspots = self.cprofile_submit(min(count, BATCH))
        return SubmitProfile.build(run, timer.totals, self.naive(), hotspots)

    def cprofile_submit(self, count: int) -> list[str]:
        """CPU hotspots of one batch, all threads (a profiler per prepare call, merged)."""
        import cProfile
        import io
        import pstats
        import threading

        from greenlight import scanning

        profiles: list[cProfile.Profile] = []
        lock = threading.Lock()
        original = scanning.Scanner._prepare_safely

        def profiled(scanner: Any, obj: Any) -> Any:
            profile = cProfile.Profile()
            profile.enable()
            try:
                return original(scanner, obj)
            finally:
                profile.disable()
                with lock:
                    profiles.append(profile)

        main = cProfile.Profile()
        scanning.Scanner._prepare_safely = profiled  # type: ignore[method-assign,assignment]
        try:
            self.run_ours(count, profiler=main)
        finally:
            scanning.Scanner._prepare_safely = original  # type: ignore[method-assign]
        text = io.StringIO()
        stats = pstats.Stats(main, stream=text)
        for profile in profiles:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(12)
        return [line.rstrip() for line in text.getvalue().splitlines() if line.strip()]


@contextmanager
def isolated_green(emulator: EmulatorProcess) -> Iterator[None]:
    """Green's downloads are Alibaba's work, not ours: while timing, tasks fail 480 without a fetch,
    so the emulator does not compete with the handler and moto for this machine's 2 CPUs."""
    emulator.set_faults(download_failure_rate=1.0)
    try:
        yield
    finally:
        emulator.set_faults(download_failure_rate=0.0)


class CallTimer:
    """Wraps methods and functions to sum the wall time of every call (across threads)."""

    def __init__(self) -> None:
        import threading

        self.totals: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.totals.setdefault(label, []).append(time.perf_counter() - started)

        setattr(owner, name, timed)
        self._restore.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


PREPARE = "Scanner.prepare_many (wall)"
SEND = "Scanner.send (wall)"
HEAD = "advance_head (DynamoDB UpdateItem)"
CLAIM = "claim (DynamoDB PutItem)"
SNIFF = "inspect_object (S3 ranged GetObject)"
PRESIGN = "presign (local)"
GREEN_SCAN = "Green asyncscan request"
PENDING = "mark_pending (DynamoDB UpdateItem)"
MOTO_CALLS = (HEAD, CLAIM, SNIFF, PENDING)
NAIVE_PRESIGN = "presign (local)"
NAIVE_SCAN = "new AcsClient + ImageAsyncScanRequest"
NAIVE_PUT = "PutItem"


def mean_ms(durations: Sequence[float]) -> float:
    return 1000 * sum(durations) / max(1, len(durations))


def timing_lines(totals: Mapping[str, Sequence[float]]) -> list[str]:
    return [f"  {label}: {len(d)} calls, {sum(d):.2f} s summed over threads, {mean_ms(d):.1f} ms each"
            for label, d in totals.items()]


@dataclass
class SubmitProfile:
    lines: list[str]
    sentence: str

    @classmethod
    def build(cls, run: SubmitRun, totals: Mapping[str, Sequence[float]], naive: NaiveRun,
              hotspots: Sequence[str]) -> SubmitProfile:
        lines = [f"Submit profile, ours: {run.images} images, {run.seconds:.2f} s wall "
                 f"({run.rate:.0f} images/s with timers on):", *timing_lines(totals),
                 f"Submit profile, baseline: {naive.submit.images} images, {naive.submit.seconds:.2f} s wall "
                 f"({naive.submit.rate:.0f} images/s):", *timing_lines(naive.timings),
                 "CPU hotspots of one batch of ours (cProfile, all threads merged, by own time; in threads "
                 "this includes waiting for the GIL):",
                 *(f"  {line}" for line in hotspots if not line.startswith(("Ordered by", "List reduced")))]
        moto_calls = sum(len(totals.get(label, ())) for label in MOTO_CALLS)
        prepare, send = sum(totals.get(PREPARE, ())), sum(totals.get(SEND, ()))
        prepare_calls = sum(len(totals.get(label, ())) for label in (HEAD, CLAIM, SNIFF))
        sentence = (
            f"per image ours makes {moto_calls / run.images:.0f} requests to moto (advance_head, claim, a ranged "
            f"GET, mark_pending) where the baseline makes 1 PutItem ({mean_ms(naive.timings.get(NAIVE_PUT, ())):.1f}"
            " ms). moto is one Python process and answers about one request at a time: with up to 8 in flight, "
            f"the {prepare_calls} preparing calls took {prepare:.1f} s of wall time, "
            f"{1000 * prepare / max(1, prepare_calls):.1f} ms each, no faster than the baseline's serial PutItem, "
            f"and sending (one Green request per 100, then a conditional mark_pending update per image) "
            f"{1000 * send / run.images:.1f} ms per image ({send:.1f} s). The "
            f"baseline's one Green request per image costs only {mean_ms(naive.timings.get(NAIVE_SCAN, ())):.1f} ms "
            "against the loopback emulator; real Green is a round trip over the internet.")
        return cls(lines, sentence)


# ------------------------------------------------------------------------------------------ 1 and 5. pipeline runs


@dataclass
class PipelineRun:
    images: int
    seconds: float  # first upload start -> latest finished_at
    upload_seconds: float
    scan_requests: int
    result_requests: int
    sync_requests: int
    states: dict[str, int]
    sources: dict[str, int]
    callbacks_delivered: int
    metrics: dict[str, float]
    submit_batches: list[dict[str, Any]]  # the submit function's "batch done" log lines
    poll_runs: list[dict[str, Any]]  # the poll function's "poll done" log lines
    cpu: dict[str, float]  # CPU seconds by process
    moto_requests: int
    complete: bool
    options: Any  # the PipelineOptions used

    def describe(self) -> str:
        return (f"{self.images:,} images, {self.seconds:.1f} s (uploads {self.upload_seconds:.1f} s), "
                f"{self.scan_requests} asyncscan + {self.sync_requests} sync scan + {self.result_requests} results "
                f"requests, {self.callbacks_delivered} callbacks delivered, verdicts by {self.sources}, "
                f"states {self.states}; {self.cpu_summary()}")

    def cpu_summary(self) -> str:
        busy = sum(self.cpu.values())
        parts = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(self.cpu.items(), key=lambda i: -i[1])
                          if seconds >= 0.5)
        return (f"CPU seconds {parts} = {busy:.0f} in {self.seconds:.0f} s wall "
                f"({busy / max(self.seconds, 1e-9):.2f} of {os.cpu_count()} CPUs busy); moto served "
                f"{self.moto_requests:,} requests ({self.moto_requests / self.images:.1f} per image)")

    def incomplete(self, name: str) -> str:
        """One sentence on a run whose records did not all reach a terminal state."""
        from greenlight.domain.states import TERMINAL

        terminal = {state.value for state in TERMINAL}
        left = {state: n for state, n in self.states.items() if state not in terminal}
        return (f"The {name} run did not finish: {sum(left.values())} of {self.images:,} records were still "
                f"{left} when the wait ended (no progress for 45 s, or the time limit); the functions counted "
                f"{self.metrics.get('DuplicateEvent', 0):.0f} duplicate events, "
                f"{self.metrics.get('LeaseTakeover', 0):.0f} lease takeovers and "
                f"{self.metrics.get('MessagesRetried', 0):.0f} retried messages.")

    @property
    def full_batches_retried(self) -> list[dict[str, Any]]:
        """Submit batches that sent nothing and handed every message back (no time left to send)."""
        return [b for b in self.submit_batches if b.get("sent") == 0 and b.get("retry_messages")]


def run_pipeline(config: BenchConfig, name: str, **changes: Any) -> PipelineRun:
    """Upload `config.uploads` images into the whole local pipeline and wait for every verdict."""
    from collections import Counter

    from greenlight_local.pipeline import LocalPipeline, PipelineOptions

    options = PipelineOptions(workdir=config.workdir / name, **changes)
    images = bench_images(config.uploads, name)
    with LocalPipeline(options) as pipeline:
        assert pipeline.stack is not None and pipeline.emulator is not None
        cpu_before, children_before = own_cpu_seconds(), child_cpu()
        started = upload_all(pipeline.stack, images, config.upload_threads)
        uploaded = time.time()
        complete = wait_terminal(pipeline.stack, len(images), config.settle_timeout)
        records = pipeline.records()
        cpu = {**cpu_used_since(children_before),
               "this process (uploads, Green emulator)": own_cpu_seconds() - cpu_before}
        stats = pipeline.emulator.stats()
        metrics = pipeline.metric_totals()
        submit_batches = logged(pipeline, "batch done")
        poll_runs = logged(pipeline, "poll done")
    finished = [finished_epoch(r.finished_at) for r in records if r.finished_at]
    last = max(finished) if complete and finished else time.time()
    calls = stats["calls"]
    return PipelineRun(
        images=len(images), seconds=last - started, upload_seconds=uploaded - started,
        scan_requests=int(calls["asyncscan"]), result_requests=int(calls["results"]),
        sync_requests=int(calls["scan"]), states=dict(Counter(r.state.value for r in records)),
        sources=dict(Counter(r.source or "-" for r in records)),
        callbacks_delivered=int(stats["callbacks"]["delivered"]), metrics=metrics, submit_batches=submit_batches,
        poll_runs=poll_runs, cpu=cpu, moto_requests=count_moto_requests(options.workdir / "logs" / "moto.log"),
        complete=complete, options=options)


def wait_terminal(stack: LocalStack, expected: int, timeout: float, stall: float = 45.0) -> bool:
    """Count terminal records every 3 s until `expected` are; give up after `timeout`, or after `stall`
    seconds without progress (a record left behind will not move). A COUNT scan, so the watching adds
    little load to moto; the end time comes from the records' finished_at, not from this loop."""
    from greenlight.domain.states import TERMINAL

    dynamodb = stack.client("dynamodb")
    states = sorted(s.value for s in TERMINAL)
    values = {f":s{i}": {"S": state} for i, state in enumerate(states)}
    condition = f"begins_with(#id, :v) AND #state IN ({', '.join(values)})"

    def terminal() -> int:
        total = 0
        kwargs: dict[str, Any] = {}
        for _ in range(1000):  # pages; bounded
            page = dynamodb.scan(TableName=stack.table, Select="COUNT", FilterExpression=condition,
                                 ExpressionAttributeNames={"#id": "id", "#state": "state"},
                                 ExpressionAttributeValues={**values, ":v": {"S": "v-"}}, **kwargs)
            total += int(page["Count"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        return total

    deadline = time.monotonic() + timeout
    best, progressed = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - progressed < stall:
        done = terminal()
        if done >= expected:
            return True
        if done > best:
            best, progressed = done, time.monotonic()
        time.sleep(3)
    return False


def logged(pipeline: LocalPipeline, message: str) -> list[dict[str, Any]]:
    """The functions' JSON log lines with this message (their summaries of each invocation)."""
    found = []
    for _, line in pipeline.logs():
        if f'"message":"{message}"' in line or f'"message": "{message}"' in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (what it runs, CPU seconds so far) for each live child of this process."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        label = "moto" if "moto_server" in command else "Green emulator" if "green_emulator" in command else next(
            (f"{f} hosts" for f in FUNCTIONS if f"--function {f}" in command), "other")
        found[int(stat.parent.name)] = (label, seconds)
    return found


def cpu_used_since(before: Mapping[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each kind of child used since `before` (children that started since count in full;
    children of other runs, like the services of the in-process figures, only by what they added)."""
    totals: dict[str, float] = {}
    for pid, (label, seconds) in child_cpu().items():
        used = seconds - before.get(pid, (label, 0.0))[1]
        totals[label] = totals.get(label, 0.0) + used
    return totals


def count_moto_requests(log: Path) -> int:
    """Requests moto's server logged (one line each); 0 when the log is not where it used to be."""
    import re

    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    return len(re.findall(r'"(?:GET|PUT|POST|DELETE|HEAD) /', text))


def finished_epoch(iso_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------------------------------ 3. imports

IMPORT_SNIPPET = "import sys, time\nstarted = time.perf_counter()\n__import__(sys.argv[1])\n" \
                 "print(time.perf_counter() - started)"


@dataclass(frozen=True)
class ImportTarget:
    label: str
    module: str  # "" = `python -c pass`, measured as process wall time
    env: dict[str, str]


@dataclass
class ImportResult:
    rows: list[Row]
    setting: str
    misses: list[str]
    evidence: list[str]


def import_targets(workdir: Path) -> list[ImportTarget]:
    environments = template_environment()
    targets = [ImportTarget("python -c pass (process wall time)", "", {**base_env(), **bytecode_env(workdir)}),
               ImportTarget("import boto3", "boto3", {**base_env(), **lambda_runtime_env("submit"),
                                                      **bytecode_env(workdir), "PYTHONPATH": str(LAYER)})]
    for function in FUNCTIONS:
        env = {**base_env(), **lambda_runtime_env(function), **environments[function], **bytecode_env(workdir),
               "PYTHONPATH": os.pathsep.join([str(LAYER), str(ROOT / "functions" / function)])}
        targets.append(ImportTarget(f"{function}_handler", f"{function}_handler", env))
    submit = next(t for t in targets if t.module == "submit_handler")
    traced = {**submit.env, "POWERTOOLS_TRACE_ENABLED": "true"}
    targets.append(ImportTarget("submit_handler, POWERTOOLS_TRACE_ENABLED=true", "submit_handler", traced))
    return targets


def time_import(target: ImportTarget) -> float:
    import subprocess

    if not target.module:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=target.env, check=True, timeout=60)
        return time.perf_counter() - started
    done = subprocess.run([sys.executable, "-c", IMPORT_SNIPPET, target.module], env=target.env, check=True,
                          timeout=60, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def measure_imports(config: BenchConfig) -> ImportResult:
    targets = import_targets(config.workdir)
    warm_bytecode(config.workdir, [(t.module or "sys", t.env) for t in targets])
    samples: dict[str, list[float]] = {t.label: [] for t in targets}
    for _ in range(config.processes):  # round-robin, so drift in machine load hits every target alike
        for target in targets:
            samples[target.label].append(time_import(target))
    medians = {label: median(values) for label, values in samples.items()}
    boto3 = medians["import boto3"]
    rows = [Row("Interpreter start, python -c pass (process wall)", ms(medians[targets[0].label]), "-")]
    misses: list[str] = []
    evidence: list[str] = []
    for function in FUNCTIONS:
        label = f"{function}_handler"
        ratio = medians[label] / boto3
        rows.append(Row(f"Cold import {label} (median of {config.processes})", ms(medians[label]),
                        f"{ms(boto3)} (import boto3)", f"{ratio:.2f}x", f"<= {MAX_IMPORT_RATIO}x boto3",
                        verdict(ratio <= MAX_IMPORT_RATIO)))
        costs = import_costs(next(t for t in targets if t.label == label))
        evidence.append(f"{label} -X importtime (median of 3; -X importtime adds its own overhead): {costs.summary()}")
        if ratio > MAX_IMPORT_RATIO:
            misses.append(f"{label} imports in {ms(medians[label])}, {ratio:.2f}x `import boto3`: "
                          f"{costs.sentence()}.")
    traced_label = "submit_handler, POWERTOOLS_TRACE_ENABLED=true"
    traced = medians[traced_label]
    rows.append(Row("Cold import submit_handler with X-Ray tracing on (Tracer() built at import)", ms(traced),
                    f"{ms(medians['submit_handler'])} (tracing off)",
                    f"+{ms(traced - medians['submit_handler'])}"))
    setting = (f"Imports: median of {config.processes} fresh processes each, interleaved, of {sys.executable}; "
               "time.perf_counter() around the import inside the process; PYTHONPATH = layers/greenlight plus the "
               "function's folder; the function's template environment plus what the Lambda runtime sets "
               "(LAMBDA_TASK_ROOT etc., so Powertools' Tracer really traces when enabled); bytecode compiled for "
               "every module (a PYTHONPYCACHEPREFIX warmed by one import first, since PYTHONDONTWRITEBYTECODE=1 "
               "is set machine-wide). Tracing: POWERTOOLS_TRACE_ENABLED=true makes the layer's instrument decorator "
               "build Tracer() at import, so its cost is inside the figure.")
    return ImportResult(rows, setting, misses, evidence)


@dataclass
class ImportCosts:
    packages: list[tuple[str, float]]  # top-level package -> self time summed (s)
    chains: list[tuple[str, float]]  # direct imports of the handler -> cumulative (s)

    def summary(self) -> str:
        packages = ", ".join(f"{name} {ms(seconds)}" for name, seconds in self.packages[:6])
        chains = ", ".join(f"{name} {ms(seconds)}" for name, seconds in self.chains[:6])
        return f"heaviest packages (own time) {packages}; heaviest imports of the handler (cumulative) {chains}"

    def sentence(self) -> str:
        chains = ", ".join(f"{name} ({ms(seconds)})" for name, seconds in self.chains[:3])
        packages = ", ".join(f"{name} ({ms(seconds)})" for name, seconds in self.packages[:3])
        return f"the heaviest imports it triggers are {chains}; by package, {packages}"


def import_costs(target: ImportTarget, runs: int = 3) -> ImportCosts:
    """Parse `-X importtime`: own time summed per top-level package, and the handler's direct imports."""
    import subprocess
    from collections import defaultdict

    packages: dict[str, list[float]] = defaultdict(list)
    chains: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {target.module}"],
                              env=target.env, check=True, timeout=60, capture_output=True, text=True)
        own: dict[str, float] = defaultdict(float)
        children: list[tuple[str, float]] = []  # depth-1 lines since the last top-level one
        for line in done.stderr.splitlines():
            parsed = parse_importtime(line)
            if parsed is None:
                continue
            name, self_us, cumulative_us, depth = parsed
            own[name.split(".")[0]] += self_us / 1e6
            if depth == 1:
                children.append((name, cumulative_us / 1e6))
            elif depth == 0:
                # Post-order: a module's line follows its children's, so these were the handler's own imports.
                if name == target.module:
                    for child, seconds in children:
                        chains[child].append(seconds)
                children = []
        for name, seconds in own.items():
            packages[name].append(seconds)
    return ImportCosts(
        packages=sorted(((n, median(v)) for n, v in packages.items()), key=lambda item: -item[1]),
        chains=sorted(((n, median(v)) for n, v in chains.items()), key=lambda item: -item[1]))


def parse_importtime(line: str) -> tuple[str, int, int, int] | None:
    """'import time:       123 |       4567 |     name' -> (name, 123, 4567, depth); depth 0 = top level."""
    if not line.startswith("import time:") or "self [us]" in line:
        return None
    try:
        self_us, cumulative_us, name_field = line.removeprefix("import time:").split("|", 2)
        depth = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        return name_field.strip(), int(self_us), int(cumulative_us), depth
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------ 4. signing

FIXED_DATE = "Tue, 14 Mar 2017 06:29:50 GMT"


def measure_signing(iterations: int) -> tuple[Row, str]:
    """µs per signed asyncscan request: ours vs the SDK (a new request object per call, as it is used)."""
    import timeit
    from unittest import mock

    from aliyunsdkgreen.request.v20180509.ImageAsyncScanRequest import ImageAsyncScanRequest

    from greenlight.green.signer import Credentials, sign_request

    key_id, secret, nonce = "LTAIbenchKey", "bench-secret-value", "5a4bd2e0c7f3456e9a1b2c3d4e5f6a7b"
    url = "http://127.0.0.1:9000/bucket/" + "k" * 40 + "?X-Amz-Signature=" + "0" * 64
    body = json.dumps({"scenes": list(SCENES), "tasks": [{"dataId": "v-" + "a" * 32, "url": url}]}).encode()
    credentials = Credentials(key_id, secret)

    def ours() -> dict[str, str]:
        return sign_request(credentials=credentials, method="POST", path="/green/image/asyncscan", body=body,
                            date=FIXED_DATE, query={"RegionId": GREEN_REGION},
                            headers={"x-acs-version": "2018-05-09", "x-acs-action": "ImageAsyncScan",
                                     "x-acs-region-id": GREEN_REGION}, nonce=nonce).headers

    def sdk() -> dict[str, str]:
        request = ImageAsyncScanRequest()
        request.set_accept_format("JSON")
        request.set_content(body)
        request.set_content_type("application/json")
        request.add_header("x-acs-signature-nonce", nonce)
        headers: dict[str, str] = request.get_signed_header(GREEN_REGION, key_id, secret)
        return headers

    with mock.patch("aliyunsdkcore.utils.parameter_helper.get_rfc_2616_date", return_value=FIXED_DATE):
        # Same inputs, same signature: the two loops do the same work.
        assert ours()["Authorization"] == sdk()["Authorization"], "signers disagree; the comparison would be void"
        repeats = 5
        number = max(1, iterations // repeats)
        ours_us = min(timeit.repeat(ours, number=number, repeat=repeats)) / number * 1e6
        sdk_us = min(timeit.repeat(sdk, number=number, repeat=repeats)) / number * 1e6
    row = Row("Signing one asyncscan request (µs)", f"{ours_us:.1f}", f"{sdk_us:.1f} (official SDK)",
              f"{sdk_us / ours_us:.1f}x faster")
    setting = (f"Signing: timeit, best of {repeats} x {number:,} calls, Date pinned, a 1-image asyncscan body of "
               f"{len(body)} bytes, same nonce; ours = greenlight.green.signer.sign_request; SDK = a new "
               "ImageAsyncScanRequest with the body + get_signed_header (its roa_signature_composer path), as each "
               "SDK call does. Both produce the same Authorization header (checked).")
    return row, setting


# ------------------------------------------------------------------------------------------ 6. memory


class MemoryProbe:
    """Each handler in a fresh process (so ru_maxrss is its own) on a full batch:
    submit 100 real messages, poll 100 due pending records, callback 1 then 100 sequential requests."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.dir = bench.config.workdir / "memory"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.setting = ""

    def run(self) -> list[Row]:
        emulator = self.bench.services.emulator()
        # A 1-message batch before each full one separates what a first invocation costs (lazy imports,
        # clients, the secret) from what a full batch adds.
        stack, secret, messages = self.bench.prepared_stack(3 * BATCH + 2, "memory")
        warm, first, second = messages[:1], messages[1:BATCH + 1], messages[BATCH + 1:2 * BATCH + 1]
        naive_warm, naive_batch = messages[2 * BATCH + 1:2 * BATCH + 2], messages[2 * BATCH + 2:]
        token = self.bench.token()
        env = {name: function_environment(stack, name, emulator.url, token) for name in FUNCTIONS}
        warm_bytecode(self.bench.config.workdir, [
            *((f"{name}_handler", self.child_env(name, {})) for name in FUNCTIONS),
            ("greenlight_local.bench", self.child_env("submit", {}))])
        finished_before = finished_tasks(emulator)
        submit = self.probe("submit", {**env["submit"], "POLL_GRACE_SECONDS": "0"},
                            lambda_batches(stack, warm) + lambda_batches(stack, first))
        # The second batch is submitted with a long grace, so the poller leaves it to the callbacks.
        self.probe("submit", {**env["submit"], "POLL_GRACE_SECONDS": "3000"}, lambda_batches(stack, second))
        wait_finished(emulator, finished_before + 2 * BATCH + 1)
        poll = self.probe("poll", {**env["poll"], "POLL_BATCH_LIMIT": str(BATCH)}, [scheduled_event()])
        callback = self.probe("callback", env["callback"], callback_events(emulator, stack, secret))
        naive = self.probe("naive", env["submit"], lambda_batches(stack, naive_warm)
                           + lambda_batches(stack, naive_batch), naive=(stack, emulator))
        self.setting = (
            "Memory: peak RSS (VmHWM) of a fresh process per probe (`python -m greenlight_local.bench "
            "--memory-probe`, which imports only a few stdlib modules before the handler); not ru_maxrss, which "
            f"Linux carries over from the parent across fork + exec (it read {submit['start_rusage']:.1f} MB "
            f"in the probe before any import; VmHWM read {submit['start']:.1f} MB). Idle = peak RSS right after "
            "importing the handler. Each submit probe first gets a batch of 1 message, then one of "
            f"{BATCH} ({submit['output']}; SDK loop: {naive['output']}); poll: {BATCH} due PENDING records "
            f"(POLL_BATCH_LIMIT={BATCH}; {poll['output']}); callback: {len(callback['marks'])} sequential genuine "
            f"callbacks ({callback['output']}). The first invocation of each also pays what the handlers defer "
            "from import time (boto3, requests, Powertools parameters, clients, the secret): submit with 1 message "
            f"took {ms(submit['seconds'][0])}, the first callback {ms(callback['seconds'][0])} (later ones: median "
            f"{ms(median(callback['seconds'][1:] or [0.0]))}), poll with its {BATCH} records "
            f"{ms(poll['seconds'][0])}.")
        return [
            Row(f"Peak RSS, submit, batch of {BATCH} (MB)", f"{submit['peak']:.1f} (1 message: {submit['first']:.1f})",
                f"{naive['peak']:.1f} SDK loop (1 message: {naive['first']:.1f}); {submit['idle']:.1f} idle",
                f"{submit['peak'] / naive['peak']:.2f}x SDK loop"),
            Row(f"Peak RSS, poll, {BATCH} due records (MB)", f"{poll['peak']:.1f}", f"{poll['idle']:.1f} idle",
                f"+{poll['peak'] - poll['idle']:.1f} MB"),
            Row(f"Peak RSS, callback, 1 / {len(callback['marks'])} requests (MB)",
                f"{callback['first']:.1f} / {callback['peak']:.1f}", f"{callback['idle']:.1f} idle",
                f"+{callback['peak'] - callback['idle']:.1f} MB"),
        ]

    def child_env(self, function: str, env: Mapping[str, str]) -> dict[str, str]:
        return {**base_env(), **lambda_runtime_env(function), **bytecode_env(self.bench.config.workdir), **env,
                "PYTHONPATH": pythonpath(ROOT / "functions" / function)}

    def probe(self, name: str, env: Mapping[str, str], events: Sequence[dict[str, Any]],
              naive: tuple[LocalStack, EmulatorProcess] | None = None) -> dict[str, Any]:
        import subprocess

        function = "submit" if name == "naive" else name
        spec: dict[str, Any] = {"function": function, "events": str(self.dir / f"{name}-events.json"),
                "result": str(self.dir / f"{name}-result.json")}
        if naive is not None:
            stack, emulator = naive
            spec["naive"] = {"endpoint": stack.endpoint, "region": stack.region, "table": stack.table,
                             "secret_id": stack.secret_id, "green_port": emulator.port,
                             "session_token": env["AWS_SESSION_TOKEN"]}
        Path(spec["events"]).write_text(json.dumps(list(events)), encoding="utf-8")
        spec_path = self.dir / f"{name}-spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        with open(self.dir / f"{name}.log", "wb") as log:
            subprocess.run([sys.executable, "-m", "greenlight_local.bench", "--memory-probe", str(spec_path)],
                           env=self.child_env(function, env), check=True, timeout=300, stdout=log,
                           stderr=subprocess.STDOUT)
        result: dict[str, Any] = json.loads(Path(spec["result"]).read_text(encoding="utf-8"))
        return result


def scheduled_event() -> dict[str, Any]:
    from greenlight_local.lambda_host import scheduled_event as event

    return event()


def finished_tasks(emulator: EmulatorProcess) -> int:
    return sum(int(n) for n in emulator.stats()["tasks_finished"].values())


def wait_finished(emulator: EmulatorProcess, total: int, timeout: float = 60.0) -> None:
    """Until the emulator has finished `total` tasks since it started (downloads included), bounded."""
    wait_until(lambda: finished_tasks(emulator) >= total, timeout=timeout, what=f"{total} finished Green tasks",
             interval=0.2)


def raw_results(emulator: EmulatorProcess, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Green's own result objects for these tasks (what its callbacks carry), via /green/image/results."""
    import requests

    from greenlight.green.signer import API_VERSION, Credentials, http_date, sign_request

    signed = sign_request(credentials=Credentials(emulator.key_id, emulator.key_secret), method="POST",
                          path="/green/image/results", body=json.dumps(list(task_ids)).encode("utf-8"),
                          date=http_date(time.time()), query={"RegionId": GREEN_REGION},
                          headers={"x-acs-version": API_VERSION, "x-acs-action": "ImageAsyncScanResults",
                                   "x-acs-region-id": GREEN_REGION})
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(emulator.url + signed.target, data=signed.body, headers=signed.headers, timeout=10)
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def callback_events(emulator: EmulatorProcess, stack: LocalStack, secret: Mapping[str, str]) -> list[dict[str, Any]]:
    """Genuine callbacks (Green's result objects, checksummed with the secret) for the records still PENDING."""
    from green_emulator.callbacks import FORM_CONTENT_TYPE, callback_form
    from greenlight.domain.states import State
    from greenlight.store import VerdictStore
    from greenlight_local.lambda_host import http_api_event

    pending = [r for r in VerdictStore(stack.client("dynamodb"), stack.table).scan_all()
               if r.state is State.PENDING and r.task_id]
    items = raw_results(emulator, [r.task_id or "" for r in pending][:BATCH])
    token = secret["callback_token"]
    events = []
    for item in items:
        body = callback_form(secret["uid"], secret["seed"], item)
        headers = {"Content-Type": FORM_CONTENT_TYPE, "Content-Length": str(len(body)), "User-Agent": "green"}
        events.append(http_api_event("POST", f"/callback/{token}", "", headers, body, "ANY /callback/{token}",
                                     {"token": token}, "127.0.0.1"))
    return events


def memory_probe(spec_path: Path) -> int:
    """Child side: import the handler, note the idle peak, run the events, note the peak after each."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    start, start_rusage = peak_rss_mb(), rusage_peak_mb()
    handler = probe_handler(spec)
    idle = peak_rss_mb()
    events = json.loads(Path(spec["events"]).read_text(encoding="utf-8"))
    marks: list[float] = []
    seconds: list[float] = []
    outputs: list[Any] = []
    function = spec["function"]
    for event in events:
        started = time.perf_counter()
        outputs.append(handler(event, LambdaContext(LOGICAL_IDS[function], TIMEOUTS[function])))
        seconds.append(time.perf_counter() - started)
        marks.append(peak_rss_mb())
    result = {"start": start, "start_rusage": start_rusage, "idle": idle, "first": marks[0], "peak": marks[-1],
              "marks": marks, "seconds": seconds, "output": summarize_outputs(outputs)}
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


def probe_handler(spec: Mapping[str, Any]) -> Callable[[dict[str, Any], Any], Any]:
    if "naive" in spec:
        return NaiveSubmitter(**spec["naive"]).handle
    return load_handler(spec["function"])


def summarize_outputs(outputs: Sequence[Any]) -> str:
    """A short account of what the probe's invocations did, so a probe that did nothing shows."""
    from collections import Counter

    first = outputs[0] if outputs else {}
    if "statusCode" in first:
        return "HTTP " + ", ".join(f"{status} x{n}" for status, n in Counter(o["statusCode"] for o in outputs).items())
    if "batchItemFailures" in first:
        return f"{sum(len(o['batchItemFailures']) for o in outputs)} batch item failures"
    if "submitted" in first:
        return f"{sum(o['submitted'] for o in outputs)} images submitted one by one"
    if "finished" in first:
        return f"{first['finished']} finished in {first['requests']} Green requests"
    return json.dumps(first)


# ------------------------------------------------------------------------------------------ output


def machine() -> str:
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text(encoding="utf-8").split()[1])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs{memory}; Python {platform.python_version()} ({sys.executable}); "
            f"{system}")


def table(report: Report) -> str:
    header = Row("Figure", "greenlight", "Baseline (same run)", "Ratio", "Target", "Result")
    rows = [header] + [row for name in FIGURES for row in report.rows.get(name, [])]
    cells = [[row.figure, row.ours, row.baseline, row.ratio, row.target, row.result] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(6)]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"
             for line in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def markdown(report: Report, config: BenchConfig, when: str, elapsed: float, command: str) -> str:
    quick = " Quick mode: smaller runs, figures scaled to 1,000 where they say so; not the run of record." \
        if config.quick else ""
    parts = [
        "# Benchmarks",
        "",
        f"Measured on {when} with `{command}` in {elapsed / 60:.1f} min. Everything ran on this machine against "
        "the local stack (moto server, the Green emulator, the functions in Lambda-like processes); each "
        f"baseline was measured in the same run.{quick}",
        "",
        f"Machine: {machine()}.",
        "",
        table(report),
        "",
    ]
    if report.misses:
        parts += ["## What holds back each missed target", ""] + [f"- {line}" for line in report.misses] + [""]
    parts += ["## How each figure was measured", ""] + [f"- {line}" for line in report.settings] + [""]
    if report.evidence:
        parts += ["## Evidence", "", "```", *report.evidence, "```", ""]
    parts += [f"Reproduce: `{COMMAND}`, which runs `{RAW_COMMAND}` (about 10 minutes on 2 CPUs). Add `--quick` "
              f"for a fast smaller run, `--only NAME` for one figure ({', '.join(FIGURES)}).", ""]
    return "\n".join(parts)


def run(config: BenchConfig, only: Sequence[str]) -> Report:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)  # loopback traffic only; the SDK and requests would honour these
    (config.workdir / "logs").mkdir(parents=True, exist_ok=True)
    bench = Bench(config)
    try:
        for name in FIGURES:  # the table's order; runs shared between figures happen once
            if name in only:
                print(f"bench: {name} ...", flush=True)
                started = time.monotonic()
                getattr(bench, f"figure_{name}")()
                print(f"bench: {name} done in {time.monotonic() - started:.0f}s", flush=True)
    finally:
        bench.close()
    return bench.report


def parse_only(values: Sequence[str] | None) -> list[str]:
    if not values:
        return list(FIGURES)
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise SystemExit(f"bench: unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--memory-probe":  # the child side of the memory figure
        return memory_probe(Path(args[1]))
    import argparse
    from datetime import UTC, datetime

    parser = argparse.ArgumentParser(description="Benchmark greenlight against naive baselines, locally.")
    parser.add_argument("--quick", action="store_true", help="smaller runs (200 uploads, 7 processes)")
    parser.add_argument("--only", action="append", metavar="NAME", help=f"one or more of {', '.join(FIGURES)}")
    parser.add_argument("--write", type=Path, metavar="FILE", help="also write the report (markdown) to FILE")
    options = parser.parse_args(args)
    only = parse_only(options.only)
    import signal

    # SIGTERM unwinds like Ctrl-C, so every context manager stops the processes it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = QUICK if options.quick else BenchConfig()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    report = run(config, only)
    command = " ".join(["PYTHONPATH=layers/greenlight:local .venv/bin/python -m greenlight_local.bench", *args])
    text = markdown(report, config, when, time.monotonic() - started, command)
    print()
    print(text)
    if options.write:
        path = options.write if options.write.is_absolute() else Path.cwd() / options.write
        path.write_text(text, encoding="utf-8")
        print(f"bench: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
