"""Green behaviours over real HTTP: multi-frame images, bizType, oss:// URLs, and the network model."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from green_emulator import RunningEmulator, make_image
from integration.green_requests import post

pytestmark = pytest.mark.integration
LATE_BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 96.0, "frame": 4}]


def scan(emulator: RunningEmulator, task: dict[str, Any], scenes: list[str] | None = None,
         **extra: Any) -> dict[str, Any]:
    answer = post(emulator, "scan", {"scenes": scenes or ["porn"], "tasks": [task], **extra}).json()
    item: dict[str, Any] = answer["data"][0] if "data" in answer else answer
    return item


def test_a_late_frame_is_judged_only_when_the_request_asks_to_split(emulator: RunningEmulator,
                                                                     image_server: Any) -> None:
    url = image_server.add("/anim.gif", make_image(LATE_BLOCK, fmt="GIF", frames=6), content_type="image/gif")

    unsplit = scan(emulator, {"url": url})
    split = scan(emulator, {"url": url, "interval": 2})
    capped = scan(emulator, {"url": url, "interval": 1, "maxFrames": 2})  # 1 * 2 < 6: frames 0 and 3

    assert unsplit["code"] == 200 and unsplit["results"][0]["suggestion"] == "pass"
    assert "frames" not in unsplit["results"][0]
    assert split["results"][0] == {"scene": "porn", "label": "porn", "suggestion": "block", "rate": 96.0,
                                   "frames": [{"url": "http://127.0.0.1/green-emulator/frames/"
                                                      f"{split['taskId']}/4.jpg", "rate": 96.0}]}
    assert capped["results"][0]["suggestion"] == "pass"
    assert len(image_server.requests_to("/anim.gif")) == 3  # frame URLs are never fetched


def test_a_frame_that_cannot_be_cut_fails_the_task_only_when_frames_are_judged(emulator: RunningEmulator,
                                                                                image_server: Any) -> None:
    animation = make_image(fmt="GIF", frames=6)
    url = image_server.add("/cut.gif", animation[: len(animation) * 3 // 4])  # later frames truncated

    unsplit = scan(emulator, {"url": url})
    split = scan(emulator, {"url": url, "interval": 1})

    assert unsplit["code"] == 200
    assert (split["code"], split["msg"]) == (595, "CATCH_FRAME_FAILED")


def test_async_results_and_callbacks_carry_frames(emulator: RunningEmulator, image_server: Any,
                                                  callback_receiver: Any, wait_until: Callable[..., Any]) -> None:
    url = image_server.add("/anim.gif", make_image(LATE_BLOCK, fmt="GIF", frames=6))
    callback_receiver.add("/hook")
    emulator.set_faults(processing_delay=0)

    task_id = post(emulator, "asyncscan", {"scenes": ["porn"], "callback": callback_receiver.url("/hook"),
                                           "seed": "s", "tasks": [{"url": url, "interval": 4}]}).json()[
        "data"][0]["taskId"]
    done = wait_until(lambda: (r := post(emulator, "results", [task_id]).json()["data"][0])["code"] == 200 and r)
    called = wait_until(lambda: callback_receiver.requests_to("/hook"))
    content = json.loads(parse_qs(called[0].body.decode())["content"][0])

    assert done["results"][0]["suggestion"] == "block" and len(done["results"][0]["frames"]) == 1
    assert content == done


@pytest.mark.parametrize(("task", "named"), [
    ({"interval": "2"}, "tasks[0].interval"), ({"interval": 1, "maxFrames": 0}, "tasks[0].maxFrames"),
    ({"url": "oss://green-bucket/a.png"}, "oss://"),
])
def test_bad_frame_fields_and_oss_urls_are_bad_requests(emulator: RunningEmulator, task: dict[str, Any],
                                                        named: str) -> None:
    answer = scan(emulator, {"url": "https://127.0.0.1/a.gif", **task})

    assert answer["code"] == 400 and named in answer["msg"]


def test_a_known_biz_type_stands_for_its_scenes_and_an_unknown_one_is_ignored(emulator: RunningEmulator,
                                                                             image_server: Any) -> None:
    url = image_server.add("/a.png", make_image())
    emulator.set_faults(biz_types={"strict": ["porn", "terrorism"]})

    known = scan(emulator, {"url": url}, ["ad"], bizType="strict")
    unknown = scan(emulator, {"url": url}, ["ad"], bizType="nobody-configured-this")

    assert [r["scene"] for r in known["results"]] == ["porn", "terrorism"]
    assert [r["scene"] for r in unknown["results"]] == ["ad"]


def test_network_model_charges_round_trips_and_more_for_new_connections(emulator: RunningEmulator) -> None:
    emulator.set_faults(network_rtt=0.1, network_connect_rtts=2)

    def timed(session: Any) -> float:
        started = time.monotonic()
        assert post(emulator, "results", ["img1"], session=session).status_code == 200
        return time.monotonic() - started

    with requests.Session() as pooled:
        first, second = timed(pooled), timed(pooled)
    fresh = timed(requests)  # a new connection every call

    assert first >= 0.3 and fresh >= 0.3  # one round trip plus two for the handshakes
    assert 0.1 <= second < first
    network = emulator.stats()["network"]
    assert network["new_connections"] == 2 and network["delayed_answers"] == 3


def test_processing_time_holds_async_results_and_download_round_trips_are_counted(
        emulator: RunningEmulator, image_server: Any, wait_until: Callable[..., Any]) -> None:
    url = image_server.add("/a.png", make_image())
    emulator.set_faults(processing_delay=0, image_processing_time=0.4, network_rtt=0.05)

    started = time.monotonic()
    task_id = post(emulator, "asyncscan", {"scenes": ["porn"], "tasks": [{"url": url}]}).json()["data"][0]["taskId"]
    wait_until(lambda: post(emulator, "results", [task_id]).json()["data"][0]["code"] == 200)

    assert time.monotonic() - started >= 0.05 + 0.4  # the download round trip, then the processing
    started = time.monotonic()
    assert scan(emulator, {"url": url})["code"] == 200
    assert time.monotonic() - started >= 0.05 + 0.4 + 0.05  # a sync answer waits too, plus its own round trip
    network = emulator.stats()["network"]
    assert network["delayed_downloads"] == 2 and network["processing_waits"] == 2
