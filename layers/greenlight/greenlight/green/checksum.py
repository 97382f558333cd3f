"""Green's result-callback checksum: lower-case hex SHA-256 of uid + seed + content."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def callback_checksum(uid: str, seed: str, content: str) -> str:
    """What Green puts in the callback's `checksum` field for this `content`."""
    return hashlib.sha256((uid + seed + content).encode("utf-8")).hexdigest()


def verify_callback_checksum(checksum: str, uid: str, seeds: Iterable[str], content: str) -> bool:
    """True when `checksum` matches any of `seeds` (the current and, during a rotation, the previous).

    Compared in constant time; every seed is tried so the time taken does not reveal which matched.
    """
    given = checksum.strip().lower().encode("ascii", "replace")
    matched = False
    for seed in seeds:
        if seed and hmac.compare_digest(given, callback_checksum(uid, seed, content).encode("ascii")):
            matched = True
    return matched
