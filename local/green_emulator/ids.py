"""Green-looking task and request ids from a seeded generator (reproducible runs)."""

from __future__ import annotations

import random
import string
import threading

_ALPHABET = string.ascii_letters + string.digits


class IdSource:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(f"ids:{seed}")

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(f"ids:{seed}")

    def _chars(self, count: int) -> str:
        return "".join(self._random.choice(_ALPHABET) for _ in range(count))

    def task_id(self) -> str:
        """Like Green's img3Fq0xTQYGhJHyxvMCpfYSk-1tYvVS: 'img', 22 characters, '-', 6 characters."""
        with self._lock:
            return f"img{self._chars(22)}-{self._chars(6)}"

    def request_id(self) -> str:
        """Upper-case UUID layout, as the gateway's RequestId."""
        with self._lock:
            digits = f"{self._random.getrandbits(128):032X}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
