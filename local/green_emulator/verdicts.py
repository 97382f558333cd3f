"""From a script (or none) to per-scene results, frame by frame for multi-frame images.

DEFAULT RULE for a scene the script does not name: label "normal", suggestion "pass", and
rate = 90 + (first 8 bytes of sha256(image bytes + b"\\0" + scene), big-endian, mod 1000) / 100,
a value in [90, 99.99] fixed for the image bytes and the scene (the same for every frame).

FRAMES (docs/green-protocol.md, Request bodies, interval and maxFrames): without `interval` only
frame 0 is judged, as Green splits an animated image only when asked. With it, frames 0, step,
2*step, ... are judged, at most maxFrames, where step = interval, raised to ceil(frames / maxFrames)
when interval * maxFrames < frames. A scene's verdict is its worst judged frame (block > review >
pass, then the higher rate, then the earlier frame), with that frame's label and rate.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from green_emulator.protocol import DEFAULT_MAX_FRAMES, SUGGESTION_RANK

FrameUrl = Callable[[int], str]


def default_rate(image_bytes: bytes, scene: str) -> float:
    digest = hashlib.sha256(image_bytes + b"\0" + scene.encode("utf-8")).digest()
    return 90 + (int.from_bytes(digest[:8], "big") % 1000) / 100


def judged_frames(frame_count: int, interval: int | None, max_frames: int = DEFAULT_MAX_FRAMES) -> list[int]:
    """The frame indexes Green looks at, in order."""
    if interval is None or frame_count <= 1:
        return [0]
    step = interval
    if interval * max_frames < frame_count:
        step = math.ceil(frame_count / max_frames)
    return list(range(0, frame_count, step))[:max_frames]


def frame_url(task_id: str) -> FrameUrl:
    """Inert loopback-looking URLs for judged frames; nothing serves them and nothing fetches them
    (Green's real ones point at its own storage and last about five minutes)."""
    return lambda index: f"http://127.0.0.1/green-emulator/frames/{task_id}/{index}.jpg"


def _verdict(image_bytes: bytes, scene: str, frame: int, script: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An item for this frame, else one for the whole image (no "frame" key), else the default rule;
    when a script names a scene twice, the later item wins."""
    targeted: dict[str, Any] | None = None
    whole: dict[str, Any] | None = None
    for item in script:
        if item["scene"] == scene and item.get("frame") == frame:
            targeted = item
        elif item["scene"] == scene and "frame" not in item:
            whole = item
    chosen = targeted if targeted is not None else whole
    if chosen is not None:
        return chosen
    return {"scene": scene, "label": "normal", "suggestion": "pass", "rate": default_rate(image_bytes, scene)}


def _severity(pair: tuple[int, dict[str, Any]]) -> tuple[int, float, int]:
    frame, verdict = pair
    return SUGGESTION_RANK[verdict["suggestion"]], verdict["rate"], -frame


def verdicts_for(
    image_bytes: bytes,
    scenes: Iterable[str],
    script: Sequence[dict[str, Any]] | None,
    frames: Sequence[int] = (0,),
    frame_urls: FrameUrl | None = None,
) -> list[dict[str, Any]]:
    """One result per requested scene, in request order; scripted scenes not requested are left out.

    With `frame_urls` (the image was split into frames), a result whose judged frames include some
    not labelled "normal" carries `frames: [{"url", "rate"}]` for those frames.
    """
    results: list[dict[str, Any]] = []
    for scene in scenes:
        per_frame = [(frame, _verdict(image_bytes, scene, frame, script or ())) for frame in frames]
        _, worst = max(per_frame, key=_severity)
        result = {"scene": scene, "label": worst["label"], "suggestion": worst["suggestion"], "rate": worst["rate"]}
        if frame_urls is not None:
            flagged = [{"url": frame_urls(frame), "rate": verdict["rate"]}
                       for frame, verdict in per_frame if verdict["label"] != "normal"]
            if flagged:
                result["frames"] = flagged
        results.append(result)
    return results
