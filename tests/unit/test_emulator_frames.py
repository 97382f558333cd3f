"""Multi-frame images, frame-targeted scripts, request-body fields (interval, maxFrames, bizType, oss://)
and presigned-URL expiry, without a server."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from green_emulator.bodies import BadRequest, image_count, parse_scan_body
from green_emulator.downloads import decode, presigned_url_expired
from green_emulator.scripting import ScriptError, make_image, read_script, validate_script
from green_emulator.verdicts import default_rate, frame_url, judged_frames, verdicts_for

BLOCK_FRAME_4 = {"scene": "porn", "label": "porn", "suggestion": "block", "rate": 97.5, "frame": 4}
REVIEW_FRAME_2 = {"scene": "porn", "label": "sexy", "suggestion": "review", "rate": 99.5, "frame": 2}


@pytest.mark.parametrize(("frames", "interval", "max_frames", "judged"), [
    (10, None, 100, [0]),  # no interval: Green does not split
    (10, 2, 100, [0, 2, 4, 6, 8]),
    (10, 1, 3, [0, 4, 8]),  # 1 * 3 < 10: the step rises to ceil(10 / 3) = 4
    (10, 3, 2, [0, 5]),  # 3 * 2 < 10: step ceil(10 / 2) = 5
    (10, 4, 5, [0, 4, 8]),  # 4 * 5 >= 10: the interval stands
    (1, 2, 100, [0]),
    (5, 10, 100, [0]),
])
def test_judged_frames(frames: int, interval: int | None, max_frames: int, judged: list[int]) -> None:
    assert judged_frames(frames, interval, max_frames) == judged


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_make_image_builds_animations_with_every_frame_kept(fmt: str) -> None:
    image = make_image(fmt=fmt, frames=7, seed=2)

    with Image.open(io.BytesIO(image)) as opened:
        assert (opened.format, getattr(opened, "n_frames", 1)) == (fmt, 7)
    assert decode(image).code == 200


@pytest.mark.parametrize("fmt", ["GIF", "PNG"])
def test_frame_targeted_scripts_survive_in_animations(fmt: str) -> None:
    script = [BLOCK_FRAME_4, {"scene": "ad", "label": "ad", "suggestion": "review", "rate": 80}]

    image = make_image(script, fmt=fmt, frames=6)

    assert read_script(image) == [BLOCK_FRAME_4, {"scene": "ad", "label": "ad", "suggestion": "review", "rate": 80.0}]


def test_single_frame_gif_carries_a_script_and_other_formats_refuse() -> None:
    block = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.0}]

    assert read_script(make_image(block, fmt="GIF")) == block
    with pytest.raises(ValueError, match="PNG, JPEG or GIF"):
        make_image(block, fmt="WEBP")
    with pytest.raises(ValueError, match="animated"):
        make_image(fmt="JPEG", frames=2)


@pytest.mark.parametrize("frame", [-1, "2", True, 1.5])
def test_bad_frame_keys_are_script_errors(frame: Any) -> None:
    with pytest.raises(ScriptError, match="frame"):
        validate_script([{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 9, "frame": frame}])


def test_a_scene_takes_its_worst_judged_frame_and_lists_the_frames_not_normal() -> None:
    image = make_image([BLOCK_FRAME_4, REVIEW_FRAME_2], fmt="GIF", frames=6)
    script = read_script(image)
    urls = frame_url("img-task")

    split = verdicts_for(image, ["porn", "ad"], script, judged_frames(6, 2), urls)
    first_only = verdicts_for(image, ["porn"], script)
    skipping_4 = verdicts_for(image, ["porn"], script, judged_frames(6, 3), urls)

    assert split[0] == {"scene": "porn", "label": "porn", "suggestion": "block", "rate": 97.5,
                        "frames": [{"url": urls(2), "rate": 99.5}, {"url": urls(4), "rate": 97.5}]}
    assert split[1] == {"scene": "ad", "label": "normal", "suggestion": "pass", "rate": default_rate(image, "ad")}
    assert first_only == [{"scene": "porn", "label": "normal", "suggestion": "pass",
                           "rate": default_rate(image, "porn")}]
    assert skipping_4[0]["suggestion"] == "pass" and "frames" not in skipping_4[0]  # frames 0 and 3 judged
    assert urls(4) == "http://127.0.0.1/green-emulator/frames/img-task/4.jpg"


def test_a_whole_image_item_applies_to_every_frame_and_a_frame_item_overrides_it() -> None:
    whole = {"scene": "porn", "label": "sexy", "suggestion": "review", "rate": 70.0}
    override = {"scene": "porn", "label": "normal", "suggestion": "pass", "rate": 99.0, "frame": 0}

    results = verdicts_for(b"img", ["porn"], [whole, override], [0, 1, 2], frame_url("t"))

    assert results[0]["suggestion"] == "review" and results[0]["rate"] == 70.0
    assert [frame["url"] for frame in results[0]["frames"]] == [frame_url("t")(1), frame_url("t")(2)]


def test_gif_pixel_limit() -> None:
    over, at_limit = io.BytesIO(), io.BytesIO()
    Image.new("P", (2049, 2048)).save(over, "GIF")
    Image.new("P", (2048, 2048)).save(at_limit, "GIF")

    assert (decode(over.getvalue()).code, decode(over.getvalue()).msg) == (480, "GIF_TOO_MUCH_PIXELS")
    assert decode(at_limit.getvalue()).code == 200


# -- request bodies ------------------------------------------------------------------------------------

def body(**task: Any) -> bytes:
    return json.dumps({"scenes": ["porn"], "tasks": [{"url": "https://127.0.0.1/a.gif", **task}]}).encode()


@pytest.mark.parametrize(("task", "named"), [
    ({"interval": 0}, "tasks[0].interval"),
    ({"interval": "2"}, "tasks[0].interval"),
    ({"interval": True}, "tasks[0].interval"),
    ({"interval": 1.5}, "tasks[0].interval"),
    ({"maxFrames": -3}, "tasks[0].maxFrames"),
    ({"maxFrames": None, "interval": [1]}, "tasks[0].interval"),
    ({"url": "oss://bucket/key.png"}, "oss://"),
])
def test_bad_task_fields_are_bad_requests(task: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_scan_body(body(**task), asynchronous=False)


def test_interval_and_max_frames_are_read_with_greens_default() -> None:
    parsed = parse_scan_body(body(interval=2), asynchronous=False)
    both = parse_scan_body(body(interval=1, maxFrames=5), asynchronous=False)

    assert (parsed.tasks[0].interval, parsed.tasks[0].max_frames) == (2, 100)
    assert (both.tasks[0].interval, both.tasks[0].max_frames) == (1, 5)


def test_a_known_biz_type_replaces_the_scenes_and_an_unknown_one_keeps_them() -> None:
    biz_types = {"strict": ("porn", "terrorism")}
    known = parse_scan_body(b'{"bizType":"strict","scenes":["ad"],"tasks":[{"url":"http://h/a"}]}', asynchronous=True)
    unknown = parse_scan_body(b'{"bizType":"other","scenes":["ad"],"tasks":[{"url":"http://h/a"}]}', asynchronous=True)

    assert known.scenes_for(biz_types) == ("porn", "terrorism")
    assert unknown.scenes_for(biz_types) == ("ad",)


def test_image_count_is_the_number_of_tasks() -> None:
    assert image_count(body()) == 1
    assert image_count(b'{"tasks":[{},{},{}]}') == 3
    assert image_count(b"not json") == 1 and image_count(b'["img1","img2"]') == 1


# -- presigned URL expiry --------------------------------------------------------------------------------

SIGNED_AT = 1_800_000_000  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(("url", "now", "expired"), [
    ("http://h/b/k?X-Amz-Algorithm=AWS4&X-Amz-Date=20270115T080000Z&X-Amz-Expires=60&X-Amz-Signature=s",
     SIGNED_AT + 59, False),
    ("http://h/b/k?X-Amz-Algorithm=AWS4&X-Amz-Date=20270115T080000Z&X-Amz-Expires=60&X-Amz-Signature=s",
     SIGNED_AT + 61, True),
    ("http://h/b/k?AWSAccessKeyId=a&Signature=s&Expires=1800000060", SIGNED_AT + 61, True),
    ("http://h/b/k?AWSAccessKeyId=a&Signature=s&Expires=1800000060", SIGNED_AT, False),
    ("http://h/b/k.png", SIGNED_AT * 2, False),
    ("http://h/b/k?X-Amz-Date=garbage&X-Amz-Expires=60", SIGNED_AT, False),
])
def test_presigned_url_expiry(url: str, now: float, expired: bool) -> None:
    assert presigned_url_expired(url, now) is expired
