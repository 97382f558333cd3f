"""Signed requests to the Green emulator over real HTTP, as a client of the 2018-05-09 image API sends them."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from green_emulator import RunningEmulator
from greenlight.green.signer import Credentials, http_date, sign_request

PATHS = {"scan": "/green/image/scan", "asyncscan": "/green/image/asyncscan", "results": "/green/image/results",
         "feedback": "/green/image/feedback"}
ACTIONS = {"scan": "ImageSyncScan", "asyncscan": "ImageAsyncScan", "results": "ImageAsyncScanResults",
           "feedback": "ImageScanFeedback"}


def post(emulator: RunningEmulator, operation: str, payload: Any, *, raw: bytes | None = None,
         content_type: str = "application/json", session: Any = requests, timeout: float = 10) -> requests.Response:
    """`payload` as JSON (or `raw` bytes), signed with the emulator's accepted key pair."""
    body = raw if raw is not None else json.dumps(payload).encode("utf-8")
    signed = sign_request(
        credentials=Credentials(emulator.config.access_key_id, emulator.config.access_key_secret),
        method="POST", path=PATHS[operation], body=body, date=http_date(time.time()),
        query={"RegionId": "cn-shanghai"}, content_type=content_type,
        headers={"x-acs-version": "2018-05-09", "x-acs-action": ACTIONS[operation], "x-acs-region-id": "cn-shanghai"},
    )
    response: requests.Response = session.post(emulator.url + signed.target, data=body, headers=signed.headers,
                                               timeout=timeout)
    return response
