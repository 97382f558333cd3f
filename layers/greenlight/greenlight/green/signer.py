"""ROA HMAC-SHA1 request signing, exactly as Alibaba's official Python SDK computes it.

Pure functions: the Date and the nonce are inputs, so every output can be pinned by a test.
The layout (docs/green-protocol.md, §3.2 String to sign) is::

    METHOD \\n Accept \\n Content-MD5 \\n Content-Type \\n Date \\n
    x-acs-* headers, lower-cased, sorted, "name:value\\n" each
    path[?name=value&... sorted by name, values raw (not URL-encoded)]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import urlencode

API_VERSION = "2018-05-09"
SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
ACS_PREFIX = "x-acs-"


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, optionally an STS one with its security token."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SignedRequest:
    """Everything needed to put a signed request on the wire."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes
    string_to_sign: str

    @property
    def target(self) -> str:
        """Path plus the query, form-encoded the way the SDK sends it (spaces as '+')."""
        if not self.query:
            return self.path
        return f"{self.path}?{urlencode(self.query)}"


def http_date(epoch_seconds: float) -> str:
    """RFC 1123 date in GMT, independent of the process locale (unlike time.strftime)."""
    return formatdate(epoch_seconds, usegmt=True)


def content_md5(body: bytes) -> str:
    """Base64 of the raw MD5 digest of the exact body bytes."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")  # noqa: S324 - protocol-mandated


def canonical_headers(headers: Mapping[str, str]) -> str:
    """Every x-acs-* header, name lower-cased, sorted by name, value verbatim."""
    acs = {name.lower(): value for name, value in headers.items() if name.lower().startswith(ACS_PREFIX)}
    return "".join(f"{name}:{acs[name]}\n" for name in sorted(acs))


def canonical_resource(path: str, query: Iterable[tuple[str, str | None]]) -> str:
    """Path plus the query sorted by name with raw values; a None value is written as the name alone."""
    pairs = sorted(query, key=lambda pair: pair[0])
    if not pairs:
        return path
    return path + "?" + "&".join(name if value is None else f"{name}={value}" for name, value in pairs)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def string_to_sign(
    method: str,
    path: str,
    query: Iterable[tuple[str, str | None]],
    headers: Mapping[str, str],
) -> str:
    """The string the signature covers. Absent standard headers still yield an empty line."""
    return "\n".join(
        [
            method.upper(),
            _header(headers, "Accept"),
            _header(headers, "Content-MD5"),
            _header(headers, "Content-Type"),
            _header(headers, "Date"),
            canonical_headers(headers) + canonical_resource(path, query),
        ]
    )


def signature(secret: str, text: str) -> str:
    """Standard base64 of HMAC-SHA1(secret, text), both UTF-8."""
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_request(
    *,
    credentials: Credentials,
    method: str,
    path: str,
    body: bytes,
    date: str,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    accept: str = "application/json",
    content_type: str = "application/json",
    nonce: str | None = None,
) -> SignedRequest:
    """Sign one ROA request.

    `headers` carries the request's own x-acs-* headers (x-acs-version, x-acs-action,
    x-acs-region-id, ...). The signer adds Accept, Content-MD5, Content-Type, Date, the signature
    method and version, the STS token when the credentials carry one, and the nonce when given.
    """
    all_headers: dict[str, str] = dict(headers or {})
    all_headers.update(
        {
            "Accept": accept,
            "Content-MD5": content_md5(body),
            "Content-Type": content_type,
            "Date": date,
            "x-acs-signature-method": SIGNATURE_METHOD,
            "x-acs-signature-version": SIGNATURE_VERSION,
        }
    )
    if credentials.security_token:
        all_headers["x-acs-security-token"] = credentials.security_token
    if nonce:
        all_headers["x-acs-signature-nonce"] = nonce
    query_pairs = tuple(sorted((query or {}).items()))
    text = string_to_sign(method, path, query_pairs, all_headers)
    all_headers["Authorization"] = f"acs {credentials.access_key_id}:{signature(credentials.access_key_secret, text)}"
    return SignedRequest(
        method=method.upper(),
        path=path,
        query=query_pairs,
        headers=all_headers,
        body=body,
        string_to_sign=text,
    )
