"""What one object version is: the identity every verdict record and Green task hangs off.

An S3 object version is told apart by its version id in a versioned bucket. In an unversioned
bucket every write reuses the version id "null", so the ETag alone is not enough either: the same
bytes written again (upload A, overwrite with B, upload A again) must get a verdict of their own,
because the first A may have been judged on B's bytes. S3's sequencer, which increases with every
write to a key, tells those writes apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Sequencers are hex strings of varying length; S3 says to pad the shorter with zeros before comparing.
SEQUENCER_WIDTH = 32
UNVERSIONED = "null"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class ObjectRef:
    """One object version announced by S3 (or found by a listing)."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    event_time: str | None = None

    @property
    def versioned(self) -> bool:
        return bool(self.version_id) and self.version_id != UNVERSIONED

    @property
    def version_token(self) -> str:
        """What tells this version of the key apart: the version id, else the ETag and the write's sequencer."""
        if self.versioned:
            return f"v:{self.version_id}"
        if self.sequencer:
            return f"e:{self.etag or ''}|s:{self.sequencer.upper()}"
        if self.etag:
            return f"e:{self.etag}|t:{self.event_time or ''}"
        return f"t:{self.event_time or ''}"

    @property
    def data_id(self) -> str:
        """The verdict record's id and Green's dataId: stable for one object version."""
        return "v-" + _digest(self.bucket, self.key, self.version_token)

    @property
    def head_id(self) -> str:
        """The id of the record that tracks the newest version seen for this key."""
        return "k-" + _digest(self.bucket, self.key)

    @property
    def order(self) -> str:
        """Sortable position among writes to the same key.

        The S3 sequencer when there is one (the same value however the write is announced, so an S3
        notification and an EventBridge event for one write agree); the event time only without it.
        """
        if self.sequencer:
            return self.sequencer.upper().ljust(SEQUENCER_WIDTH, "0") + "|"
        return "0" * SEQUENCER_WIDTH + "|" + (self.event_time or "")

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"
