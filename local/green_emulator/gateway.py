"""The POP gateway in front of Green: authentication checks in the order of docs/green-protocol.md
(Gateway errors).

The string to sign is rebuilt from the request as received by green_emulator.signing, an
implementation of its own: the emulator and a client agree only when both follow the protocol.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

from green_emulator.protocol import (
    ACCESS_KEY_NOT_FOUND,
    API_NOT_FOUND,
    API_VERSION,
    SIGNATURE_METHOD,
    SIGNATURE_NOT_MATCHED,
    SIGNATURE_VERSION,
)
from green_emulator.replies import RECOMMEND, Rejection
from green_emulator.signing import (
    body_md5_base64,
    header_value,
    hmac_sha1_base64,
    parse_query,
    rebuild_string_to_sign,
    same_text,
)

__all__ = ["RECOMMEND", "Account", "Gateway", "NonceCache", "ReceivedRequest", "Rejection", "parse_query",
           "server_string_to_sign"]

MD5_NOT_MATCHED = "Specified content md5 is not matched with your request body."
INCOMPLETE_SIGNATURE = "The request signature does not conform to Aliyun standards. server string to sign is:"


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as it arrived: the raw query string, headers by their received names, body bytes."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class Account:
    """An accepted AccessKey pair; an STS one also names the x-acs-security-token it must carry."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def server_string_to_sign(request: ReceivedRequest) -> str:
    return rebuild_string_to_sign(request.method, request.path, request.query, request.headers)


def signature_mismatch(request: ReceivedRequest) -> Rejection:
    """The refusal for a wrong signature; the message ends with the gateway's own string to sign,
    which the official SDK compares with its own to report InvalidAccessKeySecret."""
    return Rejection(400, "SignatureDoesNotMatch", SIGNATURE_NOT_MATCHED + server_string_to_sign(request))


class NonceCache:
    """Nonces seen in the last `ttl` seconds, at most `max_entries` (the oldest are forgotten first)."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _purge(self, now: float) -> None:
        while self._seen:
            nonce, at = next(iter(self._seen.items()))
            if now - at < self._ttl and len(self._seen) <= self._max:
                break
            del self._seen[nonce]

    def seen(self, nonce: str) -> bool:
        with self._lock:
            self._purge(self._clock())
            return nonce in self._seen

    def add(self, nonce: str) -> bool:
        """Remember `nonce`; False when it was already there (a concurrent replay)."""
        with self._lock:
            now = self._clock()
            self._purge(now)
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            self._purge(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


def _parse_authorization(value: str | None) -> tuple[str, str] | None:
    if not value or not value.startswith("acs "):
        return None
    key_id, sep, sig = value[4:].partition(":")
    if not sep or not key_id or not sig or any(c.isspace() for c in key_id + sig):
        return None
    return key_id, sig


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class Gateway:
    """check() returns None for a request that may pass to Green, else the Rejection to answer."""

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        nonces: NonceCache,
        clock: Callable[[], float] = time.time,
        time_window: float = 900.0,
    ) -> None:
        self._accounts = {account.access_key_id: account for account in accounts}
        self._nonces = nonces
        self._clock = clock
        self._window = time_window

    def check(self, request: ReceivedRequest) -> Rejection | None:
        auth = _parse_authorization(request.header("Authorization"))
        method = request.header("x-acs-signature-method")
        sig_version = request.header("x-acs-signature-version")
        if auth is None or method not in (None, SIGNATURE_METHOD) or sig_version not in (None, SIGNATURE_VERSION):
            return Rejection(400, "IncompleteSignature", INCOMPLETE_SIGNATURE + server_string_to_sign(request))
        if request.header("x-acs-version") != API_VERSION:
            return Rejection(400, "InvalidAction.NotFound", API_NOT_FOUND)
        key_id, given_signature = auth
        account = self._accounts.get(key_id)
        if account is None:
            return Rejection(404, "InvalidAccessKeyId.NotFound", ACCESS_KEY_NOT_FOUND)
        sent_at = _parse_date(request.header("Date"))
        if sent_at is None or abs(self._clock() - sent_at) > self._window:
            return Rejection(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        md5 = request.header("Content-MD5")
        if md5 and not same_text(md5, body_md5_base64(request.body)):
            return Rejection(400, "ContentMD5NotMatched", MD5_NOT_MATCHED)
        nonce = request.header("x-acs-signature-nonce")
        if nonce and self._nonces.seen(nonce):
            return Rejection(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        if account.security_token is not None:
            token = request.header("x-acs-security-token")
            if not token:
                return Rejection(400, "InvalidSecurityToken.Missing", "Specified SecurityToken is missing.")
            if not same_text(token, account.security_token):
                return Rejection(400, "InvalidSecurityToken.Mismatch",
                                 "Specified SecurityToken is not matched with the AccessKeyId.")
        expected = hmac_sha1_base64(account.access_key_secret, server_string_to_sign(request))
        if not same_text(given_signature, expected):
            return signature_mismatch(request)
        # Remember the nonce only once the request is authentic, atomically against a concurrent replay.
        if nonce and not self._nonces.add(nonce):
            return Rejection(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        return None
