"""What the run uploads, drawn from the seed before anything starts, and the verdict each write deserves.

The expected verdict of every write comes from here, not from the system under test: the harness
scripts the verdict into the bytes (green_emulator.make_image), so it knows what Green must find.

Item kinds (one item = one key and a scripted sequence of writes to it):
- image: a PNG or JPEG whose script says pass, review or block;
- gif_late_frame: an animated GIF (6 frames) whose only bad content is in a later frame: block;
- gif_clean: an animated GIF with nothing bad: pass;
- non_image: text bytes labelled image/png: SKIPPED not_an_image;
- versioned_overwrite: an image, then another version with another verdict while the first is pending;
- versioned_delete: an image whose version is deleted right after the upload (before Green fetches it);
- unversioned_single: an image in the unversioned bucket;
- unversioned_flip: in the unversioned bucket, BAD, at once overwritten with BENIGN, then BAD again;
- unversioned_delete: an image in the unversioned bucket, deleted right after the upload.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from green_emulator import make_image
from greenlight_local.chaos.config import PHASES, ChaosConfig

VERSIONED, UNVERSIONED = "versioned", "unversioned"
BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.0}]
REVIEW = [{"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 77.0}]
SCRIPTS: dict[str, list[dict[str, object]] | None] = {"pass": None, "review": REVIEW, "block": BLOCK}
KINDS = ("image", "gif_late_frame", "gif_clean", "non_image", "versioned_overwrite", "versioned_delete",
         "unversioned_single", "unversioned_flip", "unversioned_delete")
# Chance of each kind after the first of every kind (image takes the rest).
KIND_RATES = {"gif_late_frame": 0.03, "gif_clean": 0.01, "non_image": 0.03, "versioned_overwrite": 0.05,
              "versioned_delete": 0.03, "unversioned_single": 0.04, "unversioned_flip": 0.04,
              "unversioned_delete": 0.01}
KEY_FLAVOURS = ("a", "b b", "ü", "x+y")  # a space, a non-ASCII letter and a plus: S3 encodes keys in events


@dataclass(frozen=True)
class Content:
    kind: str  # png | jpeg | gif | text
    suggestion: str  # what Green must find in the bytes ("" for text)
    seed: int
    frames: int = 1
    bad_frame: int | None = None  # gif: the only frame with bad content

    @cached_property
    def body(self) -> bytes:
        if self.kind == "text":
            return b"just text, not an image " * 4 + str(self.seed).encode()
        if self.kind == "gif":
            script = None if self.bad_frame is None else [{**BLOCK[0], "frame": self.bad_frame}]
            return make_image(script, fmt="GIF", frames=self.frames, seed=self.seed)
        return make_image(SCRIPTS[self.suggestion], fmt=self.kind.upper(), seed=self.seed)

    @property
    def content_type(self) -> str:
        return {"jpeg": "image/jpeg", "gif": "image/gif"}.get(self.kind, "image/png")

    @property
    def expected(self) -> tuple[str, str]:
        """(state, suggestion or skip reason) the version deserves."""
        return ("SKIPPED", "not_an_image") if self.kind == "text" else ("FINAL", self.suggestion)


@dataclass(frozen=True)
class Step:
    action: str  # put | delete (the version the previous put made)
    after: float  # seconds after the previous step of the item
    content: Content | None = None


@dataclass(frozen=True)
class Item:
    index: int
    phase: str
    kind: str
    bucket: str  # VERSIONED | UNVERSIONED
    key: str
    steps: tuple[Step, ...]


def _image(rng: random.Random, suggestion: str | None = None) -> Content:
    return Content(rng.choice(["png", "png", "jpeg"]), suggestion or rng.choice(["pass", "pass", "review", "block"]),
                   rng.randrange(1 << 30))


def _steps(kind: str, rng: random.Random) -> tuple[str, tuple[Step, ...]]:
    if kind == "gif_late_frame":
        return VERSIONED, (Step("put", 0, Content("gif", "block", rng.randrange(1 << 30), 6, rng.randrange(2, 6))),)
    if kind == "gif_clean":
        return VERSIONED, (Step("put", 0, Content("gif", "pass", rng.randrange(1 << 30), 4)),)
    if kind == "non_image":
        return VERSIONED, (Step("put", 0, Content("text", "", rng.randrange(1 << 30))),)
    if kind == "versioned_overwrite":
        first = _image(rng)
        second = _image(rng, "block" if first.suggestion != "block" else "pass")
        return VERSIONED, (Step("put", 0, first), Step("put", rng.uniform(0.2, 1.0), second))
    if kind == "versioned_delete":
        return VERSIONED, (Step("put", 0, _image(rng)), Step("delete", rng.uniform(0, 0.05)))
    if kind == "unversioned_single":
        return UNVERSIONED, (Step("put", 0, _image(rng)),)
    if kind == "unversioned_flip":
        bad, benign = _image(rng, "block"), _image(rng, "pass")
        return UNVERSIONED, (Step("put", 0, bad), Step("put", 0, benign), Step("put", rng.uniform(0.3, 1.5), bad))
    if kind == "unversioned_delete":
        return UNVERSIONED, (Step("put", 0, _image(rng)), Step("delete", rng.uniform(0, 0.05)))
    return VERSIONED, (Step("put", 0, _image(rng)),)


def phase_sizes(total: int) -> list[tuple[str, int]]:
    sizes = [(name, max(1, round(total * share))) for name, share in PHASES]
    sizes[0] = (sizes[0][0], max(1, total - sum(n for _, n in sizes[1:])))
    return sizes


def build_plan(config: ChaosConfig) -> list[Item]:
    """Every item, in upload order. The first items of the steady phase are one of each kind, so even
    a small run has every kind; the rest are drawn from KIND_RATES."""
    rng = random.Random(config.seed)
    items: list[Item] = []
    index = 0
    for phase, size in phase_sizes(config.uploads):
        for _ in range(size):
            if phase == "steady" and index < len(KINDS):
                kind = KINDS[index]
            else:
                draw, kind = rng.random(), "image"
                for name, rate in KIND_RATES.items():
                    if draw < rate:
                        kind = name
                        break
                    draw -= rate
            bucket, steps = _steps(kind, rng)
            key = f"chaos/{phase}/{index:05d}-{rng.choice(KEY_FLAVOURS)}.{_extension(steps)}"
            items.append(Item(index, phase, kind, bucket, key, steps))
            index += 1
    return items


def _extension(steps: tuple[Step, ...]) -> str:
    content = steps[0].content
    return "gif" if content and content.kind == "gif" else "png"
