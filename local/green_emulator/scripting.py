"""Scripted verdicts: an image can carry the verdict the emulator should give it.

The script is JSON, a list of {"scene", "label", "suggestion", "rate"} objects, stored in
- PNG: a tEXt or iTXt chunk with keyword `green-verdict`;
- JPEG: a COM (comment) segment starting `green-verdict:`.

Requested scenes the script does not name get the DEFAULT RULE: label "normal", suggestion "pass",
and rate = 90 + (first 8 bytes of sha256(image bytes + b"\\0" + scene) as a big-endian integer
mod 1000) / 100, i.e. a value in [90, 99.99] that is the same every time for the same image and scene.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Iterable, Sequence
from typing import Any

from PIL import Image, ImageDraw, PngImagePlugin

SCRIPT_KEYWORD = "green-verdict"
JPEG_PREFIX = SCRIPT_KEYWORD + ":"
SUGGESTIONS = ("pass", "review", "block")
RESULT_FIELDS = ("scene", "label", "suggestion", "rate")


class ScriptError(ValueError):
    """The image carries a green-verdict script that is not a valid list of verdicts."""


def validate_script(script: Any) -> list[dict[str, Any]]:
    """Check the shape and return the verdicts with exactly the wire fields, rate as a float."""
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
        verdicts.append({"scene": str(item["scene"]), "label": str(item["label"]),
                         "suggestion": item["suggestion"], "rate": float(rate)})
    return verdicts


def make_image(
    verdicts: Sequence[dict[str, Any]] | None = None,
    *,
    fmt: str = "PNG",
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
) -> bytes:
    """A small real image (colours drawn from `seed`), carrying `verdicts` as a script when given.

    Scripts can be embedded in PNG and JPEG only; other formats (BMP, GIF, WEBP) are plain images.
    """
    fmt = fmt.upper()
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = rng.randrange(x0, size[0] + 1), rng.randrange(y0, size[1] + 1)
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    script = None if verdicts is None else json.dumps(validate_script(list(verdicts)), separators=(",", ":"))
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        if script is not None:
            info.add_itxt(SCRIPT_KEYWORD, script)
        image.save(out, "PNG", pnginfo=info)
    elif fmt in ("JPEG", "JPG"):
        options: dict[str, Any] = {"quality": 90}
        if script is not None:
            options["comment"] = (JPEG_PREFIX + script).encode("utf-8")
        image.save(out, "JPEG", **options)
    elif script is not None:
        raise ValueError(f"verdict scripts can be embedded in PNG or JPEG only, not {fmt}")
    else:
        image.save(out, fmt)
    return out.getvalue()


def script_from_image(image: Image.Image) -> list[dict[str, Any]] | None:
    """The script carried by an opened image, None when it carries none; ScriptError when malformed."""
    raw: str | None = None
    if image.format == "PNG":
        value = image.info.get(SCRIPT_KEYWORD)
        raw = None if value is None else str(value)
    elif image.format == "JPEG":
        for marker, data in getattr(image, "applist", []):
            if marker == "COM" and data.startswith(JPEG_PREFIX.encode("ascii")):
                raw = data[len(JPEG_PREFIX):].decode("utf-8", "replace")
                break
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


def default_rate(image_bytes: bytes, scene: str) -> float:
    digest = hashlib.sha256(image_bytes + b"\0" + scene.encode("utf-8")).digest()
    return 90 + (int.from_bytes(digest[:8], "big") % 1000) / 100


def verdicts_for(
    image_bytes: bytes, scenes: Iterable[str], script: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """One result per requested scene, in request order: scripted when named, else the default rule."""
    scripted = {verdict["scene"]: verdict for verdict in script or []}
    results: list[dict[str, Any]] = []
    for scene in scenes:
        if scene in scripted:
            results.append(dict(scripted[scene]))
        else:
            results.append({"scene": scene, "label": "normal", "suggestion": "pass",
                            "rate": default_rate(image_bytes, scene)})
    return results
