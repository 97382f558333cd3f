"""Result callbacks (docs/green-protocol.md, Callbacks): one form POST per task with `checksum` and
`content`, where checksum = lower-case hex SHA-256 of uid + seed + content (UTF-8).

A non-200 answer or a connection error is retried `retries` times, `retry_delay` apart. Attempts
run on a small pool; waits between them (and the network model's round trip before each attempt)
sit on the scheduler, so no thread sleeps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from green_emulator.counters import Counters
from green_emulator.faults import FaultInjector
from green_emulator.ledger import Ledger
from green_emulator.network import NetworkModel
from green_emulator.scheduler import Scheduler

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
_log = logging.getLogger(__name__)


def callback_content(item: dict[str, Any]) -> str:
    """The `content` field: the task's result object as compact JSON, non-ASCII kept as is."""
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


def callback_checksum(uid: str, seed: str, content: str) -> str:
    """What the receiver recomputes to trust a callback: hex SHA-256 of uid + seed + content."""
    return hashlib.sha256((uid + seed + content).encode("utf-8")).hexdigest()


def callback_form(uid: str, seed: str, item: dict[str, Any]) -> bytes:
    content = callback_content(item)
    return urlencode({"checksum": callback_checksum(uid, seed, content), "content": content}).encode("ascii")


class CallbackSender:
    def __init__(
        self,
        *,
        uid: str,
        retries: int,
        retry_delay: float,
        timeout: float,
        allowed_hosts: tuple[str, ...],
        workers: int,
        faults: FaultInjector,
        counters: Counters,
        scheduler: Scheduler,
        network: NetworkModel | None = None,
        clock: Callable[[], float] = time.monotonic,
        ledger: Ledger | None = None,
    ) -> None:
        self._uid = uid
        self._retries = retries
        self._retry_delay = retry_delay
        self._timeout = timeout
        self._allowed = frozenset(host.lower() for host in allowed_hosts)
        self._faults = faults
        self._counters = counters
        self._scheduler = scheduler
        self._network = network
        self._clock = clock
        self._ledger = ledger or Ledger()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="green-emulator-callback")
        self._session = requests.Session()
        self._session.trust_env = False
        self._lock = threading.Lock()
        self._generation = 0

    def reset(self) -> None:
        """Forget everything pending: attempts scheduled before now will not run or count."""
        with self._lock:
            self._generation += 1

    def close(self) -> None:
        self.reset()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    def deliver(self, url: str, seed: str, item: dict[str, Any], not_before: float) -> None:
        """Schedule the callback for one task result, applying drop, duplicate and delay faults
        (when asyncscan is among the fault_operations)."""
        faults = self._faults.current
        faulty = faults.applies_to("asyncscan")
        if faulty and self._faults.chance(faults.callback_drop_rate):
            self._counters.inc("callbacks", "dropped")
            self._counters.inc("faults", "callback_drop")
            self._ledger.fault(item.get("dataId"), "callback_drop")
            return
        if (urlsplit(url).hostname or "").lower() not in self._allowed:
            _log.warning("not calling back %s: host not in allowed_hosts", url)
            self._counters.inc("callbacks", "blocked")
            return
        copies = 1
        if faulty and self._faults.chance(faults.callback_duplicate_rate):
            copies = 2
            self._counters.inc("callbacks", "duplicated")
            self._counters.inc("faults", "callback_duplicate")
            self._ledger.fault(item.get("dataId"), "callback_duplicate")
        body = callback_form(self._uid, seed, item)
        delivered = partial(self._ledger.handed, item, "callback")
        with self._lock:
            generation = self._generation
        for _ in range(copies):
            delay = self._faults.uniform(faults.callback_delay) if faulty else 0.0
            if delay:
                self._counters.inc("faults", "callback_delay")
            delay += self._round_trip()
            self._scheduler.call_at(not_before + delay, lambda: self._submit(generation, url, body, 0, delivered))

    def _round_trip(self) -> float:
        return self._network.callback_delay() if self._network is not None else 0.0

    def _submit(self, generation: int, url: str, body: bytes, attempt: int, delivered: Callable[[], None]) -> None:
        if not self._current(generation):
            return
        try:
            self._pool.submit(self._attempt, generation, url, body, attempt, delivered)
        except RuntimeError:  # the pool is shut down: the emulator is stopping
            return

    def _attempt(self, generation: int, url: str, body: bytes, attempt: int, delivered: Callable[[], None]) -> None:
        if not self._current(generation):
            return
        self._counters.inc("callbacks", "sent")
        try:
            response = self._session.post(url, data=body, headers={"Content-Type": FORM_CONTENT_TYPE},
                                          timeout=self._timeout, allow_redirects=False)
            status: int | None = response.status_code
            response.close()
        except requests.RequestException as exc:
            _log.info("callback to %s failed: %s", url, type(exc).__name__)
            status = None
        if not self._current(generation):
            return
        if status == 200:
            self._counters.inc("callbacks", "delivered")
            delivered()
            return
        if attempt >= self._retries:
            self._counters.inc("callbacks", "failed")
            return
        self._counters.inc("callbacks", "retries")
        self._scheduler.call_at(self._clock() + self._retry_delay + self._round_trip(),
                                lambda: self._submit(generation, url, body, attempt + 1, delivered))
