"""Scripted verdicts: an image can carry the verdict the emulator should give it.

The script is JSON, a list of {"scene", "label", "suggestion", "rate"} objects, each optionally with
"frame": n to apply to frame n only (an item without "frame" applies to every frame). It is stored in
- PNG (and animated PNG): a tEXt or iTXt chunk with keyword `green-verdict`;
- JPEG: a COM (comment) segment starting `green-verdict:`;
- GIF (also animated): the comment extension, starting `green-verdict:`.

How a script and the frames judged become results: green_emulator.verdicts (the default rule for
scenes a script does not name is there too).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, PngImagePlugin

from green_emulator.verdicts import default_rate, verdicts_for

__all__ = ["SCRIPT_KEYWORD", "ScriptError", "default_rate", "make_image", "read_script", "script_from_image",
           "validate_script", "verdicts_for"]

SCRIPT_KEYWORD = "green-verdict"
COMMENT_PREFIX = SCRIPT_KEYWORD + ":"
JPEG_PREFIX = COMMENT_PREFIX  # the name older callers know
SUGGESTIONS = ("pass", "review", "block")
RESULT_FIELDS = ("scene", "label", "suggestion", "rate")
SCRIPTABLE = ("PNG", "JPEG", "GIF")
ANIMATABLE = ("PNG", "GIF", "WEBP")


class ScriptError(ValueError):
    """The image carries a green-verdict script that is not a valid list of verdicts."""


def validate_script(script: Any) -> list[dict[str, Any]]:
    """Check the shape and return the verdicts with exactly the wire fields (rate as a float), plus
    "frame" where an item targets one."""
    if not isinstance(script, list):
        raise ScriptError("a green-verdict script must be a JSON list of objects")
    verdicts: list[dict[str, Any]] = []
    for index, item in enumerate(script):
        if not isinstance(item, dict):
            raise ScriptError(f"verdict {index} is not an object")
        missing = [name for name in RESULT_FIELDS if name not in item]
        if missing:
            raise ScriptError(f"verdict {index} lacks {', '.join(missing)}")
        if item["suggestion"] not in SUGGESTIONS:
            raise ScriptError(f"verdict {index} suggestion must be one of {', '.join(SUGGESTIONS)}")
        rate = item["rate"]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 100:
            raise ScriptError(f"verdict {index} rate must be a number from 0 to 100")
        verdict = {"scene": str(item["scene"]), "label": str(item["label"]), "suggestion": item["suggestion"],
                   "rate": float(rate)}
        if "frame" in item:
            frame = item["frame"]
            if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
                raise ScriptError(f"verdict {index} frame must be an integer >= 0")
            verdict["frame"] = frame
        verdicts.append(verdict)
    return verdicts


def _picture(size: tuple[int, int], rng: random.Random, index: int) -> Image.Image:
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = rng.randrange(x0, size[0] + 1), rng.randrange(y0, size[1] + 1)
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    if index:  # a marker pixel no two frames share: encoders merge identical frames, which would lose one
        image.putpixel((0, 0), (index % 256, index // 256 % 256, 255 - index % 256))
    return image


def make_image(
    verdicts: Sequence[dict[str, Any]] | None = None,
    *,
    fmt: str = "PNG",
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
    frames: int = 1,
) -> bytes:
    """A small real image (colours drawn from `seed`), carrying `verdicts` as a script when given.

    Scripts can be embedded in PNG, JPEG and GIF; `frames` > 1 makes an animated GIF, PNG (APNG)
    or WEBP with frames that all differ.
    """
    fmt = fmt.upper()
    fmt = "JPEG" if fmt == "JPG" else fmt
    if frames < 1:
        raise ValueError("frames must be >= 1")
    if frames > 1 and fmt not in ANIMATABLE:
        raise ValueError(f"animated images can be {', '.join(ANIMATABLE)}, not {fmt}")
    if verdicts is not None and fmt not in SCRIPTABLE:
        raise ValueError(f"verdict scripts can be embedded in PNG, JPEG or GIF only, not {fmt}")
    rng = random.Random(seed)
    pictures = [_picture(size, rng, index) for index in range(frames)]
    script = None if verdicts is None else json.dumps(validate_script(list(verdicts)), separators=(",", ":"))
    options: dict[str, Any] = {}
    if frames > 1:
        options.update(save_all=True, append_images=pictures[1:], duration=100, loop=0)
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if script is not None:
            info.add_itxt(SCRIPT_KEYWORD, script)
        options["pnginfo"] = info
    elif fmt == "JPEG":
        options["quality"] = 90
    elif fmt == "WEBP" and frames > 1:
        options["lossless"] = True  # lossy frames that come out alike would be merged
    if script is not None and fmt in ("JPEG", "GIF"):
        options["comment"] = (COMMENT_PREFIX + script).encode("utf-8")
    out = io.BytesIO()
    pictures[0].save(out, fmt, **options)
    return out.getvalue()


def script_from_image(image: Image.Image) -> list[dict[str, Any]] | None:
    """The script carried by an opened image (read before any seek), None when it carries none;
    ScriptError when malformed."""
    raw: str | None = None
    if image.format == "PNG":
        value = image.info.get(SCRIPT_KEYWORD)
        raw = None if value is None else str(value)
    elif image.format == "JPEG":
        for marker, data in getattr(image, "applist", []):
            if marker == "COM" and data.startswith(COMMENT_PREFIX.encode("ascii")):
                raw = data[len(COMMENT_PREFIX):].decode("utf-8", "replace")
                break
    elif image.format == "GIF":
        comment = image.info.get("comment")
        if isinstance(comment, bytes) and comment.startswith(COMMENT_PREFIX.encode("ascii")):
            raw = comment[len(COMMENT_PREFIX):].decode("utf-8", "replace")
    if raw is None:
        return None
    try:
        loaded = json.loads(raw)
    except ValueError as exc:
        raise ScriptError(f"green-verdict script is not JSON: {exc}") from exc
    return validate_script(loaded)


def read_script(image_bytes: bytes) -> list[dict[str, Any]] | None:
    """The script embedded in `image_bytes`, or None (also for bytes that are not an image)."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            return script_from_image(image)
    except (OSError, Image.DecompressionBombError):
        return None
