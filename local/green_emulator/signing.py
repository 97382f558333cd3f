"""The gateway's side of ROA HMAC-SHA1 signing, rebuilt from the request as received.

Written from docs/green-protocol.md (Signing), independently of the product's signer: the emulator
is a second implementation, so a client that lays the string to sign out wrongly is refused instead
of agreeing with itself. The string to sign is six parts joined by "\\n":

    METHOD, Accept, Content-MD5, Content-Type, Date    (each as received; an empty line when absent)
    x-acs-* headers: names lower-cased, sorted, "name:value\\n" each, values verbatim,
    followed directly (no blank line) by path + "?" + the form-decoded query sorted by name, raw values
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_plus

STANDARD_HEADERS = ("Accept", "Content-MD5", "Content-Type", "Date")
SIGNED_PREFIX = "x-acs-"


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name, None when absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_query(raw: str) -> list[tuple[str, str | None]]:
    """Form-decode a query string ('+' is a space, %XX decoded), keeping blank values.

    A bare name (no '=') maps to None: the SDK signs it as the name alone, unlike `name=`.
    """
    pairs: list[tuple[str, str | None]] = []
    for part in raw.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value) if sep else None))
    return pairs


def signed_headers_block(headers: Mapping[str, str]) -> str:
    """Every x-acs-* header as "name:value\\n", names lower-cased and sorted by code point."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return "".join(f"{name}:{lowered[name]}\n" for name in sorted(lowered) if name.startswith(SIGNED_PREFIX))


def signed_resource(path: str, query: Sequence[tuple[str, str | None]]) -> str:
    """The path, then '?' and name=value pairs sorted by name (stable for repeats), values not encoded."""
    if not query:
        return path
    ordered = sorted(query, key=lambda pair: pair[0])
    return path + "?" + "&".join(name if value is None else f"{name}={value}" for name, value in ordered)


def rebuild_string_to_sign(method: str, path: str, raw_query: str, headers: Mapping[str, str]) -> str:
    standard = [header_value(headers, name) or "" for name in STANDARD_HEADERS]
    return "\n".join([method, *standard, signed_headers_block(headers) + signed_resource(path, parse_query(raw_query))])


def hmac_sha1_base64(secret: str, text: str) -> str:
    """Standard (not URL-safe) base64 of HMAC-SHA1 keyed by the UTF-8 secret over the UTF-8 text."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()).decode()


def body_md5_base64(body: bytes) -> str:
    """What Content-MD5 must say: base64 of the 16 raw MD5 bytes of the exact body."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")  # noqa: S324 - the protocol's choice


def same_text(given: str, expected: str) -> bool:
    """Constant-time comparison, so a forger learns nothing from how long a refusal takes."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))
