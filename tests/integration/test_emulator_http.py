"""The emulator over raw HTTP: body validation, response shapes, routing, admin routes, reproducibility."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from green_emulator import RunningEmulator, make_image
from integration.green_requests import post

pytestmark = pytest.mark.integration


def scan_body(url: str = "http://127.0.0.1:9/a.png", **extra: Any) -> dict[str, Any]:
    return {"scenes": ["porn"], "tasks": [{"dataId": "d", "url": url}], **extra}


@pytest.mark.parametrize(("operation", "payload", "raw", "named"), [
    ("scan", None, b"{not json", "body"),
    ("scan", [1, 2], None, "body"),
    ("scan", {"tasks": [{"url": "http://127.0.0.1/a"}]}, None, "scenes"),
    ("scan", scan_body(scenes=["porn", "sface"]), None, "scenes"),
    ("scan", {"scenes": ["porn"], "tasks": []}, None, "tasks"),
    ("scan", {"scenes": ["porn"], "tasks": [{"url": "http://127.0.0.1/a"}] * 101}, None, "tasks"),
    ("scan", scan_body("ftp://127.0.0.1/a.png"), None, "tasks[0].url"),
    ("scan", scan_body("http://127.0.0.1/" + "a" * 2032), None, "tasks[0].url"),
    ("scan", {"scenes": ["porn"], "tasks": [{"dataId": 7, "url": "http://127.0.0.1/a"}]}, None, "tasks[0].dataId"),
    ("asyncscan", scan_body(callback="http://127.0.0.1:9/hook"), None, "seed"),
    ("asyncscan", scan_body(callback="ftp://127.0.0.1/hook", seed="s"), None, "callback"),
    ("results", {"taskIds": ["img1"]}, None, "taskId"),
    ("results", [], None, "taskId"),
    ("results", [f"img{i}" for i in range(101)], None, "taskId"),
    ("results", ["img1", 2], None, "taskId"),
    ("feedback", ["not", "an", "object"], None, "body"),
], ids=["not-json", "not-object", "no-scenes", "unknown-scene", "no-tasks", "101-tasks", "ftp-url", "long-url",
        "dataId-type", "callback-no-seed", "ftp-callback", "results-object", "results-empty", "results-101",
        "results-non-string", "feedback-array"])
def test_bad_bodies_get_code_400_naming_the_field(emulator: RunningEmulator, operation: str, payload: Any,
                                                  raw: bytes | None, named: str) -> None:
    response = post(emulator, operation, payload, raw=raw)

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 400 and body["msg"].startswith("BAD_REQUEST") and named in body["msg"]
    assert "data" not in body and body["requestId"]
    assert emulator.stats()["responses"][operation]["code"] == {"400": 1}
    assert emulator.stats()["tasks_submitted"] == 0


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/json; charset=utf-8", "text/plain"])
def test_any_content_type_is_accepted(emulator: RunningEmulator, content_type: str) -> None:
    response = post(emulator, "results", ["img1"], content_type=content_type)

    assert response.status_code == 200 and response.json()["data"] == [{"code": 594, "msg": "EXPIRED",
                                                                         "taskId": "img1"}]


def test_async_submit_and_processing_items_have_greens_shape(emulator: RunningEmulator, image_server: Any) -> None:
    url = image_server.add("/a.png", make_image())

    submitted = post(emulator, "asyncscan", {"scenes": ["porn"], "tasks": [{"dataId": "a", "url": url},
                                                                            {"url": url}]}).json()
    ids = [item["taskId"] for item in submitted["data"]]
    processing = post(emulator, "results", ids).json()

    assert submitted["code"] == 200 and submitted["msg"] == "OK"
    assert submitted["data"] == [{"code": 200, "msg": "OK", "dataId": "a", "taskId": ids[0], "url": url},
                                 {"code": 200, "msg": "OK", "taskId": ids[1], "url": url}]
    assert processing["data"] == [{"code": 280, "msg": "PROCESSING", "taskId": ids[0], "dataId": "a"},
                                  {"code": 280, "msg": "PROCESSING", "taskId": ids[1]}]
    assert list(submitted) == ["code", "msg", "requestId", "data"]


def test_unknown_paths_and_methods(emulator: RunningEmulator) -> None:
    unknown = requests.post(emulator.url + "/green/image/scan/feedback", data=b"{}", timeout=5)
    wrong_method = requests.get(emulator.url + "/green/image/scan", timeout=5)

    assert unknown.status_code == 404 and unknown.json()["Code"] == "InvalidAction.NotFound"
    assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"RequestId", "HostId", "Code", "Message",
                                                                            "Recommend"}
    assert sum(emulator.stats()["calls"].values()) == 0


def test_gateway_rejections_are_counted_per_operation(emulator: RunningEmulator) -> None:
    response = requests.post(emulator.url + "/green/image/scan", data=b"{}", headers={"Authorization": "acs nope"},
                             timeout=5)

    assert response.status_code == 400 and response.json()["Code"] == "IncompleteSignature"
    assert response.json()["Message"].startswith("The request signature does not conform to Aliyun standards.")
    stats = emulator.stats()
    assert stats["calls"]["scan"] == 1
    assert stats["responses"]["scan"] == {"http": {"400": 1}, "code": {"IncompleteSignature": 1}}
    assert stats["gateway_rejections"] == {"IncompleteSignature": 1}


def test_admin_routes(emulator: RunningEmulator) -> None:
    admin = emulator.url + "/_emulator/"
    post(emulator, "feedback", {"taskId": "img1", "note": "n"})

    stats = requests.get(admin + "stats", timeout=5).json()
    feedback = requests.get(admin + "feedback", timeout=5).json()
    changed = requests.post(admin + "faults", json={"throttle_rate": 1, "qps": {"results": 5}}, timeout=5)
    throttled = post(emulator, "results", ["img1"]).json()
    refused = requests.post(admin + "faults", json={"throttle_rate": 3}, timeout=5)
    unknown = requests.post(admin + "faults", json={"no_such_fault": 1}, timeout=5)
    current = requests.get(admin + "faults", timeout=5).json()
    reset = requests.post(admin + "reset", timeout=5)

    assert stats["calls"]["feedback"] == 1 and stats["feedback_received"] == 1
    assert feedback == [{"taskId": "img1", "note": "n"}]
    assert changed.status_code == 200 and changed.json()["throttle_rate"] == 1.0
    assert changed.json()["qps"] == {"results": 5.0}
    assert throttled["code"] == 588 and throttled["msg"] == "EXCEED_QUOTA"
    assert refused.status_code == 400 and "throttle_rate" in refused.json()["error"]
    assert unknown.status_code == 400 and "no_such_fault" in unknown.json()["error"]
    assert current["throttle_rate"] == 1.0  # the refused change left the faults alone
    assert reset.status_code == 200
    assert emulator.stats()["calls"] == {"scan": 0, "asyncscan": 0, "results": 0, "feedback": 0}
    assert emulator.feedback() == [] and emulator.faults.throttle_rate == 0.0
    assert requests.get(admin + "nothing", timeout=5).status_code == 404


def test_reset_makes_ids_and_fault_decisions_repeat(emulator: RunningEmulator, image_server: Any) -> None:
    url = image_server.add("/a.png", make_image())

    def run() -> tuple[str, list[int]]:
        emulator.reset()
        task_id = post(emulator, "asyncscan", scan_body(url)).json()["data"][0]["taskId"]
        emulator.set_faults(throttle_rate=0.5)
        codes = [post(emulator, "results", ["img1"]).json()["code"] for _ in range(12)]
        return task_id, codes

    first, second = run(), run()

    assert first == second
    assert {588, 200} == set(first[1])
