"""Green's limits, codes, and request and result shapes as typed values (docs/green-protocol.md, §4-§5)."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_TASKS = 100  # images per scan request, task ids per results request
MAX_URL_LENGTH = 2048
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # largest image Green takes, sync or async
REGIONS = ("cn-shanghai", "cn-beijing", "cn-shenzhen", "ap-southeast-1")
KNOWN_SCENES = frozenset({"porn", "terrorism", "ad", "qrcode", "live", "logo"})
SUGGESTION_RANK = {"pass": 0, "review": 1, "block": 2}

# Per-task and top-level body codes (docs/green-protocol.md, §5.5 Code table).
OK = 200
PROCESSING = 280
DOWNLOAD_FAILED_CODES = frozenset({403, 404, 480, 592})  # 401 (insecure URL or redirect) won't pass: INVALID
MAX_FRAMES = 100  # frames to ask Green to check in a multi-frame image (an older doc gives 100 as its default; §4.3)
TOO_LARGE = 589
BAD_FORMAT = 590
EXPIRED = 594
EXCEED_QUOTA = 588
PERMISSION_DENY = 596
TRANSIENT_CODES = frozenset({500, 503, 580, 581, 585, 586, 587, 591})
UNSUPPORTED_CODES = frozenset({TOO_LARGE, BAD_FORMAT, 595})


class TaskOutcome(enum.Enum):
    """What a per-task code means for the object it belongs to."""

    DONE = "done"  # results are in
    PROCESSING = "processing"  # ask again later
    RETRY = "retry"  # Green lost it or failed: scan again with a fresh URL
    FETCH_FAILED = "fetch_failed"  # Green could not download it: scan again, unless the version is gone
    UNSUPPORTED = "unsupported"  # Green cannot take this content: a final SKIPPED
    INVALID = "invalid"  # our request for this task was wrong: a final ERROR


def classify_task_code(code: int) -> TaskOutcome:
    if code == OK:
        return TaskOutcome.DONE
    if code == PROCESSING:
        return TaskOutcome.PROCESSING
    if code in UNSUPPORTED_CODES:
        return TaskOutcome.UNSUPPORTED
    if code in DOWNLOAD_FAILED_CODES:
        return TaskOutcome.FETCH_FAILED
    if code in TRANSIENT_CODES or code in (EXPIRED, EXCEED_QUOTA):
        return TaskOutcome.RETRY
    return TaskOutcome.INVALID


@dataclass(frozen=True)
class ScanTask:
    """One image to scan. `data_id` ties the task back to our verdict record."""

    data_id: str
    url: str
    interval: int | None = None
    max_frames: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"dataId": self.data_id, "url": self.url}
        if self.interval is not None:
            wire["interval"] = self.interval
        if self.max_frames is not None:
            wire["maxFrames"] = self.max_frames
        return wire


@dataclass(frozen=True)
class SceneResult:
    scene: str
    label: str
    suggestion: str
    rate: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> SceneResult:
        known = {"scene", "label", "suggestion", "rate"}
        try:
            rate = float(item.get("rate") or 0.0)
        except (TypeError, ValueError) as exc:
            raise ValueError("scene rate is not a number") from exc
        if not math.isfinite(rate) or not 0.0 <= rate <= 100.0:
            raise ValueError("scene rate is not between 0 and 100")
        return cls(
            scene=str(item.get("scene", ""))[:64],
            label=str(item.get("label", ""))[:64],
            suggestion=str(item.get("suggestion", ""))[:16],
            rate=rate,
            extra={k: v for k, v in item.items() if k not in known},
        )

    def to_wire(self) -> dict[str, Any]:
        return {"scene": self.scene, "label": self.label, "suggestion": self.suggestion, "rate": self.rate,
                **self.extra}


@dataclass(frozen=True)
class TaskResult:
    """One element of a response's `data` array, or one callback's `content`."""

    code: int
    msg: str
    task_id: str | None = None
    data_id: str | None = None
    url: str | None = None
    results: tuple[SceneResult, ...] = ()

    @property
    def outcome(self) -> TaskOutcome:
        return classify_task_code(self.code)

    @property
    def suggestion(self) -> str | None:
        """Overall suggestion across scenes: block > review > pass; None when there are no results."""
        ranked = [r.suggestion for r in self.results if r.suggestion in SUGGESTION_RANK]
        if not ranked:
            return None
        return max(ranked, key=SUGGESTION_RANK.__getitem__)

    @classmethod
    def from_wire(cls, item: Mapping[str, Any]) -> TaskResult:
        """Build from Green's JSON; raises ValueError when the item is not a task object."""
        if not isinstance(item, Mapping):
            raise ValueError("task result is not an object")
        try:
            code = int(item["code"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError("task result has no integer code") from exc
        raw_results = item.get("results") or []
        if not isinstance(raw_results, list) or not all(isinstance(r, Mapping) for r in raw_results):
            raise ValueError("task results is not a list of objects")

        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else str(value)

        return cls(
            code=code,
            msg=str(item.get("msg", "")),
            task_id=text("taskId"),
            data_id=text("dataId"),
            url=text("url"),
            results=tuple(SceneResult.from_wire(r) for r in raw_results),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code, "msg": self.msg}
        for key, value in (("dataId", self.data_id), ("taskId", self.task_id), ("url", self.url)):
            if value is not None:
                wire[key] = value
        if self.results:
            wire["results"] = [r.to_wire() for r in self.results]
        return wire


@dataclass(frozen=True)
class Feedback:
    """A correction of a machine verdict, sent to /green/image/feedback."""

    task_id: str | None = None
    data_id: str | None = None
    url: str | None = None
    suggestion: str | None = None
    scenes: tuple[str, ...] = ()
    label: str | None = None
    note: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "taskId": self.task_id,
            "dataId": self.data_id,
            "url": self.url,
            "suggestion": self.suggestion,
            "label": self.label,
            "note": self.note,
        }
        if self.scenes:
            wire["scenes"] = list(self.scenes)
        return {k: v for k, v in wire.items() if v is not None}


def task_groups(items: Iterable[Any], size: int = MAX_TASKS) -> Iterator[list[Any]]:
    """Split into lists of at most `size`: Green takes at most 100 tasks, or task ids, a request."""
    group: list[Any] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group
