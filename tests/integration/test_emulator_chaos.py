"""The chaos faults over real HTTP: what a client sees, and what Green keeps behind a failure."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from green_emulator import RunningEmulator, make_image
from greenlight.green.errors import GreenTransientError
from greenlight.green.wire import ScanTask
from integration.green_requests import post

pytestmark = pytest.mark.integration


def callback_items(receiver: Any) -> list[dict[str, Any]]:
    return [json.loads(parse_qs(r.body.decode())["content"][0]) for r in receiver.requests_to("/hook")]


def test_tasks_refused_at_submit_carry_a_code_and_are_not_kept(emulator: RunningEmulator, image_server: Any) -> None:
    url = image_server.add("/a.png", make_image())
    emulator.set_faults(task_submit_error_rate=1, task_error_codes=[581])

    submitted = post(emulator, "asyncscan", {"scenes": ["porn"], "tasks": [{"dataId": "d", "url": url}]}).json()
    item = submitted["data"][0]
    polled = post(emulator, "results", [item["taskId"]]).json()

    assert submitted["code"] == 200
    assert item == {"code": 581, "msg": "TIMEOUT", "dataId": "d", "taskId": item["taskId"], "url": url}
    assert polled["data"] == [{"code": 594, "msg": "EXPIRED", "taskId": item["taskId"]}]
    stats = emulator.stats()
    assert stats["faults"] == {"task_submit_error": 1} and stats["tasks_finished"] == {"581": 1}
    assert stats["downloads"] == 0 and image_server.requests_to("/a.png") == []


def test_tasks_that_finish_with_a_code_show_it_in_results_and_callbacks(
        emulator: RunningEmulator, image_server: Any, callback_receiver: Any, wait_until: Callable[..., Any]) -> None:
    url = image_server.add("/a.png", make_image())
    callback_receiver.add("/hook")
    emulator.set_faults(task_finish_error_rate=1, task_error_codes=[595], processing_delay=0)

    submitted = post(emulator, "asyncscan", {"scenes": ["porn"], "callback": callback_receiver.url("/hook"),
                                             "seed": "s", "tasks": [{"url": url}]}).json()
    task_id = submitted["data"][0]["taskId"]
    finished = wait_until(lambda: (r := post(emulator, "results", [task_id]).json()["data"][0])["code"] != 280 and r)
    wait_until(lambda: callback_receiver.requests_to("/hook"))

    assert submitted["data"][0]["code"] == 200
    assert finished == {"code": 595, "msg": "CATCH_FRAME_FAILED", "taskId": task_id, "url": url}
    assert callback_items(callback_receiver) == [finished]
    assert emulator.stats()["faults"] == {"task_finish_error": 1}


def test_a_lost_answer_still_leaves_the_work_done(emulator: RunningEmulator, image_server: Any,
                                                  callback_receiver: Any, wait_until: Callable[..., Any]) -> None:
    url = image_server.add("/a.png", make_image())
    callback_receiver.add("/hook")
    emulator.set_faults(answer_lost_rate=1, processing_delay=0)

    with pytest.raises(requests.ConnectionError):
        post(emulator, "asyncscan", {"scenes": ["porn"], "callback": callback_receiver.url("/hook"), "seed": "s",
                                     "tasks": [{"dataId": "lost", "url": url}]})
    wait_until(lambda: callback_receiver.requests_to("/hook"))
    task_id = callback_items(callback_receiver)[0]["taskId"]
    polled = post(emulator, "results", [task_id]).json()["data"][0]

    assert polled["code"] == 200 and polled["dataId"] == "lost" and polled["results"][0]["scene"] == "porn"
    stats = emulator.stats()
    assert stats["faults"] == {"answer_lost": 1}
    assert stats["responses"]["asyncscan"]["http"] == {"lost": 1}


def test_the_product_client_sees_a_lost_answer_as_transient_and_maybe_accepted(
        emulator: RunningEmulator, image_server: Any, green_client: Callable[..., Any]) -> None:
    url = image_server.add("/a.png", make_image())
    emulator.set_faults(answer_lost_rate=1)

    with pytest.raises(GreenTransientError) as raised:
        green_client().image_async_scan([ScanTask("d", url)], ["porn"])

    assert raised.value.maybe_accepted
    assert emulator.stats()["tasks_submitted"] == 1


def test_results_can_leave_task_ids_out(emulator: RunningEmulator) -> None:
    emulator.set_faults(results_omit_rate=1)

    answer = post(emulator, "results", ["img1", "img2"]).json()

    assert (answer["code"], answer["data"]) == (200, [])
    assert emulator.stats()["faults"] == {"results_omit": 2}


def test_request_level_body_codes_and_gateway_throttling(emulator: RunningEmulator) -> None:
    emulator.set_faults(permission_deny_rate=1)
    denied = post(emulator, "feedback", {"taskId": "img1"})
    emulator.set_faults(permission_deny_rate=0, general_error_rate=1)
    general = post(emulator, "feedback", {"taskId": "img1"})
    emulator.set_faults(general_error_rate=0, gateway_throttle_rate=1)
    throttled = post(emulator, "feedback", {"taskId": "img1"})

    assert (denied.status_code, denied.json()["code"], denied.json()["msg"]) == (200, 596, "PERMISSION_DENY")
    assert (general.status_code, general.json()["code"], general.json()["msg"]) == (200, 500, "GENERAL_ERROR")
    assert (throttled.status_code, throttled.json()["Code"]) == (400, "Throttling.User")
    assert throttled.json()["Message"] == "Request was denied due to user flow control."
    assert emulator.stats()["faults"] == {"permission_deny": 1, "general_error": 1, "gateway_throttle": 1}
    assert emulator.feedback() == []


def test_an_outage_fails_every_request_until_its_window_ends(emulator: RunningEmulator,
                                                             wait_until: Callable[..., Any]) -> None:
    changed = requests.post(emulator.url + "/_emulator/faults", json={"outage_mode": "auth", "outage_seconds": 0.4},
                            timeout=5)

    during = [post(emulator, "results", ["img1"]) for _ in range(3)]
    wait_until(lambda: post(emulator, "results", ["img1"]).status_code == 200)

    assert changed.status_code == 200 and changed.json()["outage_mode"] == "auth"
    assert {(r.status_code, r.json()["Code"]) for r in during} == {(404, "InvalidAccessKeyId.NotFound")}
    assert emulator.stats()["faults"]["outage_auth"] >= 3
    assert emulator.stats()["outage_remaining"] == 0


def test_faults_can_target_one_operation(emulator: RunningEmulator) -> None:
    emulator.set_faults(error_rate=1, error_status=500, fault_operations=["feedback"])

    results = post(emulator, "results", ["img1"])
    feedback = post(emulator, "feedback", {"taskId": "img1"})

    assert results.status_code == 200 and results.json()["code"] == 200
    assert (feedback.status_code, feedback.json()["code"]) == (500, 500)
    assert emulator.stats()["faults"] == {"error_500": 1}


def test_qps_counts_each_image_of_a_scan(emulator: RunningEmulator, image_server: Any) -> None:
    url = image_server.add("/a.png", make_image())
    emulator.set_faults(qps={"asyncscan": 3}, processing_delay=0)
    two_images = {"scenes": ["porn"], "tasks": [{"url": url}, {"url": url}]}

    codes = [post(emulator, "asyncscan", two_images).json()["code"] for _ in range(2)]
    one_more = post(emulator, "asyncscan", {"scenes": ["porn"], "tasks": [{"url": url}]}).json()["code"]

    assert codes == [200, 588]  # 2 of 3 tokens taken; 2 more do not fit in the 1 left
    assert one_more == 200
    assert emulator.stats()["faults"] == {"qps": 1}


def test_expired_presigned_urls_are_refused_before_any_fetch(emulator: RunningEmulator, image_server: Any) -> None:
    url = image_server.add("/a.png", make_image())
    stale = url + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20200101T000000Z&X-Amz-Expires=60&X-Amz-Signature=0"
    emulator.set_faults(url_expired_rate=0)

    expired = post(emulator, "scan", {"scenes": ["porn"], "tasks": [{"url": stale}]}).json()["data"][0]
    emulator.set_faults(url_expired_rate=1)
    as_if_expired = post(emulator, "scan", {"scenes": ["porn"], "tasks": [{"url": url}]}).json()["data"][0]

    assert (expired["code"], expired["msg"]) == (403, "FORBIDDEN")
    assert (as_if_expired["code"], as_if_expired["msg"]) == (403, "FORBIDDEN")
    assert image_server.requests_to("/a.png") == []
    stats = emulator.stats()
    assert stats["urls_expired"] == 1 and stats["faults"] == {"url_expired": 1}


def test_the_ledger_says_what_happened_to_each_data_id(emulator: RunningEmulator, image_server: Any,
                                                      callback_receiver: Any,
                                                      wait_until: Callable[..., Any]) -> None:
    # Given one task Green refuses at submit, and one it accepts, finishes and calls back about
    url = image_server.add("/a.png", make_image())
    callback_receiver.add("/hook")
    emulator.set_faults(task_submit_error_rate=1, task_error_codes=[589], processing_delay=0)
    post(emulator, "asyncscan", {"scenes": ["porn"], "tasks": [{"dataId": "refused", "url": url}]})
    emulator.set_faults(task_submit_error_rate=0)
    accepted = post(emulator, "asyncscan", {"scenes": ["porn"], "callback": callback_receiver.url("/hook"),
                                            "seed": "s", "tasks": [{"dataId": "kept", "url": url}]}).json()
    task_id = accepted["data"][0]["taskId"]
    wait_until(lambda: callback_receiver.requests_to("/hook"))
    wait_until(lambda: post(emulator, "results", [task_id]).json()["data"][0]["code"] == 200)

    # Then the ledger, read over HTTP, has the facts of each (an asyncscan answer hands no verdict over)
    ledger = requests.get(emulator.url + "/_emulator/data-ids", timeout=5).json()
    assert ledger["refused"] == {"tasks": [], "faults": {"task_submit_error": 1}, "codes": {"589": 1},
                                 "finished": {}, "handed": {}}
    kept = ledger["kept"]
    assert kept["tasks"] == [task_id] and kept["finished"] == {"200": 1} and kept["faults"] == {}
    assert kept["handed"]["callback:200"] == 1 and kept["handed"]["results:200"] >= 1
    assert set(kept["handed"]) == {"callback:200", "results:200"}
    emulator.reset()
    assert emulator.data_ids() == {}
