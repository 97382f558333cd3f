"""Green's result-callback checksum: lower-case hex SHA-256 of uid + seed + content."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def callback_checksum(uid: str, seed: str, content: str) -> str:
    """What Green puts in the callback's `checksum` field for this `content`."""
    return hashlib.sha256((uid + seed + content).encode("utf-8")).hexdigest()


def matches_any(given: str, candidates: Iterable[str]) -> bool:
    """Whether `given` equals one of `candidates`, compared in constant time against every one of
    them, so the time taken reveals neither a prefix nor which candidate matched."""
    given_bytes = given.encode("utf-8", "replace")
    matched = False
    for candidate in candidates:
        if candidate and hmac.compare_digest(given_bytes, candidate.encode("utf-8", "replace")):
            matched = True
    return matched


def verify_callback_checksum(checksum: str, uid: str, seeds: Iterable[str], content: str) -> bool:
    """True when `checksum` matches any of `seeds` (the current and, during a rotation, the previous)."""
    return matches_any(checksum.strip().lower(), (callback_checksum(uid, seed, content) for seed in seeds if seed))
