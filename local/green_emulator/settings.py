"""The table of settings: every one declared once (name, parser, help). The environment reader, the
argparse flags, the runtime coercion of fault changes and the documentation check in the tests are
all built from it. Variables are GREEN_EMULATOR_<NAME>; flags are --<name-with-dashes>.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "GREEN_EMULATOR_"


class ConfigError(ValueError):
    """A setting is malformed; the message names the variable or flag."""


# -- parsers: text (a variable, a flag, or a string sent to POST /_emulator/faults) to a value ---------

def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def parse_optional(raw: str) -> str | None:
    return raw or None


def parse_hosts(raw: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())


def _json_or(raw: str, opening: str) -> Any:
    text = raw.strip()
    return json.loads(text) if text.startswith(opening) else None


def parse_qps(raw: str) -> dict[str, float]:
    """Either JSON ({"scan": 50}) or scan=50,feedback=20."""
    loaded = _json_or(raw, "{")
    if loaded is not None:
        return {str(op): float(limit) for op, limit in loaded.items()}
    limits: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        op, sep, limit = part.partition("=")
        if not sep:
            raise ValueError(f"expected op=limit, got {part!r}")
        limits[op.strip()] = float(limit)
    return limits


def parse_names(raw: str) -> tuple[str, ...]:
    """Either a JSON list or a comma list; blank means none."""
    loaded = _json_or(raw, "[")
    if loaded is not None:
        return tuple(str(name) for name in loaded)
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_codes(raw: str) -> tuple[int, ...]:
    return tuple(int(code) for code in parse_names(raw))


def parse_biz_types(raw: str) -> dict[str, tuple[str, ...]]:
    """Either JSON ({"strict": ["porn", "terrorism"]}) or strict=porn+terrorism,ads=ad."""
    loaded = _json_or(raw, "{")
    if loaded is not None:
        return {str(name): tuple(str(scene) for scene in scenes) for name, scenes in loaded.items()}
    mapping: dict[str, tuple[str, ...]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, scenes = part.partition("=")
        if not sep:
            raise ValueError(f"expected bizType=scene+scene, got {part!r}")
        mapping[name.strip()] = tuple(scene.strip() for scene in scenes.split("+") if scene.strip())
    return mapping


def parse_outage_mode(raw: str) -> str:
    mode = raw.strip().lower()
    return "" if mode in ("none", "off") else mode


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse_from(self, raw: str, source: str) -> Any:
        try:
            return self.parse(raw)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{source}={raw!r} is not valid: {exc}") from exc


_S = Setting
SETTINGS: tuple[Setting, ...] = (
    # identity, network, limits (EmulatorConfig)
    _S("host", str, "address to bind (default 127.0.0.1; admin routes answer loopback clients only)"),
    _S("port", int, "port to bind (default 8600; 0 picks a free port)"),
    _S("access_key_id", str, "accepted AccessKeyId (default LTAI-local-emulator)"),
    _S("access_key_secret", str, "its secret (default local-emulator-secret)"),
    _S("uid", str, "account uid used in callback checksums (default 1234567890123456)"),
    _S("sts_access_key_id", parse_optional, "accepted STS key id, starting 'STS.' (default: STS off)"),
    _S("sts_access_key_secret", parse_optional, "its secret"),
    _S("sts_security_token", parse_optional, "the x-acs-security-token it must carry"),
    _S("download_timeout", float, "total seconds allowed per image download, else 592 (default 3)"),
    _S("max_image_bytes", int, "largest image in bytes, else 589 (default 20971520)"),
    _S("allowed_hosts", parse_hosts, "comma list of hosts the emulator may fetch from or call back "
                                     "(default 127.0.0.1,localhost,::1)"),
    _S("check_url_expiry", parse_bool, "answer 403 for presigned S3 URLs past X-Amz-Date + X-Amz-Expires "
                                       "(or Expires), as S3 would; moto does not (default true)"),
    _S("workers", int, "download/decode threads (default 8)"),
    _S("callback_workers", int, "callback sender threads (default 4)"),
    _S("callback_retries", int, "retries after a failed callback (default 3, so 4 attempts)"),
    _S("callback_retry_delay", float, "seconds between callback attempts (default 1)"),
    _S("callback_timeout", float, "HTTP timeout of one callback attempt, seconds (default 5)"),
    _S("max_result_ids", int, "most task ids per /green/image/results call (default 100)"),
    _S("time_window", float, "allowed Date skew in seconds (default 900)"),
    _S("nonce_ttl", float, "seconds a x-acs-signature-nonce is remembered (default 900)"),
    _S("max_nonces", int, "most nonces remembered at once (default 100000)"),
    _S("max_tasks", int, "most async tasks kept; the oldest are forgotten first (default 100000)"),
    _S("fault_seed", int, "seed of the fault, network and id generators (default 0)"),
    _S("log_requests", parse_bool, "log every request line to stderr (default false)"),
    # faults and behaviour (Faults: also changeable at runtime)
    _S("throttle_rate", float, "fraction of business requests answered with code 588 (default 0)"),
    _S("error_rate", float, "fraction of business requests answered HTTP 500/503 (default 0)"),
    _S("error_status", int, "500 or 503 for injected errors and 5xx outages; 0 picks at random (default 0)"),
    _S("gateway_throttle_rate", float, "fraction answered HTTP 400 Throttling.User by the gateway (default 0)"),
    _S("permission_deny_rate", float, "fraction answered HTTP 200 with body code 596 PERMISSION_DENY (default 0)"),
    _S("general_error_rate", float, "fraction answered HTTP 200 with body code 500 GENERAL_ERROR (default 0)"),
    _S("answer_lost_rate", float, "fraction of accepted scan/asyncscan requests whose answer is lost: "
                                  "the connection closes with no response (default 0)"),
    _S("results_omit_rate", float, "fraction of task ids in a results call left out of data (default 0)"),
    _S("task_submit_error_rate", float, "fraction of tasks answered at submit with a code from "
                                        "task_error_codes (default 0)"),
    _S("task_finish_error_rate", float, "fraction of async tasks that finish with a code from "
                                        "task_error_codes (default 0)"),
    _S("task_error_codes", parse_codes, "codes the task faults draw from "
                                        "(default 500,580,581,585,586,587,588,589,591,592,594,595)"),
    _S("download_failure_rate", float, "fraction of tasks failing 480 without a fetch (default 0)"),
    _S("url_expired_rate", float, "fraction of task downloads answered 403 as for an expired URL (default 0)"),
    _S("expire_rate", float, "fraction of finished async tasks forgotten at once (default 0)"),
    _S("callback_drop_rate", float, "fraction of callbacks never sent (default 0)"),
    _S("callback_duplicate_rate", float, "fraction of callbacks sent twice (default 0)"),
    _S("callback_delay", float, "extra random delay up to N seconds per callback (default 0)"),
    _S("outage_mode", parse_outage_mode, "during an outage every request fails with: 5xx, 588, 596, auth "
                                         "(404 InvalidAccessKeyId.NotFound) or signature (400 "
                                         "SignatureDoesNotMatch); empty = none (default none)"),
    _S("outage_seconds", float, "length of the outage window, from start or from when it is set (default 0)"),
    _S("fault_operations", parse_names, "operations the faults apply to (default scan,asyncscan,results,feedback)"),
    _S("processing_delay", float, "seconds from submission before an async result is available (default 1)"),
    _S("retention", float, "seconds an async task is kept before 594 EXPIRED (default 3600)"),
    _S("qps", parse_qps, "per-operation limits, e.g. scan=50,asyncscan=50,feedback=20; scans cost one per "
                         "image (default none)"),
    _S("biz_types", parse_biz_types, "bizType -> scenes, e.g. strict=porn+terrorism or JSON (default none)"),
    # network model (Faults: also changeable at runtime)
    _S("network_rtt", float, "round-trip seconds added to every API answer, download and callback (default 0)"),
    _S("network_jitter", float, "extra random seconds, up to N, on each such round trip (default 0)"),
    _S("network_connect_rtts", float, "extra round trips paid by the first request on a new API connection "
                                      "(TCP+TLS handshake; default 0)"),
    _S("image_processing_time", float, "seconds per image after its download before the result shows, "
                                       "sync and async (default 0)"),
    _S("image_processing_jitter", float, "extra random seconds, up to N, per image (default 0)"),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m green_emulator",
        description="Local emulator of Alibaba Cloud Content Moderation (Green) image API 2018-05-09.",
        epilog="Every flag has a GREEN_EMULATOR_<NAME> variable; flags win over variables.",
    )
    for setting in SETTINGS:
        if setting.parse is parse_bool:  # `--log-requests` alone means true; `--check-url-expiry false` works
            parser.add_argument(setting.flag, dest=setting.name, nargs="?", const="true", metavar="BOOL",
                                help=f"{setting.help} [{setting.env}]")
        else:
            parser.add_argument(setting.flag, dest=setting.name, metavar=setting.name.upper(),
                                help=f"{setting.help} [{setting.env}]")
    return parser
