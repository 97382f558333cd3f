"""Faults injected inside a function host, from outside the production code (the chaos run's).

The local host (lambda_host) installs these before it loads the handler when GREENLIGHT_FAULTS names a
plan file (`HookPlan`, JSON). Production code knows nothing of them: they wrap the seams where a real
Lambda dies or stalls at the worst moment, and the AWS client where DynamoDB pushes back.

- Crash points: at each pass through a point, with the plan's chance, the hook takes one armed token
  for that point (a file `armed/<point>.<mode>.<n>-...`, lowest n first; unlinking it is atomic, so
  each token fires once across every host) and then either ends the process at once (`exit`, like a SIGKILL or an
  out-of-memory kill) or sleeps past the function timeout (`timeout`: the host's watchdog ends the
  invocation, as Lambda does). The points (`POINTS`) are the windows where a verdict can be lost.
- DynamoDB throttling: a `before-send` handler on every DynamoDB client answers a call with HTTP 400
  ProvisionedThroughputExceededException on every attempt (`dynamodb_throttle_rate`: boto3's retries
  give up and the error reaches the code), or on its first attempt only (`dynamodb_retry_rate`: a
  retry absorbs it). An `after-call` handler counts the errors that really surfaced. The
  throttling backoff is put on the local time scale (base 0.1 s instead of 1 s, so five attempts
  take at most 1.5 s, not 15 s, against functions whose timeouts are seconds here).
- Callbacks answered 503 before the handler runs (`callback_unavailable_rate`), as API Gateway or a
  throttled Lambda answers.

Every injection is appended as one JSON line to `hits.jsonl` in the plan's directory (one write
call, so lines from several processes do not interleave, and a line is on disk before an exit).
"""

from __future__ import annotations

import functools
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENV = "GREENLIGHT_FAULTS"
MODES = ("exit", "timeout")
POINTS = {
    "submit.after_claim": "submit, mid-batch: a version claimed, checked and presigned, nothing sent yet",
    "submit.before_pending": "submit: Green accepted the task, the PENDING write not made",
    "poll.after_claim": "poll, recovering a stranded record: claimed, nothing sent yet",
    "poll.before_pending": "poll, recovering: Green accepted the task, the PENDING write not made",
    "poll.before_resubmitted": "poll, mid-rescan: Green accepted the new task, resubmitted() not written",
    "callback.before_finish": "callback: a genuine result about to be written",
    "callback.after_finish": "callback: the verdict written, Green not yet answered",
}
THROTTLED_BODY = json.dumps({
    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    "message": "The level of configured provisioned throughput for the table was exceeded. (injected)",
}).encode("utf-8")


@dataclass(frozen=True)
class HookPlan:
    directory: str  # hits.jsonl and the armed/ tokens
    seed: int = 0
    crash_rates: dict[str, float] = field(default_factory=dict)  # point -> chance a pass fires (if armed)
    dynamodb_throttle_rate: float = 0.0  # calls throttled on every attempt: the error surfaces
    dynamodb_retry_rate: float = 0.0  # calls throttled on the first attempt only: a retry absorbs it
    callback_unavailable_rate: float = 0.0  # callbacks answered 503 before the handler runs

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(path)  # hosts never see half a plan

    @classmethod
    def read(cls, path: Path) -> HookPlan:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def arm(directory: Path, point: str, mode: str, count: int) -> None:
    """Make `point` fire `count` more times in `mode` (whichever hosts get there first)."""
    if point not in POINTS or mode not in MODES:
        raise ValueError(f"unknown crash point or mode: {point} {mode}")
    armed = directory / "armed"
    armed.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (armed / f"{point}.{mode}.{n:04d}-{time.time_ns()}-{random.randrange(1 << 30)}").touch()


def _token_order(point: str) -> Callable[[Path], tuple[int, str]]:
    """The n-th token of every mode before any (n+1)-th: a point armed with kills and timeouts
    alternates them, so two firings show both whatever the counts."""
    def key(token: Path) -> tuple[int, str]:
        mode, rest = token.name[len(point) + 1:].split(".", 1)
        return int(rest.split("-", 1)[0]), mode
    return key


def disarm(directory: Path) -> int:
    """Remove every token not yet taken; returns how many there were."""
    armed = directory / "armed"
    removed = 0
    for token in armed.glob("*") if armed.exists() else ():
        try:
            token.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def read_hits(directory: Path) -> list[dict[str, Any]]:
    path = directory / "hits.jsonl"
    if not path.exists():
        return []
    hits = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            hits.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash between two writes cannot happen (one write), but be lenient
    return hits


# -- inside a host ---------------------------------------------------------------------------------

@dataclass
class _Host:
    plan: HookPlan
    function: str
    index: int
    timeout: float
    directory: Path
    rng: random.Random
    lock: threading.Lock = field(default_factory=threading.Lock)
    throttling: dict[str, str] = field(default_factory=dict)  # invocation id -> "all" | "first"

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate

    def record(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"kind": kind, "function": self.function, "index": self.index, "pid": os.getpid(),
                           "at": round(time.time(), 3), **fields}) + "\n"
        fd = os.open(self.directory / "hits.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)


_host: _Host | None = None


def install(plan_path: Path, *, function: str, index: int, timeout: float) -> None:
    """Install the plan's hooks in this process (before the handler is loaded)."""
    global _host
    plan = HookPlan.read(plan_path)
    directory = Path(plan.directory)
    _host = _Host(plan, function, index, timeout, directory,
                  random.Random(f"{plan.seed}:{function}:{index}:{os.getpid()}"))
    _install_crash_points()
    if plan.dynamodb_throttle_rate > 0 or plan.dynamodb_retry_rate > 0:
        _install_throttling()


def watchdog_fired() -> None:
    """The host's watchdog is ending an invocation that ran past its timeout (injected or not)."""
    if _host is not None:
        _host.record("watchdog_timeout")


def service_unavailable() -> bool:
    """Whether the HTTP API answers this request 503 without invoking the handler."""
    host = _host
    if host is None or not host.chance(host.plan.callback_unavailable_rate):
        return False
    host.record("callback_503")
    return True


def crash_point(point: str) -> None:
    """Maybe crash or stall here (see the module docstring)."""
    host = _host
    if host is None or not host.chance(host.plan.crash_rates.get(point, 0.0)):
        return
    armed = host.directory / "armed"
    for token in sorted(armed.glob(f"{point}.*"), key=_token_order(point)) if armed.exists() else ():
        try:
            token.unlink()  # exactly one process gets each token
        except FileNotFoundError:
            continue
        mode = token.name[len(point) + 1:].split(".", 1)[0]
        host.record("crash", point=point, mode=mode)
        if mode == "timeout":
            print(json.dumps({"level": "WARNING", "message": f"chaos: stalling at {point} past the timeout"}),
                  flush=True)
            time.sleep(host.timeout + 30)  # the host's watchdog ends the process first
        os._exit(137)


def _wrap(owner: Any, name: str, around: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(owner, name)
    setattr(owner, name, functools.wraps(original)(around(original)))


def _install_crash_points() -> None:
    # The seams are imported here, before the handler imports them, so it gets the wrapped methods.
    try:
        from greenlight.aws.verdict_table import DynamoVerdictStore
        from greenlight.scanning.submission import Submission
    except Exception as exc:  # a seam that moved or broke: report it; the handler's own import will fail loudly
        print(json.dumps({"level": "ERROR", "message": f"chaos: crash points not installed: {exc!r}"}), flush=True)
        return

    def prepare(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            if type(result).__name__ == "Prepared":
                crash_point(f"{self.by}.after_claim")
            return result
        return wrapper

    def before(point_of: Callable[[dict[str, Any]], str | None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def around(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                point = point_of(kwargs)
                if point:
                    crash_point(point)
                return original(self, *args, **kwargs)
            return wrapper
        return around

    def finish(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            by_callback = kwargs.get("by") == "callback"
            if by_callback:
                crash_point("callback.before_finish")
            done = original(self, *args, **kwargs)
            if by_callback and done:
                crash_point("callback.after_finish")
            return done
        return wrapper

    _wrap(Submission, "prepare", prepare)
    _wrap(DynamoVerdictStore, "mark_pending", before(lambda kw: f"{kw.get('by')}.before_pending"))
    _wrap(DynamoVerdictStore, "resubmitted",
          before(lambda kw: "poll.before_resubmitted" if kw.get("by") == "poll" else None))
    _wrap(DynamoVerdictStore, "finish", finish)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _install_throttling() -> None:
    import botocore.client
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from botocore.retries.standard import ExponentialBackoff

    backoff: Any = ExponentialBackoff
    backoff._DEFAULT_BACKOFF_CONFIG = {**backoff._DEFAULT_BACKOFF_CONFIG, "throttling_base_scale": 0.1}

    def before_send(request: Any, **_: Any) -> Any:
        host = _host
        retries = getattr(request, "context", {}).get("retries") or {}
        invocation, attempt = retries.get("invocation-id"), int(retries.get("attempt", 1))
        if host is None or not invocation:
            return None
        target = request.headers.get("X-Amz-Target") or ""
        target = target.decode("ascii", "replace") if isinstance(target, bytes) else str(target)
        with host.lock:
            if len(host.throttling) > 1000:  # "all" entries are never looked up after their last attempt
                host.throttling.clear()
            if attempt == 1:
                draw = host.rng.random()
                plan = host.plan
                if draw < plan.dynamodb_throttle_rate:
                    host.throttling[invocation] = "all"
                elif draw < plan.dynamodb_throttle_rate + plan.dynamodb_retry_rate:
                    host.throttling[invocation] = "first"
            how = host.throttling.get(invocation)
            if how == "first" and attempt > 1:
                host.throttling.pop(invocation, None)
                how = None
        if how is None:
            return None
        host.record("dynamodb_throttle", how=how, attempt=attempt, target=target.rsplit(".", 1)[-1])
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-RequestId"] = "chaos-throttle"
        return AWSResponse(request.url, 400, headers, _Body(THROTTLED_BODY))

    def after_call(parsed: Any = None, model: Any = None, **_: Any) -> None:
        # The final answer after every retry: a throttling error here is raised to the caller.
        host = _host
        error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
        if host is not None and error.get("Code") == "ProvisionedThroughputExceededException":
            host.record("dynamodb_throttle_surfaced", operation=getattr(model, "name", ""),
                        retries=(parsed.get("ResponseMetadata") or {}).get("RetryAttempts"))

    original = botocore.client.ClientCreator.create_client

    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-send.dynamodb", before_send)
            client.meta.events.register("after-call.dynamodb", after_call)
        return client

    botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]
