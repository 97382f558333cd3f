"""Emulator settings: two frozen dataclasses, read from GREEN_EMULATOR_* variables and/or flags.

EmulatorConfig is fixed at start; Faults (faults, behaviour switches and the network model) can also
be changed at runtime. Every setting is declared once in green_emulator.settings.SETTINGS.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from green_emulator.protocol import DEFAULT_TASK_ERROR_CODES, KNOWN_SCENES, OPERATIONS, TASK_ERROR_CODES
from green_emulator.settings import SETTINGS, SETTINGS_BY_NAME, ConfigError, build_parser, parse_outage_mode

__all__ = ["LOOPBACK_HOSTS", "OPERATIONS", "SETTINGS", "ConfigError", "EmulatorConfig", "Faults", "build_parser"]

DEFAULT_ACCESS_KEY_ID = "LTAI-local-emulator"
DEFAULT_ACCESS_KEY_SECRET = "local-emulator-secret"  # a throwaway local value, printed at start
DEFAULT_UID = "1234567890123456"
DEFAULT_PORT = 8600
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
OUTAGE_MODES = ("", "5xx", "588", "596", "auth", "signature")
RATES = ("throttle_rate", "error_rate", "download_failure_rate", "expire_rate", "callback_drop_rate",
         "callback_duplicate_rate", "gateway_throttle_rate", "permission_deny_rate", "general_error_rate",
         "answer_lost_rate", "results_omit_rate", "task_submit_error_rate", "task_finish_error_rate",
         "url_expired_rate")
# Upper bounds keep every wait the network model causes bounded.
NETWORK_LIMITS = {"network_rtt": 5.0, "network_jitter": 5.0, "network_connect_rtts": 10.0,
                  "image_processing_time": 120.0, "image_processing_jitter": 120.0}


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
    qps: Mapping[str, float] = field(default_factory=dict)  # operation -> requests (scans: images) per second
    gateway_throttle_rate: float = 0.0  # answered HTTP 400 Throttling.User by the gateway
    permission_deny_rate: float = 0.0  # answered HTTP 200 with body code 596
    general_error_rate: float = 0.0  # answered HTTP 200 with body code 500
    answer_lost_rate: float = 0.0  # accepted scans whose answer never arrives (connection closed)
    results_omit_rate: float = 0.0  # task ids in a results call left out of data
    task_submit_error_rate: float = 0.0  # tasks answered at submit with a code from task_error_codes
    task_finish_error_rate: float = 0.0  # async tasks finishing with a code from task_error_codes
    task_error_codes: tuple[int, ...] = DEFAULT_TASK_ERROR_CODES
    url_expired_rate: float = 0.0  # task downloads answered 403, as S3 answers an expired URL
    outage_mode: str = ""  # "", "5xx", "588", "596", "auth" or "signature"
    outage_seconds: float = 0.0  # the outage window, counted from when it is set
    fault_operations: tuple[str, ...] = OPERATIONS  # the operations faults apply to
    biz_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # bizType -> the scenes it stands for
    network_rtt: float = 0.0  # seconds per round trip (API answers, downloads, callbacks)
    network_jitter: float = 0.0  # up to this many extra seconds per round trip
    network_connect_rtts: float = 0.0  # extra round trips on a new API connection
    image_processing_time: float = 0.0  # seconds per image after its download
    image_processing_jitter: float = 0.0  # up to this many extra seconds per image

    def __post_init__(self) -> None:
        for name in RATES:
            _check(name, 0.0 <= getattr(self, name) <= 1.0, "must be between 0 and 1")
        for name in ("callback_delay", "processing_delay", "retention", "outage_seconds", *NETWORK_LIMITS):
            value = getattr(self, name)
            _check(name, math.isfinite(value) and value >= 0, "must be a finite number >= 0")
        for name, limit in NETWORK_LIMITS.items():
            _check(name, getattr(self, name) <= limit, f"must be at most {limit:g}")
        _check("error_status", self.error_status in (0, 500, 503), "must be 0, 500 or 503")
        for op, limit in self.qps.items():
            _check("qps", op in OPERATIONS, f"names unknown operation {op!r}; known: {', '.join(OPERATIONS)}")
            _check("qps", math.isfinite(limit) and limit > 0, f"limit for {op} must be > 0")
        _check("task_error_codes", bool(self.task_error_codes), "must name at least one code")
        for code in self.task_error_codes:
            _check("task_error_codes", code in TASK_ERROR_CODES,
                   f"holds {code}; known: {', '.join(map(str, sorted(TASK_ERROR_CODES)))}")
        _check("outage_mode", self.outage_mode in OUTAGE_MODES, f"must be one of {', '.join(OUTAGE_MODES[1:])} "
                                                                "or empty")
        for op in self.fault_operations:
            _check("fault_operations", op in OPERATIONS, f"names unknown operation {op!r}")
        for biz_type, scenes in self.biz_types.items():
            _check("biz_types", bool(biz_type) and bool(scenes), "needs a name and at least one scene per bizType")
            unknown = sorted(set(scenes) - KNOWN_SCENES)
            _check("biz_types", not unknown, f"{biz_type} names unknown scene(s) {', '.join(unknown)}")

    def with_changes(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; values may be JSON types (ints for floats, strings, lists)."""
        known = {f.name for f in dataclasses.fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ConfigError(f"unknown fault setting {name!r}; known: {', '.join(sorted(known))}")
            coerced[name] = _coerce(name, value)
        return dataclasses.replace(self, **coerced)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["qps"] = dict(self.qps)
        data["task_error_codes"] = list(self.task_error_codes)
        data["fault_operations"] = list(self.fault_operations)
        data["biz_types"] = {name: list(scenes) for name, scenes in self.biz_types.items()}
        return data

    def applies_to(self, operation: str) -> bool:
        """Whether faults may hit `operation` (for task faults: the operation that submitted the task)."""
        return operation in self.fault_operations


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
    check_url_expiry: bool = True
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


def _check(name: str, ok: bool, problem: str) -> None:
    if not ok:
        setting = SETTINGS_BY_NAME.get(name)
        where = f"{setting.env} / {setting.flag}" if setting else name
        raise ConfigError(f"{name} ({where}) {problem}")


# -- runtime changes: JSON values (admin route, set_faults) to the field's type -------------------------

def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"expected a list, got {value!r}")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {value!r}")
    return value


def _outage_mode(value: Any) -> str:
    return parse_outage_mode(str(_integer(value)))  # 588 and 596 may come as numbers


def _qps(value: Any) -> dict[str, float]:
    return {str(op): _number(limit) for op, limit in _mapping(value).items()}


def _codes(value: Any) -> tuple[int, ...]:
    return tuple(_integer(code) for code in _sequence(value))


def _operations(value: Any) -> tuple[str, ...]:
    return tuple(str(op) for op in _sequence(value))


def _biz_types(value: Any) -> dict[str, tuple[str, ...]]:
    return {str(name): tuple(str(scene) for scene in _sequence(scenes)) for name, scenes in _mapping(value).items()}


_JSON_COERCERS: dict[str, Callable[[Any], Any]] = {
    "error_status": _integer,
    "outage_mode": _outage_mode,
    "qps": _qps,
    "task_error_codes": _codes,
    "fault_operations": _operations,
    "biz_types": _biz_types,
}


def _coerce(name: str, value: Any) -> Any:
    """A string is parsed as its variable would be; other JSON values are checked against the type."""
    if isinstance(value, str):
        return SETTINGS_BY_NAME[name].parse_from(value, name)
    coerce: Callable[[Any], Any] = _JSON_COERCERS.get(name, _number)
    try:
        return coerce(value)
    except TypeError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
