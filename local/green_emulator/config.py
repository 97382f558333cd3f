"""Emulator settings: one frozen dataclass, read from GREEN_EMULATOR_* variables and/or flags.

Every setting is declared once in SETTINGS (name, variable, parser, help); the environment reader,
the argparse flags and the documentation check in the tests are all built from that table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ACCESS_KEY_ID = "LTAI-local-emulator"
DEFAULT_ACCESS_KEY_SECRET = "local-emulator-secret"  # a throwaway local value, printed at start
DEFAULT_UID = "1234567890123456"
DEFAULT_PORT = 8600
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
OPERATIONS = ("scan", "asyncscan", "results", "feedback")
ENV_PREFIX = "GREEN_EMULATOR_"


@dataclass(frozen=True)
class Faults:
    """Behaviour that tests switch at runtime (set_faults, POST /_emulator/faults)."""

    throttle_rate: float = 0.0  # business requests answered with body code 588
    error_rate: float = 0.0  # business requests answered HTTP 500 or 503
    error_status: int = 0  # 500 or 503; 0 picks one at random per injected error
    download_failure_rate: float = 0.0  # tasks failing with 480 without fetching
    expire_rate: float = 0.0  # finished async tasks forgotten at once (594, no callback)
    callback_drop_rate: float = 0.0  # callbacks never sent
    callback_duplicate_rate: float = 0.0  # callbacks sent twice
    callback_delay: float = 0.0  # extra random delay, up to this many seconds, per callback
    processing_delay: float = 1.0  # seconds from submission before an async result is available
    retention: float = 3600.0  # seconds from submission before an async task is forgotten (594)
    qps: Mapping[str, float] = field(default_factory=dict)  # operation -> requests per second

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate", "download_failure_rate", "expire_rate",
                     "callback_drop_rate", "callback_duplicate_rate"):
            _check(name, 0.0 <= getattr(self, name) <= 1.0, "must be between 0 and 1")
        for name in ("callback_delay", "processing_delay", "retention"):
            value = getattr(self, name)
            _check(name, math.isfinite(value) and value >= 0, "must be a finite number >= 0")
        _check("error_status", self.error_status in (0, 500, 503), "must be 0, 500 or 503")
        for op, limit in self.qps.items():
            _check("qps", op in OPERATIONS, f"names unknown operation {op!r}; known: {', '.join(OPERATIONS)}")
            _check("qps", math.isfinite(limit) and limit > 0, f"limit for {op} must be > 0")

    def with_changes(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; values may be JSON types (ints for floats, strings)."""
        known = {f.name: f for f in dataclasses.fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}; known: {', '.join(sorted(known))}")
            coerced[name] = _coerce(name, value)
        return dataclasses.replace(self, **coerced)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["qps"] = dict(self.qps)
        return data


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator can be told. Defaults suit `python -m green_emulator`."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    access_key_id: str = DEFAULT_ACCESS_KEY_ID
    access_key_secret: str = field(default=DEFAULT_ACCESS_KEY_SECRET, repr=False)
    uid: str = DEFAULT_UID
    sts_access_key_id: str | None = None
    sts_access_key_secret: str | None = field(default=None, repr=False)
    sts_security_token: str | None = field(default=None, repr=False)
    download_timeout: float = 3.0
    max_image_bytes: int = 20 * 1024 * 1024
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    workers: int = 8
    callback_workers: int = 4
    callback_retries: int = 3
    callback_retry_delay: float = 1.0
    callback_timeout: float = 5.0
    max_result_ids: int = 100
    time_window: float = 900.0
    nonce_ttl: float = 900.0
    max_nonces: int = 100_000
    max_tasks: int = 100_000
    fault_seed: int = 0
    log_requests: bool = False
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        _check("port", 0 <= self.port <= 65535, "must be 0 to 65535")
        for name in ("access_key_id", "access_key_secret", "uid", "host"):
            _check(name, bool(getattr(self, name)), "must not be empty")
        sts = (self.sts_access_key_id, self.sts_access_key_secret, self.sts_security_token)
        _check("sts_access_key_id", all(sts) or not any(sts),
               "STS needs all three of key id, secret and security token")
        if self.sts_access_key_id:
            _check("sts_access_key_id", self.sts_access_key_id.startswith("STS."), "must start with 'STS.'")
            _check("sts_access_key_id", self.sts_access_key_id != self.access_key_id, "must differ from the AccessKey")
        for name in ("download_timeout", "callback_retry_delay", "callback_timeout", "time_window", "nonce_ttl"):
            value = getattr(self, name)
            _check(name, math.isfinite(value) and value > 0, "must be a finite number > 0")
        for name in ("max_image_bytes", "workers", "callback_workers", "max_result_ids", "max_nonces", "max_tasks"):
            _check(name, getattr(self, name) >= 1, "must be >= 1")
        _check("callback_retries", self.callback_retries >= 0, "must be >= 0")
        _check("allowed_hosts", all(self.allowed_hosts), "must not hold empty names")

    @property
    def sts_enabled(self) -> bool:
        return self.sts_access_key_id is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """Read every GREEN_EMULATOR_* variable; unset ones keep their defaults."""
        return cls.from_args([], environ)

    @classmethod
    def from_args(cls, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> EmulatorConfig:
        """Variables first, then command-line flags, which win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is not None and raw != "":
                values[setting.name] = setting.parse_from(raw, setting.env)
        flags = build_parser().parse_args(list(argv))
        for setting in SETTINGS:
            raw = getattr(flags, setting.name, None)
            if raw is not None:
                values[setting.name] = setting.parse_from(raw, setting.flag)
        fault_names = {f.name for f in dataclasses.fields(Faults)}
        faults = Faults(**{k: v for k, v in values.items() if k in fault_names})
        return cls(faults=faults, **{k: v for k, v in values.items() if k not in fault_names})


class ConfigError(ValueError):
    """A setting is malformed; the message names the variable or flag."""


def _check(name: str, ok: bool, problem: str) -> None:
    if not ok:
        setting = SETTINGS_BY_NAME.get(name)
        where = f"{setting.env} / {setting.flag}" if setting else name
        raise ConfigError(f"{name} ({where}) {problem}")


# -- parsers ------------------------------------------------------------------------------------

def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_optional(raw: str) -> str | None:
    return raw or None


def _parse_hosts(raw: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())


def _parse_qps(raw: str) -> dict[str, float]:
    """Either JSON ({"scan": 50}) or scan=50,feedback=20."""
    text = raw.strip()
    if text.startswith("{"):
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise ValueError("expected a JSON object")
        return {str(op): float(limit) for op, limit in loaded.items()}
    limits: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        op, sep, limit = part.partition("=")
        if not sep:
            raise ValueError(f"expected op=limit, got {part!r}")
        limits[op.strip()] = float(limit)
    return limits


def _coerce(name: str, value: Any) -> Any:
    """Turn a JSON value (admin route, set_faults) into the field's type."""
    if name == "qps":
        if isinstance(value, str):
            return _parse_qps(value)
        if not isinstance(value, Mapping):
            raise ConfigError("qps must be an object of operation -> limit")
        return {str(op): float(limit) for op, limit in value.items()}
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number")
    if name == "error_status":
        return int(value)
    return float(value)


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
        except ValueError as exc:
            raise ConfigError(f"{source}={raw!r} is not valid: {exc}") from exc


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "address to bind (default 127.0.0.1; admin routes answer loopback clients only)"),
    Setting("port", int, "port to bind (default 8600; 0 picks a free port)"),
    Setting("access_key_id", str, f"accepted AccessKeyId (default {DEFAULT_ACCESS_KEY_ID})"),
    Setting("access_key_secret", str, f"its secret (default {DEFAULT_ACCESS_KEY_SECRET})"),
    Setting("uid", str, f"account uid used in callback checksums (default {DEFAULT_UID})"),
    Setting("sts_access_key_id", _parse_optional, "accepted STS key id, starting 'STS.' (default: STS off)"),
    Setting("sts_access_key_secret", _parse_optional, "its secret"),
    Setting("sts_security_token", _parse_optional, "the x-acs-security-token it must carry"),
    Setting("download_timeout", float, "total seconds allowed per image download, else 592 (default 3)"),
    Setting("max_image_bytes", int, "largest image in bytes, else 589 (default 20971520)"),
    Setting("allowed_hosts", _parse_hosts, "comma list of hosts the emulator may fetch from or call back "
                                           "(default 127.0.0.1,localhost,::1)"),
    Setting("workers", int, "download/decode threads (default 8)"),
    Setting("callback_workers", int, "callback sender threads (default 4)"),
    Setting("callback_retries", int, "retries after a failed callback (default 3, so 4 attempts)"),
    Setting("callback_retry_delay", float, "seconds between callback attempts (default 1)"),
    Setting("callback_timeout", float, "HTTP timeout of one callback attempt, seconds (default 5)"),
    Setting("max_result_ids", int, "most task ids per /green/image/results call (default 100)"),
    Setting("time_window", float, "allowed Date skew in seconds (default 900)"),
    Setting("nonce_ttl", float, "seconds a x-acs-signature-nonce is remembered (default 900)"),
    Setting("max_nonces", int, "most nonces remembered at once (default 100000)"),
    Setting("max_tasks", int, "most async tasks kept; the oldest are forgotten first (default 100000)"),
    Setting("fault_seed", int, "seed of the fault and id generators (default 0)"),
    Setting("log_requests", _parse_bool, "log every request line to stderr (default false)"),
    Setting("throttle_rate", float, "fraction of business requests answered with code 588 (default 0)"),
    Setting("error_rate", float, "fraction of business requests answered HTTP 500/503 (default 0)"),
    Setting("error_status", int, "500 or 503 for injected errors; 0 picks at random (default 0)"),
    Setting("download_failure_rate", float, "fraction of tasks failing 480 without a fetch (default 0)"),
    Setting("expire_rate", float, "fraction of finished async tasks forgotten at once (default 0)"),
    Setting("callback_drop_rate", float, "fraction of callbacks never sent (default 0)"),
    Setting("callback_duplicate_rate", float, "fraction of callbacks sent twice (default 0)"),
    Setting("callback_delay", float, "extra random delay up to N seconds per callback (default 0)"),
    Setting("processing_delay", float, "seconds before an async result is available (default 1)"),
    Setting("retention", float, "seconds an async task is kept before 594 EXPIRED (default 3600)"),
    Setting("qps", _parse_qps, "per-operation limits, e.g. scan=50,asyncscan=50,feedback=20 (default none)"),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m green_emulator",
        description="Local emulator of Alibaba Cloud Content Moderation (Green) image API 2018-05-09.",
        epilog="Every flag has a GREEN_EMULATOR_<NAME> variable; flags win over variables.",
    )
    for setting in SETTINGS:
        if setting.parse is _parse_bool:
            parser.add_argument(setting.flag, dest=setting.name, action="store_const", const="true",
                                help=f"{setting.help} [{setting.env}]")
        else:
            parser.add_argument(setting.flag, dest=setting.name, metavar=setting.name.upper(),
                                help=f"{setting.help} [{setting.env}]")
    return parser
