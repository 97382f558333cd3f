"""Whether an object is worth a Green scan: its type by content, the event's precheck, the head's verdict."""

from __future__ import annotations

import pytest

from green_emulator import make_image
from greenlight.domain.identity import ObjectRef
from greenlight.domain.inspection import (
    ACCESS_DENIED,
    MISSING,
    OVERWRITTEN,
    SNIFF_BYTES,
    NotScannable,
    ObjectInfo,
    judge_head,
    precheck,
    sniff_image,
)
from greenlight.domain.states import TERMINAL, State

MAX = 1000


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_every_format_green_takes_is_recognised_by_its_first_bytes(fmt: str) -> None:
    assert sniff_image(make_image(fmt=fmt)[:SNIFF_BYTES]) == fmt.lower()


@pytest.mark.parametrize("head", [
    b"", b"<html>", b"%PDF-1.7", b"II*\x00", b"RIFF\x00\x00\x00\x00WAVE", b"BM", b"GIF88a",
    b"\x89PNG\r\n", b"\xff\xd8", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
], ids=["empty", "html", "pdf", "tiff", "wav", "bm-only", "gif-bad-version", "png-cut", "jpeg-cut", "svg"])
def test_other_content_is_not_an_image(head: bytes) -> None:
    assert sniff_image(head) is None


@pytest.mark.parametrize(("obj", "expected"), [
    (ObjectRef("b", "photos/", size=0), NotScannable(State.SKIPPED, "folder_marker")),
    (ObjectRef("b", "photos/a.png", size=0), NotScannable(State.SKIPPED, "zero_bytes")),
    (ObjectRef("b", "photos/a.png", size=MAX + 1), NotScannable(State.SKIPPED, "too_large", {"size": MAX + 1})),
    (ObjectRef("b", "photos/a.png", size=MAX), None),
    (ObjectRef("b", "photos/a.png", size=None), None),  # the event did not say: the object is read
    (ObjectRef("b", "notes.txt", size=10), None),  # the name decides nothing; the bytes will
], ids=["folder", "empty", "too-large", "at-the-cap", "size-unknown", "any-name"])
def test_precheck_decides_what_the_event_alone_tells(obj: ObjectRef, expected: NotScannable | None) -> None:
    assert precheck(obj, MAX) == expected


def test_judge_head_trusts_the_bytes_not_the_declared_type() -> None:
    png = make_image(fmt="PNG")[:SNIFF_BYTES]

    assert judge_head(500, "text/plain", png, MAX) == ObjectInfo(500, "text/plain", "png")
    assert judge_head(500, "image/png", b"<html><body>", MAX) == NotScannable(
        State.SKIPPED, "not_an_image", {"size": 500, "content_type": "image/png"})


@pytest.mark.parametrize(("size", "expected"), [
    (0, NotScannable(State.SKIPPED, "zero_bytes")),
    (MAX + 1, NotScannable(State.SKIPPED, "too_large", {"size": MAX + 1, "content_type": "image/gif"})),
    (MAX, ObjectInfo(MAX, "image/gif", "gif")),
])
def test_judge_head_checks_the_real_size_against_the_cap(size: int, expected: ObjectInfo | NotScannable) -> None:
    assert judge_head(size, "image/gif", make_image(fmt="GIF")[:SNIFF_BYTES], MAX) == expected


def test_what_a_scan_records_about_an_object() -> None:
    assert ObjectInfo(500, None, "webp").details() == {"size": 500, "content_type": None, "image_format": "webp"}


def test_what_reading_found_instead_of_bytes_ends_the_record() -> None:
    assert (MISSING.state, MISSING.reason) == (State.SKIPPED, "object_missing")
    assert (OVERWRITTEN.state, OVERWRITTEN.reason) == (State.SUPERSEDED, "overwritten_before_scan")
    assert (ACCESS_DENIED.state, ACCESS_DENIED.reason) == (State.ERROR, "access_denied")
    assert {MISSING.state, OVERWRITTEN.state, ACCESS_DENIED.state} <= TERMINAL
