"""greenlight.green.signer and greenlight.green.checksum against the official SDK's vectors
(docs/green-protocol.md §3.11) and the SDK itself.

The SDK (aliyun-python-sdk-core 2.16.1) is the oracle: for random inputs our signer must produce its
string to sign and headers, and its requests must pass the emulator's gateway verifier.
"""

from __future__ import annotations

import json
import string
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

import pytest
from aliyunsdkgreen.request.v20180509.ImageAsyncScanRequest import ImageAsyncScanRequest
from aliyunsdkgreen.request.v20180509.ImageAsyncScanResultsRequest import ImageAsyncScanResultsRequest
from aliyunsdkgreen.request.v20180509.ImageScanFeedbackRequest import ImageScanFeedbackRequest
from aliyunsdkgreen.request.v20180509.ImageSyncScanRequest import ImageSyncScanRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from green_emulator.gateway import Account, Gateway, NonceCache, ReceivedRequest, server_string_to_sign
from greenlight.green.checksum import callback_checksum, verify_callback_checksum
from greenlight.green.signer import Credentials, content_md5, http_date, sign_request, signature, string_to_sign

VECTORS_PATH = Path(__file__).parent / "fixtures" / "signing_vectors.json"  # docs/green-protocol.md §3.11
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
FIXED_DATE = "Tue, 14 Mar 2017 06:29:50 GMT"
FIXED_EPOCH = parsedate_to_datetime(FIXED_DATE).timestamp()
REGIONS = ("cn-shanghai", "cn-beijing", "cn-shenzhen", "ap-southeast-1")
SDK_REQUESTS = (ImageSyncScanRequest, ImageAsyncScanRequest, ImageAsyncScanResultsRequest, ImageScanFeedbackRequest)


def vector_ids() -> list[str]:
    return [vector["name"].split()[0] for vector in VECTORS["vectors"]]


def split_request_line(line: str) -> tuple[str, str, str]:
    method, target = line.split(" ", 1)
    parts = urlsplit(target)
    return method, parts.path, parts.query


def sign_vector(vector: dict[str, Any]) -> Any:
    inputs, expected = vector["inputs"], vector["expected"]
    method, path, query = split_request_line(expected["request_line"])
    own_headers = {name: value for name, value in expected["headers"].items()
                   if name in ("x-acs-version", "x-acs-action", "x-acs-region-id")}
    return sign_request(
        credentials=Credentials(inputs["access_key_id"], inputs["access_key_secret"], inputs["security_token"]),
        method=method,
        path=path,
        body=inputs["body"].encode("utf-8"),
        date=inputs["fixed_date"],
        query=dict(parse_qsl(query, keep_blank_values=True)),
        headers=own_headers,
        accept=expected["headers"]["Accept"],
        content_type=expected["headers"]["Content-Type"],
        nonce=expected["headers"].get("x-acs-signature-nonce"),
    )


def vector_gateway() -> Gateway:
    accounts = {}
    for vector in VECTORS["vectors"]:
        inputs = vector["inputs"]
        accounts[inputs["access_key_id"]] = Account(inputs["access_key_id"], inputs["access_key_secret"],
                                                    inputs["security_token"])
    return Gateway(accounts.values(), nonces=NonceCache(900, 100), clock=lambda: FIXED_EPOCH)


# -- the five reference vectors -------------------------------------------------------------------

@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=vector_ids())
def test_vector_string_to_sign_headers_signature_and_request_line(vector: dict[str, Any]) -> None:
    # Given the vector's inputs, When we sign, Then every output matches the SDK's byte for byte.
    expected = vector["expected"]
    signed = sign_vector(vector)

    assert signed.string_to_sign == expected["string_to_sign"]
    assert signed.headers == expected["headers"]
    assert signature(vector["inputs"]["access_key_secret"], signed.string_to_sign) == expected["signature"]
    assert f"{signed.method} {signed.target}" == expected["request_line"]
    assert content_md5(vector["inputs"]["body"].encode("utf-8")) == expected["headers"]["Content-MD5"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=vector_ids())
def test_vector_string_to_sign_from_received_headers(vector: dict[str, Any]) -> None:
    # The verifier's side: rebuild from the wire form (form-encoded query) and the received headers.
    expected = vector["expected"]
    method, path, query = split_request_line(expected["request_line"])
    received = ReceivedRequest(method, path, query, expected["headers"], vector["inputs"]["body"].encode("utf-8"))

    assert server_string_to_sign(received) == expected["string_to_sign"]
    assert string_to_sign(method, path, parse_qsl(query), expected["headers"]) == expected["string_to_sign"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=vector_ids())
def test_vector_passes_the_emulator_gateway(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    method, path, query = split_request_line(expected["request_line"])
    received = ReceivedRequest(method, path, query, expected["headers"], vector["inputs"]["body"].encode("utf-8"))

    assert vector_gateway().check(received) is None


def test_vector_with_a_flipped_signature_is_refused_with_the_server_string_to_sign() -> None:
    vector = VECTORS["vectors"][0]
    expected = vector["expected"]
    method, path, query = split_request_line(expected["request_line"])
    headers = dict(expected["headers"], Authorization="acs testAccessKeyId:AAAAAAAAAAAAAAAAAAAAAAAAAAA=")

    rejection = vector_gateway().check(ReceivedRequest(method, path, query, headers, vector["inputs"]["body"].encode()))

    assert rejection is not None
    assert (rejection.status, rejection.code) == (400, "SignatureDoesNotMatch")
    assert rejection.message == ("Specified signature is not matched with our calculation. server string to sign is:"
                                 + expected["string_to_sign"])


# -- callback checksum ------------------------------------------------------------------------------

def test_callback_checksum_vector() -> None:
    vector = VECTORS["callback_checksum"]
    assert callback_checksum(vector["uid"], vector["seed"], vector["content"]) == vector["sha256_hex"]


def test_verify_callback_checksum_accepts_current_or_previous_seed_only() -> None:
    vector = VECTORS["callback_checksum"]
    uid, content, checksum = vector["uid"], vector["content"], vector["sha256_hex"]

    assert verify_callback_checksum(checksum, uid, [vector["seed"]], content)
    assert verify_callback_checksum(checksum, uid, ["n3w_seed", vector["seed"]], content)  # during a rotation
    assert verify_callback_checksum(checksum.upper(), uid, [vector["seed"]], content)
    assert not verify_callback_checksum(checksum, uid, ["n3w_seed", "older"], content)
    assert not verify_callback_checksum(checksum, uid, [], content)
    assert not verify_callback_checksum(checksum, "6543210987654321", [vector["seed"]], content)
    assert not verify_callback_checksum(checksum, uid, [vector["seed"]], content + " ")
    assert not verify_callback_checksum(vector["sm3_hex"], uid, [vector["seed"]], content)


# -- dates ------------------------------------------------------------------------------------------

def test_http_date_formats_known_epochs() -> None:
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(FIXED_EPOCH) == FIXED_DATE


def test_http_date_does_not_depend_on_the_locale() -> None:
    # time.strftime is what makes the SDK locale-sensitive; http_date must not go through it.
    def localised(*args: object) -> str:
        raise AssertionError("time.strftime was used")

    with mock.patch("time.strftime", localised):
        assert http_date(FIXED_EPOCH) == FIXED_DATE


# -- property-based: our signer == the SDK's -------------------------------------------------------

query_values = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.lists(st.sampled_from([" ", "&", "=", '"', "'", "+", "%", "{", "}", ":", ",", "?", "#", "/", "误判", "é"]),
             max_size=12).map("".join),
)
bodies = st.one_of(st.binary(max_size=400), st.text(max_size=120).map(lambda text: text.encode("utf-8")))
tokens = st.text(string.ascii_letters + string.digits + "+/=._-", min_size=1, max_size=60)
param_names = st.sampled_from(["ClientInfo", "clientInfo", "Extra", "a", "Z_z"])


def sdk_sign(request_class: Any, *, key_id: str, secret: str, token: str | None, region: str, body: bytes,
             content_type: str, query: dict[str, str], nonce: str | None) -> Any:
    """Sign with the SDK's own code, the clock pinned, the way AcsClient and StsTokenSigner do."""
    request = request_class()
    request.set_accept_format("JSON")
    request.set_content(body)
    request.set_content_type(content_type)
    for name, value in query.items():
        request.add_query_param(name, value)
    if token is not None:
        request.add_header("x-acs-security-token", token)
    if nonce is not None:
        request.add_header("x-acs-signature-nonce", nonce)
    with mock.patch("aliyunsdkcore.utils.parameter_helper.get_rfc_2616_date", return_value=FIXED_DATE):
        headers = request.get_signed_header(region, key_id, secret)
    return request, headers, request.get_url(region)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request_class=st.sampled_from(SDK_REQUESTS),
    region=st.sampled_from(REGIONS),
    body=bodies,
    content_type=st.sampled_from(["application/json", "application/octet-stream", "application/json; charset=utf-8"]),
    query=st.dictionaries(param_names, query_values, max_size=3),
    token=st.none() | tokens,
    nonce=st.none() | st.uuids().map(str),
    secret=st.text(string.ascii_letters + string.digits, min_size=8, max_size=30),
)
def test_sign_request_matches_the_official_sdk(request_class: Any, region: str, body: bytes, content_type: str,
                                                query: dict[str, str], token: str | None, nonce: str | None,
                                                secret: str) -> None:
    key_id = "STS.propertyKey" if token else "propertyKey"
    request, sdk_headers, sdk_url = sdk_sign(request_class, key_id=key_id, secret=secret, token=token, region=region,
                                             body=body, content_type=content_type, query=query, nonce=nonce)

    ours = sign_request(
        credentials=Credentials(key_id, secret, token),
        method="POST",
        path=request.get_uri_pattern(),
        body=body,
        date=FIXED_DATE,
        query={**query, "RegionId": region},
        headers={"x-acs-version": "2018-05-09", "x-acs-action": request.get_action_name(), "x-acs-region-id": region},
        content_type=content_type,
        nonce=nonce,
    )

    assert ours.string_to_sign == request.string_to_sign
    for name, value in ours.headers.items():
        assert sdk_headers[name] == value, name
    assert {n.lower() for n in sdk_headers if n.lower().startswith("x-acs-")} == {
        n.lower() for n in ours.headers if n.lower().startswith("x-acs-")}
    sdk_target = urlsplit(sdk_url)
    assert sdk_target.path == ours.path
    assert sorted(parse_qsl(sdk_target.query, keep_blank_values=True)) == sorted(
        parse_qsl(urlsplit(ours.target).query, keep_blank_values=True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request_class=st.sampled_from(SDK_REQUESTS),
    region=st.sampled_from(REGIONS),
    body=bodies,
    query=st.dictionaries(param_names, query_values, max_size=3),
    token=st.none() | tokens,
    nonce=st.none() | st.uuids().map(str),
)
def test_sdk_signed_requests_pass_the_emulator_gateway(request_class: Any, region: str, body: bytes,
                                                       query: dict[str, str], token: str | None,
                                                       nonce: str | None) -> None:
    key_id = "STS.propertyKey" if token else "propertyKey"
    secret = "property-secret"
    _, headers, url = sdk_sign(request_class, key_id=key_id, secret=secret, token=token, region=region, body=body,
                               content_type="application/octet-stream", query=query, nonce=nonce)
    gateway = Gateway([Account(key_id, secret, token)], nonces=NonceCache(900, 100), clock=lambda: FIXED_EPOCH)
    target = urlsplit(url)
    received = ReceivedRequest("POST", target.path, target.query, headers, body)

    assert gateway.check(received) is None
    if nonce is not None:  # the same nonce again is a replay
        replay = gateway.check(received)
        assert replay is not None and replay.code == "SignatureNonceUsed"
    else:  # no nonce: the identical request passes again
        assert gateway.check(received) is None
