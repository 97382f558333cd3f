"""Content already judged: decide identical bytes without paying Green again.

Keys (greenlight.domain.record.KnownContent):
- `etag:<etag>:<size>`: blocked content. An MD5 (a single-part upload's ETag) can be collided on
  purpose, but a collision only gets the colliding upload blocked, so any hash will do for blocking;
- `sha256:<hex>`: blocked or passed content, when content hashing is on. Only this key may give a
  pass: nobody can make other bytes match a SHA-256;
- `restored:<bucket>/<key>:<etag>`: bytes enforcement itself put back after an override: their new
  write must keep the decision a person made, not be judged again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import ObjectInfo
from greenlight.domain.policy import Decision, Policy, decide_scanned
from greenlight.domain.record import KnownContent


def lookup_keys(obj: ObjectRef, info: ObjectInfo) -> list[str]:
    keys = []
    if obj.etag:
        keys += [f"etag:{obj.etag}:{info.size}", f"restored:{obj.bucket}/{obj.key}:{obj.etag}"]
    if info.sha256:
        keys.append(f"sha256:{info.sha256}")
    return keys


@dataclass(frozen=True)
class KnownVerdict:
    """What identical content already got, and the decision it means for this version."""

    entry: KnownContent
    decision: Decision
    reason: str


def match(obj: ObjectRef, info: ObjectInfo, entries: Mapping[str, KnownContent], policy: Policy) -> KnownVerdict | None:
    """The remembered verdict that applies to `obj`, if any: a restore first, then a block, then a pass."""
    if obj.etag:
        restored = entries.get(f"restored:{obj.bucket}/{obj.key}:{obj.etag}")
        if restored is not None:
            reason = f"restored after a decision on {restored.record_id}"
            return KnownVerdict(restored, _decided(restored.decision, policy, reason), reason)
    candidates = [entries.get(f"sha256:{info.sha256}") if info.sha256 else None,
                  entries.get(f"etag:{obj.etag}:{info.size}") if obj.etag else None]
    for entry in candidates:
        if entry is not None and entry.decision == "block" and policy.known_content.block_identical:
            reason = f"identical to blocked {entry.record_id}"
            return KnownVerdict(entry, _decided("block", policy, reason), reason)
    sha_entry = candidates[0]
    if sha_entry is not None and sha_entry.decision == "pass" and policy.known_content.pass_identical_sha256:
        decision = decide_scanned(policy, sha_entry.scenes)
        reason = f"identical (SHA-256) to {sha_entry.record_id}"
        return KnownVerdict(sha_entry, Decision(decision.value, policy.version, policy.mode,
                                                (reason, *decision.reasons)), reason)
    return None


def _decided(value: str, policy: Policy, reason: str) -> Decision:
    return Decision(value, policy.version, policy.mode, (reason,))  # type: ignore[arg-type]
