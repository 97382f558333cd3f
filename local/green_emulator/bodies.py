"""Request bodies as Green validates them (docs/green-protocol.md, Request bodies): a malformed one is
refused with body code 400 and a message naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from green_emulator.protocol import DEFAULT_MAX_FRAMES, KNOWN_SCENES, MAX_TASKS, MAX_URL_LENGTH, SCENE_ORDER

# Why oss:// is refused: the product only ever sends presigned HTTPS S3 URLs, and an oss:// URL would
# need Alibaba's own object store, which nothing local stands in for.
OSS_REFUSED = "oss:// URLs are not supported by the emulator (it fetches http(s) URLs only)"


class BadRequest(Exception):
    """A body that Green would refuse with code 400; the message names the field."""


@dataclass(frozen=True)
class TaskSpec:
    url: str
    data_id: str | None
    interval: int | None = None  # judge every interval-th frame; None: the first frame only
    max_frames: int = DEFAULT_MAX_FRAMES


@dataclass(frozen=True)
class ScanRequest:
    tasks: list[TaskSpec]
    scenes: tuple[str, ...]
    callback: str | None
    seed: str | None
    biz_type: str | None

    def scenes_for(self, biz_types: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
        """A known bizType stands for its configured scenes; an unknown one (or none) leaves the
        request's scenes in force, as Green's default policy does for a bizType without settings."""
        if self.biz_type is not None and self.biz_type in biz_types:
            return tuple(dict.fromkeys(biz_types[self.biz_type]))
        return self.scenes


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not valid UTF-8 JSON") from exc


def _http_url(value: Any) -> TypeGuard[str]:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _positive_int(task: Mapping[str, Any], name: str, index: int) -> int | None:
    value = task.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"tasks[{index}].{name} must be a positive integer")
    return value


def _task(index: int, task: Any) -> TaskSpec:
    if not isinstance(task, dict):
        raise BadRequest(f"tasks[{index}] must be an object")
    url = task.get("url")
    if isinstance(url, str) and url.lower().startswith("oss://"):
        raise BadRequest(f"tasks[{index}].url: {OSS_REFUSED}")
    if not _http_url(url):
        raise BadRequest(f"tasks[{index}].url must be an http(s) URL")
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"tasks[{index}].url is longer than {MAX_URL_LENGTH} characters")
    data_id = task.get("dataId")
    if data_id is not None and not isinstance(data_id, str):
        raise BadRequest(f"tasks[{index}].dataId must be a string")
    interval = _positive_int(task, "interval", index)
    max_frames = _positive_int(task, "maxFrames", index)
    return TaskSpec(url=url, data_id=data_id, interval=interval, max_frames=max_frames or DEFAULT_MAX_FRAMES)


def parse_scan_body(body: bytes, *, asynchronous: bool) -> ScanRequest:
    """Validate a scan or asyncscan body, or raise BadRequest."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    scenes = payload.get("scenes")
    if not isinstance(scenes, list) or not scenes or not all(isinstance(s, str) for s in scenes):
        raise BadRequest("scenes must be a non-empty list of scene names")
    unknown = sorted(set(scenes) - KNOWN_SCENES)
    if unknown:
        raise BadRequest(f"scenes holds unknown scene {unknown[0]!r}; known: {', '.join(SCENE_ORDER)}")
    biz_type = payload.get("bizType")
    if biz_type is not None and not isinstance(biz_type, str):
        raise BadRequest("bizType must be a string")
    tasks = payload.get("tasks")
    if not isinstance(tasks, list) or not 1 <= len(tasks) <= MAX_TASKS:
        raise BadRequest(f"tasks must be a list of 1 to {MAX_TASKS} objects")
    specs = [_task(index, task) for index, task in enumerate(tasks)]
    callback = payload.get("callback") if asynchronous else None
    seed = payload.get("seed") if asynchronous else None
    if callback is not None:
        if not _http_url(callback) or len(callback) > MAX_URL_LENGTH:
            raise BadRequest("callback must be an http(s) URL")
        if not isinstance(seed, str) or not seed:
            raise BadRequest("seed is required when callback is given")
    return ScanRequest(specs, tuple(dict.fromkeys(scenes)), callback, seed if callback is not None else None,
                       biz_type)


def parse_results_body(body: bytes, max_ids: int) -> list[str]:
    payload = load_json(body)
    if (not isinstance(payload, list) or not 1 <= len(payload) <= max_ids
            or not all(isinstance(task_id, str) and task_id for task_id in payload)):
        raise BadRequest(f"body must be a JSON array of 1 to {max_ids} taskId strings")
    return payload


def image_count(body: bytes) -> int:
    """How many images a scan body asks for, as Green counts QPS: one per task (1 for a body that
    will be refused anyway)."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 1
    tasks = payload.get("tasks") if isinstance(payload, dict) else None
    return min(len(tasks), MAX_TASKS) if isinstance(tasks, list) and tasks else 1
