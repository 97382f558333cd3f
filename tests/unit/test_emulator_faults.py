"""The chaos faults, their settings and the network model, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from green_emulator.config import ConfigError, EmulatorConfig, Faults
from green_emulator.counters import Counters
from green_emulator.faults import FaultInjector
from green_emulator.gateway import ReceivedRequest
from green_emulator.network import NetworkModel
from green_emulator.protocol import DEFAULT_TASK_ERROR_CODES
from green_emulator.replies import Reply
from green_emulator.request_faults import RequestFaults

SCAN_BODY = b'{"scenes":["porn"],"tasks":[{"url":"http://127.0.0.1/a"},{"url":"http://127.0.0.1/b"}]}'


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def request(body: bytes = b"[]") -> ReceivedRequest:
    return ReceivedRequest("POST", "/green/image/results", "RegionId=cn-shanghai",
                           {"Date": "D", "x-acs-version": "2018-05-09"}, body)


def refusal(faults: Faults, operation: str = "results", body: bytes = b"[]",
            clock: FakeClock | None = None) -> tuple[Reply | None, dict[str, Any]]:
    counters = Counters()
    injector = FaultInjector(faults, seed=0, clock=clock or FakeClock())
    reply = RequestFaults(injector, counters).refuse(operation, request(body), "REQ", "host")
    return reply, counters.snapshot()["faults"]


# -- settings ------------------------------------------------------------------------------------

def test_new_settings_read_from_variables_and_flags() -> None:
    env = {"GREEN_EMULATOR_TASK_ERROR_CODES": "581,595", "GREEN_EMULATOR_FAULT_OPERATIONS": "feedback",
           "GREEN_EMULATOR_BIZ_TYPES": "strict=porn+terrorism,ads=ad", "GREEN_EMULATOR_OUTAGE_MODE": "588",
           "GREEN_EMULATOR_OUTAGE_SECONDS": "30", "GREEN_EMULATOR_CHECK_URL_EXPIRY": "false"}

    config = EmulatorConfig.from_args(["--network-rtt", "0.05", "--fault-operations", "results,feedback",
                                       "--check-url-expiry"], env)

    faults = config.faults
    assert faults.task_error_codes == (581, 595)
    assert faults.fault_operations == ("results", "feedback")
    assert faults.biz_types == {"strict": ("porn", "terrorism"), "ads": ("ad",)}
    assert (faults.outage_mode, faults.outage_seconds, faults.network_rtt) == ("588", 30.0, 0.05)
    assert config.check_url_expiry is True  # the bare flag wins over the variable
    assert EmulatorConfig.from_env(env).check_url_expiry is False
    assert Faults().task_error_codes == DEFAULT_TASK_ERROR_CODES == (500, 580, 581, 585, 586, 587, 588, 589, 591,
                                                                     592, 594, 595)
    assert Faults().fault_operations == ("scan", "asyncscan", "results", "feedback")


def test_runtime_changes_take_json_values_and_round_trip_through_to_json() -> None:
    faults = Faults().with_changes({"task_error_codes": [500], "fault_operations": ["feedback"], "outage_mode": 596,
                                    "biz_types": {"strict": ["porn"]}, "answer_lost_rate": 1})

    assert (faults.task_error_codes, faults.fault_operations, faults.outage_mode) == ((500,), ("feedback",), "596")
    assert Faults().with_changes(faults.to_json()) == faults


@pytest.mark.parametrize(("changes", "named"), [
    ({"task_error_codes": [200]}, "task_error_codes"),
    ({"task_error_codes": []}, "task_error_codes"),
    ({"fault_operations": ["upload"]}, "fault_operations"),
    ({"outage_mode": "flood"}, "outage_mode"),
    ({"biz_types": {"strict": ["sface"]}}, "biz_types"),
    ({"network_rtt": 60}, "network_rtt"),
    ({"answer_lost_rate": 1.5}, "answer_lost_rate"),
    ({"results_omit_rate": True}, "results_omit_rate"),
    ({"task_error_codes": "five"}, "task_error_codes"),
])
def test_bad_fault_changes_are_refused_naming_the_setting(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Faults().with_changes(changes)


# -- whole-request faults ------------------------------------------------------------------------------

def test_each_request_fault_answers_in_its_own_shape() -> None:
    throttled, throttle_counts = refusal(Faults(gateway_throttle_rate=1))
    denied, _ = refusal(Faults(permission_deny_rate=1))
    general, _ = refusal(Faults(general_error_rate=1))

    assert throttled is not None and throttled.status == 400
    assert throttled.body == {"RequestId": "REQ", "HostId": "host", "Code": "Throttling.User",
                              "Message": "Request was denied due to user flow control.",
                              "Recommend": "https://error-center.aliyun.com/status/search?Keyword=Throttling.User"
                                           "&source=PopGw"}
    assert throttle_counts == {"gateway_throttle": 1}
    assert denied == Reply(200, {"code": 596, "msg": "PERMISSION_DENY", "requestId": "REQ"})
    assert general == Reply(200, {"code": 500, "msg": "GENERAL_ERROR", "requestId": "REQ"})


@pytest.mark.parametrize(("mode", "status", "code"), [
    ("5xx", 503, "ServiceUnavailable"), ("588", 200, 588), ("596", 200, 596),
    ("auth", 404, "InvalidAccessKeyId.NotFound"), ("signature", 400, "SignatureDoesNotMatch"),
])
def test_outage_modes(mode: str, status: int, code: Any) -> None:
    reply, counts = refusal(Faults(outage_mode=mode, outage_seconds=10, error_status=503))

    assert reply is not None and reply.status == status
    assert reply.body.get("code", reply.body.get("Code")) == code
    assert counts == {f"outage_{mode}": 1}
    if mode == "signature":  # the gateway's string to sign of this very request
        assert reply.body["Message"].endswith("x-acs-version:2018-05-09\n/green/image/results?RegionId=cn-shanghai")


def test_the_outage_window_opens_when_set_and_closes_on_time() -> None:
    clock = FakeClock()
    injector = FaultInjector(Faults(), seed=0, clock=clock)

    assert injector.outage() == ""
    injector.update({"outage_mode": "5xx", "outage_seconds": 2})
    clock.now += 1.5
    assert (injector.outage(), injector.outage_remaining()) == ("5xx", 0.5)
    injector.update({"throttle_rate": 0.1})  # other changes leave the window alone
    clock.now += 0.6
    assert injector.outage() == ""
    injector.update({"outage_seconds": 1})  # setting it again reopens it
    assert injector.outage() == "5xx"


def test_faults_hit_only_the_listed_operations() -> None:
    only_feedback = Faults(error_rate=1, error_status=500, gateway_throttle_rate=1, outage_mode="588",
                           outage_seconds=10, fault_operations=("feedback",))

    results, results_counts = refusal(only_feedback, "results")
    feedback, _ = refusal(only_feedback, "feedback")

    assert results is None and results_counts == {}
    assert feedback is not None and feedback.body["code"] == 588


def test_qps_counts_images_for_scans_and_requests_otherwise() -> None:
    clock = FakeClock()
    counters = Counters()
    faults = RequestFaults(FaultInjector(Faults(qps={"asyncscan": 3, "results": 1}), seed=0, clock=clock), counters)

    def code(operation: str, body: bytes) -> Any:
        reply = faults.refuse(operation, request(body), "R", "h")
        return None if reply is None else reply.body["code"]

    assert [code("asyncscan", SCAN_BODY), code("asyncscan", SCAN_BODY)] == [None, 588]  # 2 images, then 1 token left
    assert code("results", b'["a","b","c"]') is None and code("results", b'["a"]') == 588
    clock.now += 1
    assert code("asyncscan", SCAN_BODY) is None
    assert counters.snapshot()["faults"] == {"qps": 2}


def test_a_request_bigger_than_the_bucket_passes_when_full_and_leaves_debt() -> None:
    clock = FakeClock()
    injector = FaultInjector(Faults(qps={"scan": 50}), seed=0, clock=clock)

    assert injector.take_token("scan", 100)
    clock.now += 0.5  # 50 - 100 + 25: still in debt
    assert not injector.take_token("scan", 1)
    clock.now += 0.6  # 5 tokens
    assert injector.take_token("scan", 1)


def test_answer_lost_only_for_accepted_scans() -> None:
    faults = RequestFaults(FaultInjector(Faults(answer_lost_rate=1), seed=0), Counters())
    accepted = Reply(200, {"code": 200, "msg": "OK", "requestId": "R", "data": []})
    refused = Reply(200, {"code": 400, "msg": "BAD_REQUEST", "requestId": "R"})

    assert faults.lose_answer("asyncscan", accepted) and faults.lose_answer("scan", accepted)
    assert not faults.lose_answer("results", accepted) and not faults.lose_answer("asyncscan", refused)


def test_fault_draws_repeat_per_seed() -> None:
    def codes() -> list[Any]:
        injector = FaultInjector(Faults(task_error_codes=(500, 581, 595)), seed=11)
        return [injector.pick(injector.current.task_error_codes) for _ in range(20)]

    assert codes() == codes() and len(set(codes())) == 3


# -- network model -------------------------------------------------------------------------------------

def test_network_model_is_off_by_default_and_charges_handshakes_on_new_connections() -> None:
    counters = Counters()
    injector = FaultInjector(Faults(), seed=0)
    network = NetworkModel(injector, counters)

    assert (network.answer_delay(True), network.download_delay(), network.processing_time()) == (0, 0, 0)
    injector.update({"network_rtt": 0.1, "network_connect_rtts": 2, "image_processing_time": 0.5})
    assert network.answer_delay(False) == pytest.approx(0.1)
    assert network.answer_delay(True) == pytest.approx(0.3)
    assert (network.download_delay(), network.callback_delay(), network.processing_time()) == (0.1, 0.1, 0.5)
    injector.update({"network_jitter": 0.05})
    assert all(0.1 <= network.download_delay() <= 0.15 for _ in range(20))
    assert counters.snapshot()["network"] == {"new_connections": 2, "delayed_answers": 2, "delayed_downloads": 21,
                                              "delayed_callbacks": 1, "processing_waits": 1}
