"""Who may use the reviewer page, and how a request proves it comes from the page itself.

The page acts with the operator's AWS credentials, so:
- it listens on 127.0.0.1 only, and the Host header must name this server (127.0.0.1:port or
  localhost:port): a page of another site whose name was rebound to 127.0.0.1 gets nothing;
- other users of the machine can reach 127.0.0.1 too: each start makes an access key, in the URL the
  command prints; opening it sets an HttpOnly, SameSite=Strict session cookie and takes the key out of
  the address bar. Without that cookie the page, the queue and the actions answer 401;
- each start makes a CSRF token, written into the page (a same-origin response no other site can read).
  A POST must carry it in the X-CSRF-Token header, come from this origin (Origin, else Referer; and
  Sec-Fetch-Site same-origin when the browser sends it) and be JSON; anything else is refused with 403
  before it is read. No GET changes anything.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
CSRF_HEADER = "X-CSRF-Token"


def loopback_host(host: str) -> str:
    """The address to bind: 127.0.0.1, whatever loopback name was asked for; anything else is refused."""
    if host not in (LOOPBACK, "localhost"):
        raise ValueError(f"the review page listens on {LOOPBACK} only (not {host!r}): it acts with your credentials")
    return LOOPBACK


def _equal(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


@dataclass
class Guard:
    port: int = 0  # set once the server is bound (a random port by default)
    access_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    @property
    def cookie(self) -> str:
        """The session cookie's name: cookies are shared by every port of a host, so it names the port."""
        return f"greenlight_review_{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def launch_url(self) -> str:
        """The URL to open (once per browser): it carries the access key."""
        return f"{self.base_url}/?key={self.access_key}"

    def host_ok(self, host: str | None) -> bool:
        return (host or "").lower() in self.hosts

    def key_ok(self, key: str | None) -> bool:
        return _equal(key, self.access_key)

    def session_ok(self, cookie: str | None) -> bool:
        return _equal(cookie, self.session)

    def csrf_ok(self, token: str | None) -> bool:
        return _equal(token, self.csrf_token)

    def same_origin(self, origin: str | None, referer: str | None, fetch_site: str | None) -> bool:
        """Whether a request was made by a page of this server (a missing Origin and Referer is not)."""
        if fetch_site and fetch_site != "same-origin":
            return False
        if origin:
            return origin.lower() in self.origins
        if referer:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}".lower() in self.origins
        return False
