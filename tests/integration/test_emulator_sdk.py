"""The official SDK, unmodified, against the emulator over loopback.

The SDK is pointed at the emulator with `request.set_endpoint("127.0.0.1")`, plain HTTP (the SDK's
default, also set explicitly) and `AcsClient(..., port=<emulator port>)`; its URL is then
http://127.0.0.1:PORT/green/image/...?RegionId=cn-shanghai.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkgreen.request.v20180509.ImageAsyncScanRequest import ImageAsyncScanRequest
from aliyunsdkgreen.request.v20180509.ImageAsyncScanResultsRequest import ImageAsyncScanResultsRequest
from aliyunsdkgreen.request.v20180509.ImageScanFeedbackRequest import ImageScanFeedbackRequest
from aliyunsdkgreen.request.v20180509.ImageSyncScanRequest import ImageSyncScanRequest

from green_emulator import RunningEmulator, make_image
from greenlight.green.signer import Credentials

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
REGION = "cn-shanghai"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads HTTP(S)_PROXY itself; loopback traffic must never leave through a proxy.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def acs_client(port: int, key_id: str, secret: str) -> AcsClient:
    return AcsClient(key_id, secret, REGION, port=port, auto_retry=False, timeout=10, connect_timeout=5)


def acs_request(request_class: Any, payload: Any) -> Any:
    request = request_class()
    request.set_endpoint("127.0.0.1")
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    request.set_content(json.dumps(payload).encode("utf-8"))  # no set_content_type(), like the official sample
    return request


def do(client: AcsClient, request: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(client.do_action_with_exception(request))
    return body


def server_error(client: AcsClient, request: Any) -> ServerException:
    with pytest.raises(ServerException) as raised:
        client.do_action_with_exception(request)
    return raised.value


def sdk_signed_wire(request: Any, key_id: str, secret: str, port: int) -> tuple[str, dict[str, str], bytes]:
    """What AcsClient would send, signed by the SDK's own code, for replaying with requests."""
    request.set_content_type("application/octet-stream")
    headers = request.get_signed_header(REGION, key_id, secret)
    url = f"http://127.0.0.1:{port}{request.get_url(REGION)}"
    return url, {k: str(v) for k, v in headers.items()}, request.get_content()


@pytest.fixture
def scan_payload(image_server: Any) -> Callable[..., dict[str, Any]]:
    def payload(**extra: Any) -> dict[str, Any]:
        url = image_server.add("/sdk.png", make_image([{"scene": "porn", "label": "sexy", "suggestion": "review",
                                                         "rate": 88.4}]), content_type="image/png")
        return {"scenes": ["porn", "terrorism"], "tasks": [{"dataId": "sdk-1", "url": url}], **extra}

    return payload


def test_sdk_runs_all_four_operations(emulator: RunningEmulator, scan_payload: Callable[..., dict[str, Any]],
                                      wait_until: Callable[..., Any]) -> None:
    client = acs_client(emulator.port, emulator.config.access_key_id, emulator.config.access_key_secret)

    sync = do(client, acs_request(ImageSyncScanRequest, scan_payload()))
    submitted = do(client, acs_request(ImageAsyncScanRequest, scan_payload()))
    task_id = submitted["data"][0]["taskId"]
    first = do(client, acs_request(ImageAsyncScanResultsRequest, [task_id]))
    final = wait_until(lambda: (r := do(client, acs_request(ImageAsyncScanResultsRequest, [task_id])))
                       ["data"][0]["code"] == 200 and r)
    feedback = do(client, acs_request(ImageScanFeedbackRequest,
                                      {"taskId": task_id, "suggestion": "block", "scenes": ["porn"], "note": "误判"}))

    assert sync["code"] == 200 and sync["data"][0]["code"] == 200
    assert sync["data"][0]["results"][0] == {"scene": "porn", "label": "sexy", "suggestion": "review", "rate": 88.4}
    assert sync["data"][0]["results"][1]["scene"] == "terrorism"
    assert submitted["data"][0]["code"] == 200 and task_id.startswith("img")
    assert first["data"][0] == {"code": 280, "msg": "PROCESSING", "taskId": task_id, "dataId": "sdk-1"}
    assert final["data"][0]["results"][0]["suggestion"] == "review"
    assert feedback == {"code": 200, "msg": "OK", "requestId": feedback["requestId"]}
    assert emulator.feedback()[0]["note"] == "误判"
    assert emulator.stats()["gateway_rejections"] == {}


def test_sdk_with_a_wrong_secret_gets_signature_does_not_match(emulator: RunningEmulator) -> None:
    client = acs_client(emulator.port, emulator.config.access_key_id, "not-the-secret")

    error = server_error(client, acs_request(ImageAsyncScanResultsRequest, ["img1"]))

    # The SDK compares message.split(':')[1] with its string to sign to report InvalidAccessKeySecret;
    # the string to sign itself contains ':' (x-acs-action:..., the Date), so it never matches and the
    # gateway's code comes through unchanged.
    assert error.get_http_status() == 400
    assert error.get_error_code() == "SignatureDoesNotMatch"
    assert error.get_error_msg().startswith(
        "Specified signature is not matched with our calculation. server string to sign is:POST\napplication/json\n")
    assert emulator.stats()["gateway_rejections"] == {"SignatureDoesNotMatch": 1}


def test_sdk_with_an_unknown_key_gets_404(emulator: RunningEmulator) -> None:
    error = server_error(acs_client(emulator.port, "LTAI-nobody", "x"), acs_request(ImageAsyncScanResultsRequest,
                                                                                      ["img1"]))

    assert (error.get_http_status(), error.get_error_code()) == (404, "InvalidAccessKeyId.NotFound")
    assert error.get_error_msg() == "Specified access key is not found."


def test_sdk_request_with_a_tampered_body_gets_content_md5_not_matched(emulator: RunningEmulator) -> None:
    request = acs_request(ImageAsyncScanResultsRequest, ["img1"])
    url, headers, body = sdk_signed_wire(request, emulator.config.access_key_id, emulator.config.access_key_secret,
                                         emulator.port)

    tampered = requests.post(url, data=body.replace(b"img1", b"img2"), headers=headers, timeout=5)
    genuine = requests.post(url, data=body, headers=headers, timeout=5)

    assert tampered.status_code == 400
    assert tampered.json()["Code"] == "ContentMD5NotMatched"
    assert set(tampered.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert genuine.status_code == 200 and genuine.json()["data"][0]["code"] == 594


def test_sdk_with_a_stale_date_gets_invalid_timestamp(emulator: RunningEmulator) -> None:
    client = acs_client(emulator.port, emulator.config.access_key_id, emulator.config.access_key_secret)
    stale = formatdate(time.time() - 20 * 60, usegmt=True)

    with mock.patch("aliyunsdkcore.utils.parameter_helper.get_rfc_2616_date", return_value=stale):
        error = server_error(client, acs_request(ImageAsyncScanResultsRequest, ["img1"]))

    assert (error.get_http_status(), error.get_error_code()) == (400, "InvalidTimeStamp.Expired")


def test_sdk_with_sts_credentials(emulator: RunningEmulator, emulator_sts_credentials: Credentials) -> None:
    sts = emulator_sts_credentials
    with_token = AcsClient(region_id=REGION, port=emulator.port, auto_retry=False,
                           credential=StsTokenCredential(sts.access_key_id, sts.access_key_secret, sts.security_token))
    wrong_token = AcsClient(region_id=REGION, port=emulator.port, auto_retry=False,
                            credential=StsTokenCredential(sts.access_key_id, sts.access_key_secret, "CAIS-stolen"))
    without_token = acs_client(emulator.port, sts.access_key_id, sts.access_key_secret)

    answer = do(with_token, acs_request(ImageAsyncScanResultsRequest, ["img1"]))
    missing = server_error(without_token, acs_request(ImageAsyncScanResultsRequest, ["img1"]))
    mismatch = server_error(wrong_token, acs_request(ImageAsyncScanResultsRequest, ["img1"]))

    assert answer["code"] == 200
    assert (missing.get_http_status(), missing.get_error_code()) == (400, "InvalidSecurityToken.Missing")
    assert (mismatch.get_http_status(), mismatch.get_error_code()) == (400, "InvalidSecurityToken.Mismatch")


def test_nonce_replay_is_refused_only_when_a_nonce_is_sent(emulator: RunningEmulator) -> None:
    key_id, secret = emulator.config.access_key_id, emulator.config.access_key_secret
    plain = sdk_signed_wire(acs_request(ImageAsyncScanResultsRequest, ["img1"]), key_id, secret, emulator.port)
    with_nonce_request = acs_request(ImageAsyncScanResultsRequest, ["img1"])
    with_nonce_request.add_header("x-acs-signature-nonce", "4b1d0b6e-replay-test")
    with_nonce = sdk_signed_wire(with_nonce_request, key_id, secret, emulator.port)

    def send(wire: tuple[str, dict[str, str], bytes]) -> requests.Response:
        return requests.post(wire[0], data=wire[2], headers=wire[1], timeout=5)

    plain_answers = [send(plain).status_code, send(plain).status_code]
    first, replay = send(with_nonce), send(with_nonce)

    assert plain_answers == [200, 200]  # the SDK sends no nonce for ROA, so an identical resend passes
    assert first.status_code == 200
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    assert emulator.stats()["gateway_rejections"] == {"SignatureNonceUsed": 1}


def test_sdk_surfaces_gateway_throttling_and_a_lost_answer(emulator: RunningEmulator,
                                                           scan_payload: Callable[..., dict[str, Any]]) -> None:
    client = acs_client(emulator.port, emulator.config.access_key_id, emulator.config.access_key_secret)
    emulator.set_faults(gateway_throttle_rate=1)
    throttled = server_error(client, acs_request(ImageAsyncScanResultsRequest, ["img1"]))
    emulator.set_faults(gateway_throttle_rate=0, answer_lost_rate=1)

    with pytest.raises(ClientException) as lost:
        client.do_action_with_exception(acs_request(ImageAsyncScanRequest, scan_payload()))

    assert (throttled.get_http_status(), throttled.get_error_code()) == (400, "Throttling.User")
    assert throttled.get_error_msg() == "Request was denied due to user flow control."
    assert lost.value.get_error_code() == "SDK.HttpError"
    assert emulator.stats()["faults"] == {"gateway_throttle": 1, "answer_lost": 1}


# -- python -m green_emulator ----------------------------------------------------------------------

@pytest.fixture
def emulator_process() -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREEN_EMULATOR_")}
    env["PYTHONPATH"] = str(REPO / "local")  # the emulator needs nothing from the product's layer
    env["GREEN_EMULATOR_PORT"] = "0"
    process = subprocess.Popen([sys.executable, "-m", "green_emulator", "--processing-delay", "0.1"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield process, lines
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_python_m_green_emulator_answers_the_sdk(
    emulator_process: tuple[subprocess.Popen[str], queue.Queue[str]], scan_payload: Callable[..., dict[str, Any]],
) -> None:
    process, lines = emulator_process
    printed: list[str] = []
    deadline = time.monotonic() + 20
    while not any("listening on http://127.0.0.1:" in line for line in printed):
        remaining = deadline - time.monotonic()
        assert remaining > 0 and process.poll() is None, f"no listening line; output so far: {printed}"
        try:
            printed.append(lines.get(timeout=remaining))
        except queue.Empty:
            pytest.fail(f"no listening line within 20 s; output: {printed}")
    port = int(printed[-1].rsplit(":", 1)[1])
    assert any("AccessKeyId=LTAI-local-emulator AccessKeySecret=local-emulator-secret uid=1234567890123456" in line
               for line in printed)

    client = acs_client(port, "LTAI-local-emulator", "local-emulator-secret")
    answer = do(client, acs_request(ImageSyncScanRequest, scan_payload()))

    assert answer["data"][0]["results"][0]["label"] == "sexy"
    process.terminate()
    assert process.wait(timeout=10) == 0
