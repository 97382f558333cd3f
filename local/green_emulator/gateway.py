"""The POP gateway in front of Green: authentication checks in the order of reference sections 7 and 10.

The string to sign is rebuilt from the request as received and signed with greenlight.green.signer, so the
emulator and the client can only agree when both follow the SDK's layout.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import unquote_plus

from greenlight.green.signer import (
    API_VERSION,
    SIGNATURE_METHOD,
    SIGNATURE_VERSION,
    Credentials,
    content_md5,
    signature,
    string_to_sign,
)

API_NOT_FOUND = "Specified api is not found, please check your url and method."
MD5_NOT_MATCHED = "Specified content md5 is not matched with your request body."
SIGNATURE_NOT_MATCHED = "Specified signature is not matched with our calculation. server string to sign is:"
RECOMMEND = "https://error-center.aliyun.com/status/search?Keyword={code}&source=PopGw"


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as it arrived: the raw query string, headers by their received names, body bytes."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


# An accepted key pair (and, for STS, the token it must carry) is a signer Credentials.
Account = Credentials


@dataclass(frozen=True)
class Rejection:
    """A gateway error: HTTP status plus the capitalised Code and Message."""

    status: int
    code: str
    message: str

    def body(self, request_id: str, host_id: str) -> dict[str, str]:
        return {
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": RECOMMEND.format(code=self.code),
        }


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


def parse_query(raw: str) -> list[tuple[str, str | None]]:
    """Form-decode a query ('+' is a space), keeping blank values; a bare name (no '=') maps to None.

    This is urllib.parse.parse_qsl(keep_blank_values=True) except for the bare-name case, which the
    SDK signs as the name alone (reference 2.5).
    """
    pairs: list[tuple[str, str | None]] = []
    for part in raw.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value) if sep else None))
    return pairs


def server_string_to_sign(request: ReceivedRequest) -> str:
    return string_to_sign(request.method, request.path, parse_query(request.query), request.headers)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of two header values."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


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
        server_sts = server_string_to_sign(request)
        auth = _parse_authorization(request.header("Authorization"))
        method = request.header("x-acs-signature-method")
        sig_version = request.header("x-acs-signature-version")
        if auth is None or method not in (None, SIGNATURE_METHOD) or sig_version not in (None, SIGNATURE_VERSION):
            return Rejection(400, "IncompleteSignature",
                             "The request signature does not conform to Aliyun standards. "
                             f"server string to sign is:{server_sts}")
        if request.header("x-acs-version") != API_VERSION:
            return Rejection(400, "InvalidAction.NotFound", API_NOT_FOUND)
        key_id, given_signature = auth
        account = self._accounts.get(key_id)
        if account is None:
            return Rejection(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        sent_at = _parse_date(request.header("Date"))
        if sent_at is None or abs(self._clock() - sent_at) > self._window:
            return Rejection(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        md5 = request.header("Content-MD5")
        if md5 and not _same(md5, content_md5(request.body)):
            return Rejection(400, "ContentMD5NotMatched", MD5_NOT_MATCHED)
        nonce = request.header("x-acs-signature-nonce")
        if nonce and self._nonces.seen(nonce):
            return Rejection(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        if account.security_token is not None:
            token = request.header("x-acs-security-token")
            if not token:
                return Rejection(400, "InvalidSecurityToken.Missing", "Specified SecurityToken is missing.")
            if not _same(token, account.security_token):
                return Rejection(400, "InvalidSecurityToken.Mismatch",
                                 "Specified SecurityToken is not matched with the AccessKeyId.")
        expected = signature(account.access_key_secret, server_sts)
        if not _same(given_signature, expected):
            return Rejection(400, "SignatureDoesNotMatch", SIGNATURE_NOT_MATCHED + server_sts)
        # Remember the nonce only once the request is authentic, atomically against a concurrent replay.
        if nonce and not self._nonces.add(nonce):
            return Rejection(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        return None
