"""The emulator's parts in isolation: config, gateway order, nonces, scripts, decoding, faults, ids."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image

import green_emulator.__main__ as emulator_main
from green_emulator.config import SETTINGS, ConfigError, EmulatorConfig, Faults
from green_emulator.counters import Counters
from green_emulator.downloads import decode
from green_emulator.faults import FaultInjector
from green_emulator.gateway import Account, Gateway, NonceCache, ReceivedRequest, parse_query
from green_emulator.ids import IdSource
from green_emulator.scripting import ScriptError, default_rate, make_image, read_script, verdicts_for
from greenlight.green.signer import Credentials, content_md5, http_date, sign_request

NOW = 1_800_000_000.0
KEY = Credentials("LTAI-unit", "unit-secret")
STS = Credentials("STS.unit", "sts-secret", "sts-token")


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- config -------------------------------------------------------------------------------------

def test_config_reads_variables_and_flags_win() -> None:
    env = {"GREEN_EMULATOR_PORT": "0", "GREEN_EMULATOR_THROTTLE_RATE": "0.25",
           "GREEN_EMULATOR_QPS": "scan=5,feedback=2", "GREEN_EMULATOR_ALLOWED_HOSTS": "127.0.0.1, LocalHost",
           "GREEN_EMULATOR_UID": "42"}

    from_env = EmulatorConfig.from_env(env)
    from_both = EmulatorConfig.from_args(["--port", "8611", "--throttle-rate", "0.5", "--log-requests"], env)

    assert (from_env.port, from_env.uid, from_env.allowed_hosts) == (0, "42", ("127.0.0.1", "localhost"))
    assert from_env.faults.throttle_rate == 0.25
    assert from_env.faults.qps == {"scan": 5.0, "feedback": 2.0}
    assert (from_both.port, from_both.faults.throttle_rate, from_both.log_requests) == (8611, 0.5, True)
    assert from_both.faults.qps == {"scan": 5.0, "feedback": 2.0}


@pytest.mark.parametrize(("env", "named"), [
    ({"GREEN_EMULATOR_PORT": "eighty"}, "GREEN_EMULATOR_PORT"),
    ({"GREEN_EMULATOR_ERROR_RATE": "1.5"}, "GREEN_EMULATOR_ERROR_RATE"),
    ({"GREEN_EMULATOR_QPS": "scan"}, "GREEN_EMULATOR_QPS"),
    ({"GREEN_EMULATOR_QPS": "upload=3"}, "GREEN_EMULATOR_QPS"),
    ({"GREEN_EMULATOR_STS_ACCESS_KEY_ID": "STS.x"}, "GREEN_EMULATOR_STS_ACCESS_KEY_ID"),
])
def test_bad_settings_fail_fast_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        EmulatorConfig.from_env(env)


def test_every_setting_is_documented_in_the_module_docstring_and_readme() -> None:
    readme = (Path(emulator_main.__file__).parent / "README.md").read_text(encoding="utf-8")
    doc = emulator_main.__doc__ or ""
    for setting in SETTINGS:
        assert setting.env in doc and setting.flag in doc, setting.name
        assert f"`{setting.env}`" in readme and f"`{setting.flag}`" in readme, setting.name


def test_fault_changes_are_coerced_and_validated() -> None:
    faults = Faults().with_changes({"throttle_rate": 1, "qps": {"scan": 3}, "error_status": "503"})

    assert (faults.throttle_rate, faults.qps, faults.error_status) == (1.0, {"scan": 3.0}, 503)
    with pytest.raises(ValueError, match="unknown fault setting"):
        Faults().with_changes({"throttle": 1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults().with_changes({"expire_rate": 2})


# -- gateway ------------------------------------------------------------------------------------

def signed(credentials: Credentials = KEY, *, body: bytes = b'{"scenes":["porn"]}', date: str | None = None,
           nonce: str | None = None, version: str = "2018-05-09", query: dict[str, str] | None = None,
           ) -> ReceivedRequest:
    request = sign_request(credentials=credentials, method="POST", path="/green/image/scan", body=body,
                           date=date or http_date(NOW), query=query or {"RegionId": "cn-shanghai"},
                           headers={"x-acs-version": version, "x-acs-action": "ImageSyncScan"}, nonce=nonce)
    target = request.target.partition("?")
    return ReceivedRequest("POST", target[0], target[2], dict(request.headers), request.body)


def with_headers(request: ReceivedRequest, **changes: str | None) -> ReceivedRequest:
    headers = {k: v for k, v in request.headers.items() if k not in changes}
    headers.update({k: v for k, v in changes.items() if v is not None})
    return ReceivedRequest(request.method, request.path, request.query, headers, request.body)


def gateway(clock: FakeClock | None = None) -> Gateway:
    return Gateway([Account(KEY.access_key_id, KEY.access_key_secret),
                    Account(STS.access_key_id, STS.access_key_secret, STS.security_token)],
                   nonces=NonceCache(900, 1000, clock or FakeClock()), clock=lambda: NOW)


def rejection_of(request: ReceivedRequest, gw: Gateway | None = None) -> tuple[int, str] | None:
    found = (gw or gateway()).check(request)
    return None if found is None else (found.status, found.code)


def test_gateway_accepts_a_request_signed_by_greenlight() -> None:
    assert rejection_of(signed()) is None
    assert rejection_of(signed(STS)) is None
    assert rejection_of(signed(query={"RegionId": "cn-shanghai", "ClientInfo": '{"a":"b c & d=e"}'})) is None


@pytest.mark.parametrize(("request_", "expected"), [
    (with_headers(signed(), Authorization=None), (400, "IncompleteSignature")),
    (with_headers(signed(), Authorization="Bearer abc"), (400, "IncompleteSignature")),
    (with_headers(signed(), Authorization="acs LTAI-unit"), (400, "IncompleteSignature")),
    (with_headers(signed(), **{"x-acs-signature-method": "HMAC-SHA256"}), (400, "IncompleteSignature")),
    (signed(version="2017-01-12"), (400, "InvalidAction.NotFound")),
    (signed(Credentials("LTAI-nobody", "x")), (404, "InvalidAccessKeyId.NotFound")),
    (signed(date=http_date(NOW - 20 * 60)), (400, "InvalidTimeStamp.Expired")),
    (signed(date=http_date(NOW + 16 * 60)), (400, "InvalidTimeStamp.Expired")),
    (with_headers(signed(), Date=None), (400, "InvalidTimeStamp.Expired")),
    (with_headers(signed(), Date="yesterday"), (400, "InvalidTimeStamp.Expired")),
    (with_headers(signed(), **{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}), (400, "ContentMD5NotMatched")),
    (with_headers(signed(STS), **{"x-acs-security-token": None}), (400, "InvalidSecurityToken.Missing")),
    (with_headers(signed(STS), **{"x-acs-security-token": "other"}), (400, "InvalidSecurityToken.Mismatch")),
    (signed(Credentials(KEY.access_key_id, "wrong-secret")), (400, "SignatureDoesNotMatch")),
], ids=["no-auth", "bearer", "no-signature", "sha256", "version", "unknown-key", "stale-date", "future-date",
        "no-date", "bad-date", "md5", "sts-missing", "sts-mismatch", "wrong-secret"])
def test_gateway_rejections(request_: ReceivedRequest, expected: tuple[int, str]) -> None:
    assert rejection_of(request_) == expected


def test_gateway_checks_in_the_reference_order() -> None:
    stale_unknown = signed(Credentials("LTAI-nobody", "x"), date=http_date(NOW - 3600))
    stale_bad_md5 = with_headers(signed(date=http_date(NOW - 3600)), **{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    bad_version_no_auth = with_headers(signed(version="1999-01-01"), Authorization=None)

    assert rejection_of(bad_version_no_auth) == (400, "IncompleteSignature")
    assert rejection_of(stale_unknown) == (404, "InvalidAccessKeyId.NotFound")
    assert rejection_of(stale_bad_md5) == (400, "InvalidTimeStamp.Expired")


def test_a_tampered_body_is_caught_by_md5_and_a_recomputed_md5_by_the_signature() -> None:
    original = signed()
    new_body = b'{"scenes":["ad"]}'
    tampered = ReceivedRequest(original.method, original.path, original.query, original.headers, new_body)
    re_hashed = with_headers(tampered, **{"Content-MD5": content_md5(new_body)})

    assert rejection_of(tampered) == (400, "ContentMD5NotMatched")
    assert rejection_of(re_hashed) == (400, "SignatureDoesNotMatch")


def test_nonce_is_single_use_but_not_burnt_by_a_forged_request() -> None:
    gw = gateway()
    forged = signed(Credentials(KEY.access_key_id, "wrong-secret"), nonce="n-1")
    genuine = signed(nonce="n-1")

    assert rejection_of(forged, gw) == (400, "SignatureDoesNotMatch")
    assert rejection_of(genuine, gw) is None
    assert rejection_of(genuine, gw) == (400, "SignatureNonceUsed")
    assert rejection_of(signed(), gw) is None and rejection_of(signed(), gw) is None  # no nonce, no replay check


def test_gateway_error_body_is_capitalised_json() -> None:
    found = gateway().check(signed(Credentials("LTAI-nobody", "x")))
    assert found is not None

    body = found.body("REQ-1", "green.cn-shanghai.aliyuncs.com")

    assert body == {"RequestId": "REQ-1", "HostId": "green.cn-shanghai.aliyuncs.com",
                    "Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found.",
                    "Recommend": "https://error-center.aliyun.com/status/search?Keyword=InvalidAccessKeyId.NotFound"
                                 "&source=PopGw"}


def test_parse_query_form_decodes_and_keeps_bare_names() -> None:
    assert parse_query("ClientInfo=%7B%22u%22%3A%22a+b%22%7D&RegionId=cn-shanghai&flag&empty=") == [
        ("ClientInfo", '{"u":"a b"}'), ("RegionId", "cn-shanghai"), ("flag", None), ("empty", "")]


def test_nonce_cache_forgets_after_ttl_and_stays_bounded() -> None:
    clock = FakeClock()
    cache = NonceCache(ttl=900, max_entries=3, clock=clock)

    assert cache.add("a") and not cache.add("a")
    clock.now = 901
    assert not cache.seen("a") and cache.add("a")
    for nonce in ("b", "c", "d", "e"):
        cache.add(nonce)
    assert len(cache) == 3 and not cache.seen("a") and cache.seen("e")


# -- scripting and decoding -----------------------------------------------------------------------

BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.1}]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_script_round_trips(fmt: str) -> None:
    image = make_image(BLOCK, fmt=fmt, size=(32, 24), seed=3)

    assert read_script(image) == BLOCK
    assert Image.open(io.BytesIO(image)).size == (32, 24)
    assert decode(image).code == 200


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "WEBP"])
def test_plain_images_of_every_accepted_format_decode(fmt: str) -> None:
    image = make_image(fmt=fmt, seed=1)

    assert read_script(image) is None
    assert decode(image).code == 200
    assert Image.open(io.BytesIO(image)).format == fmt


def test_make_image_is_deterministic_and_seeded() -> None:
    assert make_image(seed=5) == make_image(seed=5)
    assert make_image(seed=5) != make_image(seed=6)
    with pytest.raises(ValueError, match="PNG, JPEG or GIF"):
        make_image(BLOCK, fmt="BMP")


def test_default_rule_and_script_selection() -> None:
    image = make_image(BLOCK, seed=9)

    results = verdicts_for(image, ("terrorism", "porn"), read_script(image))

    assert results[1] == BLOCK[0]
    assert results[0]["label"] == "normal" and results[0]["suggestion"] == "pass"
    assert 90 <= results[0]["rate"] < 100
    assert results[0]["rate"] == default_rate(image, "terrorism") == verdicts_for(image, ["terrorism"], None)[0]["rate"]
    assert [r["scene"] for r in verdicts_for(image, ["ad"], read_script(image))] == ["ad"]  # unrequested porn left out


def test_malformed_scripts_are_reported() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("green-verdict", '[{"scene":"porn","label":"porn","suggestion":"maybe","rate":5}]')
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG", pnginfo=info)

    with pytest.raises(ScriptError, match="suggestion"):
        read_script(out.getvalue())


def test_decode_codes() -> None:
    tiff, too_wide = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (4, 4)).save(tiff, "TIFF")
    Image.new("1", (30_001, 1)).save(too_wide, "PNG")

    assert decode(b"definitely not an image").code == 590
    assert decode(tiff.getvalue()).code == 590
    assert decode(make_image(fmt="PNG")[:60]).code == 590  # truncated
    wide = decode(too_wide.getvalue())
    assert wide.code == 480 and "30001x1" in wide.msg


# -- faults, ids, counters ------------------------------------------------------------------------

def test_fault_decisions_are_reproducible_from_the_seed() -> None:
    first, second = FaultInjector(Faults(), seed=7), FaultInjector(Faults(), seed=7)

    draws = [first.chance(0.5) for _ in range(50)]

    assert draws == [second.chance(0.5) for _ in range(50)]
    assert True in draws and False in draws
    assert not any(first.chance(0.0) for _ in range(10)) and all(first.chance(1.0) for _ in range(10))


def test_qps_token_bucket() -> None:
    clock = FakeClock(100.0)
    faults = FaultInjector(Faults(qps={"scan": 2}), seed=0, clock=clock)

    assert [faults.take_token("scan") for _ in range(3)] == [True, True, False]
    assert faults.take_token("results")  # no limit for results
    clock.now += 0.5
    assert faults.take_token("scan") and not faults.take_token("scan")


def test_ids_look_like_greens_and_repeat_per_seed() -> None:
    ids = IdSource(3)
    task_ids = [ids.task_id() for _ in range(5)]

    assert all(re.fullmatch(r"img[A-Za-z0-9]{22}-[A-Za-z0-9]{6}", task_id) for task_id in task_ids)
    assert len(set(task_ids)) == 5
    assert IdSource(3).task_id() == task_ids[0]
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", ids.request_id())


def test_counters_snapshot_has_the_well_known_keys() -> None:
    counters = Counters()
    counters.inc("responses", "scan", "code", 588)
    counters.inc("callbacks", "sent", by=2)

    snapshot = counters.snapshot()

    assert snapshot["calls"] == {"scan": 0, "asyncscan": 0, "results": 0, "feedback": 0}
    assert snapshot["responses"]["scan"]["code"] == {"588": 1}
    assert snapshot["callbacks"]["sent"] == 2 and snapshot["callbacks"]["failed"] == 0
    assert snapshot["tasks_submitted"] == 0 and snapshot["gateway_rejections"] == {}
