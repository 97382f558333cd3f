"""Deliberately wrong signers against the running emulator: each is built from the product signer's
own building blocks, then broken in one way a real signer could be. The emulator verifies with an
implementation of its own, so every one must be refused with 400 SignatureDoesNotMatch, while the
unbroken signature passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
import requests

from green_emulator import RunningEmulator
from greenlight.green.signer import canonical_headers, canonical_resource, content_md5, http_date, signature

pytestmark = pytest.mark.integration
PATH = "/green/image/results"
BODY = b'["img-no-such-task"]'
SIGNATURE_NOT_MATCHED = "Specified signature is not matched with our calculation. server string to sign is:"
QUERY = {"RegionId": "cn-shanghai", "ClientInfo": '{"ip":"10.0.0.1","userNick":"Mike & Co=1"}'}


@dataclass
class Draft:
    """One request before signing: what a signer sees and may get wrong."""

    headers: dict[str, str]
    query: dict[str, str]
    secret: str

    def standard_lines(self) -> list[str]:
        return ["POST", *(self.headers.get(name, "") for name in ("Accept", "Content-MD5", "Content-Type", "Date"))]

    def correct(self) -> str:
        pairs = sorted(self.query.items())
        return "\n".join(self.standard_lines()) + "\n" + canonical_headers(self.headers) + canonical_resource(PATH,
                                                                                                             pairs)


def draft(emulator: RunningEmulator) -> Draft:
    headers = {"Accept": "application/json", "Content-MD5": content_md5(BODY), "Content-Type": "application/json",
               "Date": http_date(time.time()), "x-acs-version": "2018-05-09", "x-acs-action": "ImageAsyncScanResults",
               "x-acs-region-id": "cn-shanghai", "x-acs-signature-method": "HMAC-SHA1",
               "x-acs-signature-version": "1.0"}
    return Draft(headers, dict(QUERY), emulator.config.access_key_secret)


def swapped_lines(d: Draft) -> str:
    lines = d.correct().split("\n")
    lines[2], lines[3] = lines[3], lines[2]  # Content-MD5 and Content-Type
    return "\n".join(lines)


def headers_sorted_backwards(d: Draft) -> str:
    block = "".join(f"{name}:{value}\n" for name, value in sorted(
        ((k.lower(), v) for k, v in d.headers.items() if k.lower().startswith("x-acs-")), reverse=True))
    return "\n".join(d.standard_lines()) + "\n" + block + canonical_resource(PATH, sorted(d.query.items()))


def query_values_url_encoded(d: Draft) -> str:
    pairs = sorted((name, quote(value, safe="")) for name, value in d.query.items())
    return "\n".join(d.standard_lines()) + "\n" + canonical_headers(d.headers) + canonical_resource(PATH, pairs)


def query_unsorted(d: Draft) -> str:
    resource = PATH + "?" + "&".join(f"{name}={value}" for name, value in sorted(d.query.items(), reverse=True))
    return "\n".join(d.standard_lines()) + "\n" + canonical_headers(d.headers) + resource


def missing_accept_line_dropped(d: Draft) -> str:
    del d.headers["Accept"]  # sent without Accept, and the signer skips the line instead of leaving it empty
    lines = d.correct().split("\n")
    del lines[1]
    return "\n".join(lines)


def blank_line_before_resource(d: Draft) -> str:
    return "\n".join(d.standard_lines()) + "\n" + canonical_headers(d.headers) + "\n" + canonical_resource(
        PATH, sorted(d.query.items()))


def header_names_not_lowered(d: Draft) -> str:
    d.headers = {("X-Acs-" + k[6:].title() if k.startswith("x-acs-") else k): v for k, v in d.headers.items()}
    block = "".join(f"{k}:{d.headers[k]}\n" for k in sorted(k for k in d.headers if k.lower().startswith("x-acs-")))
    return "\n".join(d.standard_lines()) + "\n" + block + canonical_resource(PATH, sorted(d.query.items()))


def wrong_secret(d: Draft) -> str:
    d.secret = d.secret + "-old"
    return d.correct()


def send(emulator: RunningEmulator, build: Callable[[Draft], str]) -> tuple[requests.Response, Draft]:
    d = draft(emulator)
    text = build(d)
    headers: dict[str, str | None] = {"Accept": None}  # requests would add "Accept: */*" to a request without one
    headers.update(d.headers, Authorization=f"acs {emulator.config.access_key_id}:{signature(d.secret, text)}")
    return requests.post(f"{emulator.url}{PATH}?{urlencode(d.query)}", data=BODY, headers=headers, timeout=5), d


WRONG_SIGNERS = [swapped_lines, headers_sorted_backwards, query_values_url_encoded, query_unsorted,
                 missing_accept_line_dropped, blank_line_before_resource, header_names_not_lowered, wrong_secret]


def test_the_unbroken_signer_passes(emulator: RunningEmulator) -> None:
    response, _ = send(emulator, Draft.correct)

    assert response.status_code == 200, response.text
    assert response.json()["data"] == [{"code": 594, "msg": "EXPIRED", "taskId": "img-no-such-task"}]


@pytest.mark.parametrize("build", WRONG_SIGNERS, ids=[build.__name__ for build in WRONG_SIGNERS])
def test_a_wrong_signer_is_refused(emulator: RunningEmulator, build: Callable[[Draft], str]) -> None:
    response, sent = send(emulator, build)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Code"] == "SignatureDoesNotMatch"
    # The gateway answers with its own string to sign: the right layout of what was sent.
    assert body["Message"] == SIGNATURE_NOT_MATCHED + sent.correct()
    assert emulator.stats()["gateway_rejections"] == {"SignatureDoesNotMatch": 1}

