"""Fetching and decoding task images, mapped to Green's per-task codes (docs/green-protocol.md, Image
limits and Codes).

Only hosts in `allowed_hosts` (loopback by default) are ever contacted, redirects included. A
presigned S3 URL past its expiry is answered 403 without a fetch, as S3 would answer it: moto, the
local S3, does not check expiry.
"""

from __future__ import annotations

import io
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
import urllib3
from PIL import Image

from green_emulator.counters import Counters
from green_emulator.protocol import GIF_MAX_PIXELS

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
MAX_SIDE = 30_000
MAX_PIXELS = 250_000_000
# Pixel data is decoded fully (to catch truncated files) only up to this size, to bound memory.
FULL_DECODE_PIXELS = 40_000_000
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """A per-task outcome: code 200 with the bytes, or a failure code and msg."""

    code: int
    msg: str
    content: bytes | None = None
    image: Image.Image | None = None


def failure(code: int, msg: str) -> Fetched:
    return Fetched(code, msg)


class Downloader:
    def __init__(
        self,
        *,
        timeout: float,
        max_bytes: int,
        allowed_hosts: tuple[str, ...],
        counters: Counters,
        pool_size: int = 8,
        check_url_expiry: bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self.check_url_expiry = check_url_expiry
        self._wall_clock = wall_clock
        self.max_bytes = max_bytes
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self._counters = counters
        self._session = requests.Session()
        self._session.trust_env = False  # never route through a proxy from the environment
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._session.close()

    def allowed(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return host in self.allowed_hosts

    def fetch(self, url: str) -> Fetched:
        """Download within the total deadline and the size cap, then decode."""
        if self.check_url_expiry and presigned_url_expired(url, self._wall_clock()):
            self._counters.inc("urls_expired")
            return failure(403, "FORBIDDEN")
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(url):
                hosts = ", ".join(sorted(self.allowed_hosts))
                return failure(480, f"DOWNLOAD_FAILED: the emulator fetches only from {hosts}")
            outcome = self._get(url, deadline)
            if isinstance(outcome, str):
                url = outcome
                continue
            if outcome.code != 200 or outcome.content is None:
                return outcome
            return decode(outcome.content)
        return failure(480, "DOWNLOAD_FAILED: too many redirects")

    def _get(self, url: str, deadline: float) -> Fetched | str:
        """One GET: a Fetched, or the next URL when redirected."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return failure(592, "DOWNLOAD_TIMEOUT")
        self._counters.inc("downloads")
        try:
            response = self._session.get(url, stream=True, timeout=(remaining, remaining), allow_redirects=False)
        except requests.Timeout:
            return failure(592, "DOWNLOAD_TIMEOUT")
        except requests.RequestException as exc:
            return failure(480, f"DOWNLOAD_FAILED: {type(exc).__name__}")
        with response:
            if response.is_redirect and response.headers.get("Location"):
                return urljoin(url, response.headers["Location"])
            if response.status_code == 403:
                return failure(403, "FORBIDDEN")
            if response.status_code == 404:
                return failure(404, "NOT_FOUND")
            if not 200 <= response.status_code < 300:
                return failure(480, f"DOWNLOAD_FAILED: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                return failure(589, "TOO_LARGE")
            return self._read_body(response, deadline)

    def _read_body(self, response: requests.Response, deadline: float) -> Fetched:
        body = bytearray()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return failure(592, "DOWNLOAD_TIMEOUT")
                _set_read_timeout(response, remaining)
                chunk = response.raw.read1(CHUNK, decode_content=True)  # one recv: the deadline holds
                if not chunk:
                    break
                body += chunk
                if len(body) > self.max_bytes:
                    return failure(589, "TOO_LARGE")
        except Exception as exc:  # requests, urllib3 and socket errors all mean the transfer broke
            if _is_timeout(exc):
                return failure(592, "DOWNLOAD_TIMEOUT")
            return failure(480, f"DOWNLOAD_FAILED: {type(exc).__name__}")
        return Fetched(200, "OK", bytes(body))


def presigned_url_expired(url: str, now: float) -> bool:
    """Whether a presigned S3 URL is past its expiry: X-Amz-Date + X-Amz-Expires (SigV4) or the
    Expires epoch (SigV2). URLs that are not presigned never expire."""
    query = {name.lower(): values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    try:
        if "x-amz-date" in query and "x-amz-expires" in query:
            signed_at = datetime.strptime(query["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return now > signed_at.timestamp() + int(query["x-amz-expires"])
        if "expires" in query and "signature" in query:
            return now > int(query["expires"])
    except ValueError:
        return False  # not a presigned URL after all: S3 would judge the signature, not us
    return False


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Shrink the socket timeout to what is left of the total deadline (requests only sets it once)."""
    connection: Any = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(max(0.001, seconds))


def _is_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TimeoutError | requests.Timeout | urllib3.exceptions.TimeoutError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def decode(content: bytes) -> Fetched:
    """Accept PNG/JPEG/BMP/GIF/WEBP within Green's size limits, else 590 or 480."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(content), formats=FORMATS)
        except Image.DecompressionBombError:
            # Pillow refuses before telling us the size; anything that big breaks the limits or nearly so.
            return failure(480, f"DOWNLOAD_FAILED: image has too many pixels (limit {MAX_PIXELS})")
        except (OSError, ValueError, SyntaxError):
            return failure(590, "BAD_FORMAT")
        width, height = image.size
        if image.format == "GIF" and width * height > GIF_MAX_PIXELS:
            return failure(480, "GIF_TOO_MUCH_PIXELS")
        if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
            return failure(480, f"DOWNLOAD_FAILED: image is {width}x{height}; limits are {MAX_SIDE} px a side "
                                f"and {MAX_PIXELS} pixels")
        try:
            if width * height <= FULL_DECODE_PIXELS:
                image.load()
            else:
                Image.open(io.BytesIO(content), formats=FORMATS).verify()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return failure(590, "BAD_FORMAT")
    return Fetched(200, "OK", content, image)
