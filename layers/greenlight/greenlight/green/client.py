"""GreenClient: the four image operations of Green 2018-05-09 over one pooled HTTP session.

Requests are validated before anything is sent, signed fresh for every attempt (new Date and
nonce), and retried on throttling and transient failures with capped exponential backoff and full
jitter inside a total time budget. Authentication and invalid-request errors are never retried.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from greenlight.green.endpoints import EndpointError, endpoint_for_region, normalise_endpoint
from greenlight.green.errors import (
    GreenAuthError,
    GreenError,
    GreenInvalidRequest,
    GreenThrottled,
    GreenTransientError,
)
from greenlight.green.signer import API_VERSION, Credentials, http_date, sign_request
from greenlight.green.wire import (
    EXCEED_QUOTA,
    KNOWN_SCENES,
    MAX_TASKS,
    MAX_URL_LENGTH,
    OK,
    PERMISSION_DENY,
    Feedback,
    ScanTask,
    TaskResult,
)

MAX_SEED_LENGTH = 64
MAX_DATA_ID_LENGTH = 128

SYNC_SCAN = ("ImageSyncScan", "/green/image/scan")
ASYNC_SCAN = ("ImageAsyncScan", "/green/image/asyncscan")
ASYNC_RESULTS = ("ImageAsyncScanResults", "/green/image/results")
FEEDBACK = ("ImageScanFeedback", "/green/image/feedback")

# Operations whose request creates billed tasks: never retried when the answer, not the request, was lost.
_CREATES_TASKS = frozenset({SYNC_SCAN[0], ASYNC_SCAN[0]})

# Gateway error codes (docs/green-protocol.md, §8 Gateway and authentication errors) that no retry can fix.
_AUTH_CODES = ("SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId", "InvalidAccessKeySecret",
               "InvalidSecurityToken", "InvalidTimeStamp", "Forbidden", "InvalidAction", "NoPermission")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter: sleep U(0, min(max_delay, base_delay * 2**n))."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int, draw: float) -> float:
        return float(draw * min(self.max_delay, self.base_delay * 2.0 ** min(attempt, 30)))


def build_session(pool_size: int = 10) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _never_connected(exc: BaseException) -> bool:
    """Whether a connection error happened before a connection existed (so nothing was sent)."""
    from urllib3.exceptions import NewConnectionError

    current: BaseException | None = exc
    for _ in range(6):  # requests wraps urllib3's error a few levels deep
        if current is None:
            return False
        if isinstance(current, NewConnectionError):
            return True
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        current = nested
    return False


def validate_scenes(scenes: Sequence[str]) -> list[str]:
    if isinstance(scenes, str) or not scenes:
        raise GreenInvalidRequest("scenes must be a non-empty list", field="scenes")
    unknown = sorted(set(scenes) - KNOWN_SCENES)
    if unknown:
        raise GreenInvalidRequest(f"unknown scenes {unknown}; known: {sorted(KNOWN_SCENES)}", field="scenes")
    return list(dict.fromkeys(scenes))


def validate_url(url: str, field_name: str) -> None:
    if not isinstance(url, str) or not url:
        raise GreenInvalidRequest(f"{field_name} is empty", field=field_name)
    if len(url) > MAX_URL_LENGTH:
        raise GreenInvalidRequest(f"{field_name} is {len(url)} characters; Green accepts at most {MAX_URL_LENGTH}",
                                  field=field_name)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GreenInvalidRequest(f"{field_name} must be an http(s) URL", field=field_name)


def validate_tasks(tasks: Sequence[ScanTask]) -> None:
    if not 1 <= len(tasks) <= MAX_TASKS:
        raise GreenInvalidRequest(f"tasks must hold 1 to {MAX_TASKS} images, got {len(tasks)}", field="tasks")
    seen: set[str] = set()
    for index, task in enumerate(tasks):
        if not task.data_id or len(task.data_id) > MAX_DATA_ID_LENGTH:
            raise GreenInvalidRequest(f"tasks[{index}].dataId must be 1 to {MAX_DATA_ID_LENGTH} characters",
                                      field=f"tasks[{index}].dataId")
        if task.data_id in seen:
            raise GreenInvalidRequest(f"tasks[{index}].dataId {task.data_id!r} is repeated",
                                      field=f"tasks[{index}].dataId")
        seen.add(task.data_id)
        validate_url(task.url, f"tasks[{index}].url")


def validate_callback(callback: str | None, seed: str | None) -> None:
    if callback is None:
        return
    validate_url(callback, "callback")
    if not seed:
        raise GreenInvalidRequest("seed is required when a callback is given", field="seed")
    if len(seed) > MAX_SEED_LENGTH or not all(c.isascii() and (c.isalnum() or c == "_") for c in seed):
        raise GreenInvalidRequest(f"seed must be 1 to {MAX_SEED_LENGTH} letters, digits or '_'", field="seed")


def _error_from_gateway(status: int, body: dict[str, Any]) -> GreenError:
    code = str(body.get("Code", ""))
    # The gateway echoes its string to sign, which holds an STS token when one is used: keep it out
    # of messages that end up in logs.
    detail = str(body.get("Message", "")).split(" server string to sign is:", 1)[0]
    message = f"{code}: {detail}".strip(": ")
    request_id = body.get("RequestId")
    if code.startswith("Throttling"):
        return GreenThrottled(message, code=code, request_id=request_id)
    if any(code.startswith(prefix) for prefix in _AUTH_CODES) or status in (401, 403):
        return GreenAuthError(message, code=code, request_id=request_id)
    if status >= 500 or code in ("ServiceUnavailable", "InternalError", "SignatureNonceUsed"):
        return GreenTransientError(message, code=code, request_id=request_id)
    return GreenInvalidRequest(message, code=code, request_id=request_id)


def _error_from_body(code: int, msg: str, request_id: str | None) -> GreenError:
    message = f"Green answered {code} {msg}"
    if code == EXCEED_QUOTA:
        return GreenThrottled(message, code=code, request_id=request_id)
    if code == PERMISSION_DENY:
        return GreenAuthError(message, code=code, request_id=request_id)
    if 400 <= code < 500:
        return GreenInvalidRequest(message, code=code, request_id=request_id)
    return GreenTransientError(message, code=code, request_id=request_id)


class GreenClient:
    """Talks to one Green endpoint with credentials from `credentials` (a value or a provider).

    A provider is called for every attempt, so rotated keys take effect without a new client.
    `clock`, `monotonic`, `sleep`, `draw` and `nonce` exist so tests can pin time and randomness.
    `pace` is called before each attempt with what the request counts against Green's quota (one per
    image for scans, one per request otherwise); a rate budget may block there.
    """

    def __init__(
        self,
        credentials: Credentials | Callable[[], Credentials],
        *,
        region: str = "cn-shanghai",
        endpoint: str | None = None,
        session: requests.Session | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        sync_read_timeout: float = 6.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        nonce: Callable[[], str] | None = lambda: uuid.uuid4().hex,
        pace: Callable[[float], None] | None = None,
    ) -> None:
        self._credentials = credentials
        self.region = region
        try:
            self.endpoint = normalise_endpoint(endpoint) if endpoint else endpoint_for_region(region)
        except EndpointError as exc:
            raise GreenInvalidRequest(str(exc), field="region" if endpoint is None else "endpoint") from exc
        self.session = session or build_session()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.sync_read_timeout = sync_read_timeout
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._draw = draw
        self._nonce = nonce
        self._pace = pace

    # -- operations -----------------------------------------------------------------------------

    def image_sync_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                        budget: float | None = None) -> list[TaskResult]:
        """Scan now; one TaskResult per task, with results for those that succeeded."""
        payload = self._scan_payload(tasks, scenes, biz_type)
        data = self._call(SYNC_SCAN, payload, read_timeout=self.sync_read_timeout, budget=budget, cost=len(tasks))
        return self._task_list(data)

    def image_async_scan(self, tasks: Sequence[ScanTask], scenes: Sequence[str], *, biz_type: str | None = None,
                         callback: str | None = None, seed: str | None = None,
                         budget: float | None = None) -> list[TaskResult]:
        """Submit; one TaskResult per task carrying its taskId (or its own error code)."""
        payload = self._scan_payload(tasks, scenes, biz_type)
        validate_callback(callback, seed)
        if callback is not None:
            payload["callback"] = callback
            payload["seed"] = seed
        data = self._call(ASYNC_SCAN, payload, read_timeout=self.read_timeout, budget=budget, cost=len(tasks))
        return self._task_list(data)

    def image_async_results(self, task_ids: Sequence[str], *, budget: float | None = None) -> list[TaskResult]:
        """Results of earlier async scans: code 280 while processing, 200 with results when done."""
        if isinstance(task_ids, str) or not 1 <= len(task_ids) <= MAX_TASKS:
            raise GreenInvalidRequest(f"task ids must be a list of 1 to {MAX_TASKS}", field="taskIds")
        if not all(isinstance(t, str) and t for t in task_ids):
            raise GreenInvalidRequest("every task id must be a non-empty string", field="taskIds")
        data = self._call(ASYNC_RESULTS, list(task_ids), read_timeout=self.read_timeout, budget=budget)
        return self._task_list(data)

    def image_scan_feedback(self, feedback: Feedback, *, budget: float | None = None) -> None:
        """Tell Green a machine verdict was wrong."""
        if feedback.suggestion is not None and feedback.suggestion not in ("pass", "block"):
            raise GreenInvalidRequest("feedback suggestion must be 'pass' or 'block'", field="suggestion")
        if feedback.suggestion is not None and not feedback.scenes:
            raise GreenInvalidRequest("feedback with a suggestion needs scenes", field="scenes")
        if feedback.scenes:
            validate_scenes(feedback.scenes)
        if feedback.url is not None:
            validate_url(feedback.url, "url")
        self._call(FEEDBACK, feedback.to_wire(), read_timeout=self.read_timeout, budget=budget)

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _scan_payload(tasks: Sequence[ScanTask], scenes: Sequence[str], biz_type: str | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"scenes": validate_scenes(scenes)}
        validate_tasks(tasks)
        if biz_type:
            payload["bizType"] = biz_type
        payload["tasks"] = [task.to_wire() for task in tasks]
        return payload

    @staticmethod
    def _task_list(data: Any) -> list[TaskResult]:
        # Green said 200: a scan's tasks exist even if the list describing them is unreadable.
        if not isinstance(data, list):
            raise GreenTransientError("Green answered without a data list", maybe_accepted=True)
        try:
            return [TaskResult.from_wire(item) for item in data]
        except ValueError as exc:
            raise GreenTransientError(f"Green answered a malformed task: {exc}", maybe_accepted=True) from exc

    def _credentials_now(self) -> Credentials:
        creds = self._credentials
        return creds if isinstance(creds, Credentials) else creds()

    def _call(self, operation: tuple[str, str], payload: Any, *, read_timeout: float,
              budget: float | None, cost: int = 1) -> Any:
        """Send with retries. `cost` is what the request counts against the quota (images for scans)."""
        action, path = operation
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        deadline = None if budget is None else self._monotonic() + budget
        last_error: GreenError | None = None
        for attempt in range(self.retry.max_attempts):
            remaining = None if deadline is None else deadline - self._monotonic()
            if remaining is not None and remaining <= 0.05:
                break
            if self._pace is not None:
                self._pace(cost)
            try:
                return self._attempt(action, path, body, read_timeout, remaining)
            except (GreenThrottled, GreenTransientError) as exc:
                last_error = exc
                if exc.maybe_accepted and action in _CREATES_TASKS:
                    raise  # Green may have the tasks already: a resend could pay for them twice
            if attempt + 1 >= self.retry.max_attempts:
                break
            delay = self.retry.delay(attempt, self._draw())
            if deadline is not None and self._monotonic() + delay >= deadline:
                break
            self._sleep(delay)
        if last_error is None:
            raise GreenTransientError(f"{action}: no time left in the budget to send the request")
        raise last_error

    def _attempt(self, action: str, path: str, body: bytes, read_timeout: float, remaining: float | None) -> Any:
        query = {"RegionId": self.region}
        signed = sign_request(
            credentials=self._credentials_now(),
            method="POST",
            path=path,
            body=body,
            date=http_date(self._clock()),
            query=query,
            headers={"x-acs-version": API_VERSION, "x-acs-action": action, "x-acs-region-id": self.region},
            nonce=self._nonce() if self._nonce else None,
        )
        connect = self.connect_timeout if remaining is None else max(0.05, min(self.connect_timeout, remaining))
        read = read_timeout if remaining is None else max(0.05, min(read_timeout, remaining))
        try:
            response = self.session.post(self.endpoint + signed.target, data=signed.body, headers=signed.headers,
                                         timeout=(connect, read), allow_redirects=False)
        except requests.ConnectTimeout as exc:  # nothing reached Green
            raise GreenTransientError(f"{action}: could not connect ({type(exc).__name__})") from exc
        except requests.Timeout as exc:
            raise GreenTransientError(f"{action}: timed out ({type(exc).__name__})", maybe_accepted=True) from exc
        except requests.ConnectionError as exc:
            # Refused or unreachable before sending, or dropped after: only the latter may have reached Green.
            raise GreenTransientError(f"{action}: network failure ({type(exc).__name__})",
                                      maybe_accepted=not _never_connected(exc)) from exc
        except requests.RequestException as exc:
            raise GreenTransientError(f"{action}: network failure ({type(exc).__name__})",
                                      maybe_accepted=True) from exc
        return self._parse(action, response)

    @staticmethod
    def _parse(action: str, response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "Code" in body and "code" not in body:
            raise _error_from_gateway(response.status_code, body)
        if response.status_code >= 500 or response.status_code == 429:
            # A 5xx in Green's own envelope is Green refusing; anything else may be a lost answer.
            enveloped = isinstance(body, dict) and "code" in body
            raise GreenTransientError(f"{action}: HTTP {response.status_code}", code=response.status_code,
                                      maybe_accepted=response.status_code >= 500 and not enveloped)
        if response.status_code >= 400:
            raise GreenInvalidRequest(f"{action}: HTTP {response.status_code}", code=response.status_code)
        if not isinstance(body, dict) or "code" not in body:
            # Something answered 200 without Green's envelope: the request may have been taken.
            raise GreenTransientError(f"{action}: answer is not a Green JSON envelope", maybe_accepted=True)
        request_id = body.get("requestId")
        try:
            code = int(body["code"])
        except (TypeError, ValueError) as exc:
            raise GreenTransientError(f"{action}: answer has no integer code") from exc
        if code != OK:
            raise _error_from_body(code, str(body.get("msg", "")), request_id)
        return body.get("data")
