"""An in-memory KnownContentStore (greenlight.ports), held to the DynamoDB one by its contract suite."""

from __future__ import annotations

from collections.abc import Sequence

from greenlight.domain.record import KnownContent


class InMemoryKnownContent:
    def __init__(self) -> None:
        self.entries: dict[str, KnownContent] = {}
        self.lookups = 0

    def put(self, entry: KnownContent) -> None:
        self.entries[entry.key] = entry

    def forget(self, key: str, *, record_id: str) -> bool:
        current = self.entries.get(key)
        if current is not None and current.record_id != record_id:
            return False
        self.entries.pop(key, None)
        return True

    def find(self, keys: Sequence[str]) -> dict[str, KnownContent]:
        self.lookups += 1
        return {key: self.entries[key] for key in keys if key in self.entries}
