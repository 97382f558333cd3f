"""One timer thread that runs short callables at given monotonic times (callbacks, retries)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

_log = logging.getLogger(__name__)


class Scheduler:
    """The callables must be quick (they hand real work to a pool), so one thread serves them all."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="green-emulator-scheduler", daemon=True)
        self._thread.start()

    def call_at(self, when: float, action: Callable[[], None]) -> None:
        with self._wakeup:
            if self._stopped:
                return
            heapq.heappush(self._queue, (when, next(self._order), action))
            self._wakeup.notify()

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        self.call_at(self._clock() + delay, action)

    def clear(self) -> None:
        with self._wakeup:
            self._queue.clear()

    def pending(self) -> int:
        with self._wakeup:
            return len(self._queue)

    def stop(self, timeout: float = 2.0) -> None:
        with self._wakeup:
            self._stopped = True
            self._queue.clear()
            self._wakeup.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopped and (not self._queue or self._queue[0][0] > self._clock()):
                    timeout = None if not self._queue else max(0.0, self._queue[0][0] - self._clock())
                    self._wakeup.wait(timeout)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._queue)
            try:
                action()
            except Exception:  # one failing action must not stop the timer thread
                _log.exception("scheduled action failed")
