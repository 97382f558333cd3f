"""What happened to each dataId: the tasks Green accepted for it, the faults injected on it, how its
tasks finished, and which results were handed over (a callback answered 200, or a results answer).

For harnesses that check a pipeline against what Green really did (the chaos run): "at most N tasks
per object version", "an ERROR only where Green never handed a verdict over", "a SKIPPED with code
589 only where 589 was injected" all need per-dataId facts that the aggregate counters do not keep.
Read with `RunningEmulator.data_ids()` or `GET /_emulator/data-ids`; `reset()` forgets it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DataIdFacts:
    tasks: list[str] = field(default_factory=list)  # accepted task ids, in order (async tasks and sync scans)
    faults: Counter[str] = field(default_factory=Counter)  # fault kind -> times injected on this dataId
    codes: Counter[int] = field(default_factory=Counter)  # per-task codes injected by task faults
    finished: Counter[int] = field(default_factory=Counter)  # per-task code each accepted task finished with
    handed: Counter[str] = field(default_factory=Counter)  # "callback:200", "results:594", ... (answers given)

    def to_json(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), "faults": dict(self.faults),
                "codes": {str(code): n for code, n in self.codes.items()},
                "finished": {str(code): n for code, n in self.finished.items()},
                "handed": dict(self.handed)}


class Ledger:
    """Thread-safe facts per dataId (tasks without a dataId are not tracked)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[str, DataIdFacts] = {}
        self._data_id_of: dict[str, str] = {}  # task id -> dataId

    def _for(self, data_id: str) -> DataIdFacts:
        facts = self._facts.get(data_id)
        if facts is None:
            facts = self._facts[data_id] = DataIdFacts()
        return facts

    def accepted(self, data_id: str | None, task_id: str) -> None:
        if data_id is None:
            return
        with self._lock:
            self._for(data_id).tasks.append(task_id)
            self._data_id_of[task_id] = data_id

    def fault(self, data_id: str | None, kind: str, code: int | None = None) -> None:
        if data_id is None:
            return
        with self._lock:
            facts = self._for(data_id)
            facts.faults[kind] += 1
            if code is not None:
                facts.codes[code] += 1

    def task_fault(self, task_id: str, kind: str) -> None:
        with self._lock:
            data_id = self._data_id_of.get(task_id)
            if data_id is not None:
                self._for(data_id).faults[kind] += 1

    def finished(self, data_id: str | None, code: int) -> None:
        if data_id is None:
            return
        with self._lock:
            self._for(data_id).finished[code] += 1

    def handed(self, item: dict[str, Any], via: str) -> None:
        """A per-task item given to the client: in a results answer, or by a callback answered 200."""
        task_id = item.get("taskId")
        with self._lock:
            data_id = item.get("dataId") or (self._data_id_of.get(task_id) if isinstance(task_id, str) else None)
            if isinstance(data_id, str):
                self._for(data_id).handed[f"{via}:{item.get('code')}"] += 1

    def scan_request_fault(self, body: bytes, kind: str) -> None:
        """A whole-request fault on a scan request: counted on every dataId the request carried."""
        for data_id in data_ids_in(body):
            self.fault(data_id, kind)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {data_id: facts.to_json() for data_id, facts in self._facts.items()}

    def clear(self) -> None:
        with self._lock:
            self._facts.clear()
            self._data_id_of.clear()


def data_ids_in(body: bytes) -> list[str]:
    """The dataIds of a scan request's tasks (none for a body that is not one)."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return []
    tasks = payload.get("tasks") if isinstance(payload, dict) else None
    if not isinstance(tasks, list):
        return []
    return [t["dataId"] for t in tasks if isinstance(t, dict) and isinstance(t.get("dataId"), str)]
