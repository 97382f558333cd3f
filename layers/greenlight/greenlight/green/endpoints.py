"""Where Green is: the public endpoint of each region, or an override (docs/green-protocol.md, §2.1 Hosts).

Kept apart from the client so configuration can validate an endpoint without loading `requests`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from greenlight.green.wire import REGIONS


class EndpointError(ValueError):
    pass


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address, exactly (not a name that merely starts like one)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_for_region(region: str) -> str:
    if region not in REGIONS:
        raise EndpointError(f"unknown Green region {region!r}; expected one of {', '.join(REGIONS)}")
    return f"https://green.{region}.aliyuncs.com"


def normalise_endpoint(endpoint: str) -> str:
    """A host or URL as a base URL. HTTPS unless it points at a local emulator on loopback."""
    url = endpoint if "://" in endpoint else "https://" + endpoint
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"endpoint {endpoint!r} is not a host or an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise EndpointError("plain http is only for a local emulator on loopback; use https")
    return f"{parts.scheme}://{parts.netloc}"
