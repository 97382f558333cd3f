"""Each function's configuration: read once from the environment, validated, failing fast.

A missing or bad variable raises ConfigError naming it. Nothing here runs at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from greenlight.green.endpoints import EndpointError, normalise_endpoint
from greenlight.green.wire import KNOWN_SCENES, MAX_FRAMES, MAX_IMAGE_BYTES, REGIONS


class ConfigError(ValueError):
    pass


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise ConfigError(f"environment variable {name} must be set")
        return default

    def optional(self, name: str) -> str | None:
        return self._environ.get(name, "").strip() or None

    def number(self, name: str, default: float, *, minimum: float = 0, maximum: float | None = None) -> float:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a number") from exc
        if value < minimum or (maximum is not None and value > maximum):
            upper = "inf" if maximum is None else maximum
            raise ConfigError(f"{name}={raw!r} must be between {minimum} and {upper}")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.number(name, default, minimum=minimum, maximum=maximum)
        if value != int(value):
            raise ConfigError(f"{name} must be a whole number")
        return int(value)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.choice(name, "true" if default else "false", ("true", "false"))
        return value == "true"

    def scenes(self, name: str, default: str) -> tuple[str, ...]:
        scenes = tuple(s.strip() for s in self.text(name, default).split(",") if s.strip())
        unknown = sorted(set(scenes) - KNOWN_SCENES)
        if not scenes or unknown:
            raise ConfigError(f"{name} must list scenes from {', '.join(sorted(KNOWN_SCENES))}; unknown: {unknown}")
        return scenes


def green_endpoint(value: str | None) -> str | None:
    """GREEN_ENDPOINT as a base URL; HTTPS unless it points at a local emulator on loopback."""
    if value is None:
        return None
    try:
        return normalise_endpoint(value)
    except EndpointError as exc:
        raise ConfigError(f"GREEN_ENDPOINT: {exc}") from exc


@dataclass(frozen=True)
class SecretIds:
    """Where the two secrets are, and how long a read of them is reused."""

    green_keys: str
    callback: str
    max_age: int

    @classmethod
    def from_env(cls, env: _Env, *, keys: bool = True) -> SecretIds:
        return cls(green_keys=secret_id(env, "GREEN_SECRET_ID") if keys else "",
                   callback=secret_id(env, "CALLBACK_SECRET_ID"),
                   max_age=env.integer("SECRET_MAX_AGE", 300, minimum=0, maximum=3600))


def secret_id(env: _Env, name: str) -> str:
    """A Secrets Manager secret's ARN or name. (`ssm:` parameters, an option of earlier versions, are
    refused: the function roles may read only the two secrets, never an SSM parameter or its KMS key.)"""
    value = env.text(name)
    if value.startswith("ssm:"):
        raise ConfigError(f"{name} must name a Secrets Manager secret (ARN or name); SSM parameters are not supported")
    return value


@dataclass(frozen=True)
class PolicySettings:
    """Where the moderation policy is (an SSM parameter) and how long a read of it is reused."""

    parameter: str
    max_age: int

    @classmethod
    def from_env(cls, env: _Env) -> PolicySettings:
        return cls(parameter=env.text("POLICY_PARAMETER"),
                   max_age=env.integer("POLICY_MAX_AGE", 60, minimum=0, maximum=3600))


@dataclass(frozen=True)
class GreenSettings:
    """How to reach Green and what to ask it (submit and poll)."""

    region: str
    endpoint: str | None
    scenes: tuple[str, ...]
    biz_type: str | None
    max_rps: float
    concurrency: int
    max_frames: int

    @classmethod
    def from_env(cls, env: _Env) -> GreenSettings:
        return cls(
            region=env.choice("GREEN_REGION", "cn-shanghai", REGIONS),
            endpoint=green_endpoint(env.optional("GREEN_ENDPOINT")),
            scenes=env.scenes("GREEN_SCENES", "porn,terrorism"),
            biz_type=env.optional("GREEN_BIZ_TYPE"),
            max_rps=env.number("GREEN_MAX_RPS", 40, minimum=0.1, maximum=1000),
            concurrency=env.integer("GREEN_CONCURRENCY", 2, minimum=1, maximum=1000),
            max_frames=env.integer("GREEN_MAX_FRAMES", MAX_FRAMES, minimum=1, maximum=1000),
        )

    @property
    def rps_per_instance(self) -> float:
        """The account-wide budget (images a second for scans) shared by at most `concurrency` instances."""
        return self.max_rps / self.concurrency


@dataclass(frozen=True)
class ScanSettings:
    """What sending images to Green needs (submit, and the poller when it rescans or recovers)."""

    table_name: str
    secrets: SecretIds
    policy: PolicySettings
    green: GreenSettings
    scan_mode: str
    callback_url: str | None
    url_expiry: int
    url_signing: str
    max_object_bytes: int
    lease_seconds: int
    max_attempts: int
    poll_grace: int
    time_reserve: float
    daily_image_budget: int = 0  # images sent to Green per UTC day, stack-wide (0: no limit)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ScanSettings:
        env = _Env(environ)
        return cls(
            table_name=env.text("TABLE_NAME"),
            secrets=SecretIds.from_env(env),
            policy=PolicySettings.from_env(env),
            green=GreenSettings.from_env(env),
            scan_mode=env.choice("SCAN_MODE", "async", ("async", "sync")),
            callback_url=env.optional("CALLBACK_URL"),
            url_expiry=env.integer("URL_EXPIRY_SECONDS", 3600, minimum=60, maximum=7 * 24 * 3600),
            url_signing=env.choice("URL_SIGNING", "role", ("role", "key")),
            max_object_bytes=env.integer("MAX_OBJECT_BYTES", MAX_IMAGE_BYTES, minimum=1, maximum=MAX_IMAGE_BYTES),
            lease_seconds=env.integer("LEASE_SECONDS", 120, minimum=1, maximum=3600),
            max_attempts=env.integer("MAX_SCAN_ATTEMPTS", 3, minimum=1, maximum=10),
            poll_grace=env.integer("POLL_GRACE_SECONDS", 60, minimum=0, maximum=3000),
            time_reserve=env.number("TIME_RESERVE_SECONDS", 5, minimum=0, maximum=60),
            daily_image_budget=env.integer("DAILY_IMAGE_BUDGET", 0, minimum=0, maximum=100_000_000),
        )


@dataclass(frozen=True)
class KeyFilter:
    """Which keys are moderated, matched against the decoded key (what a user types)."""

    prefix: str
    suffix: str

    def matches(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix) and len(key) >= len(self.prefix + self.suffix)


@dataclass(frozen=True)
class SubmitSettings:
    scan: ScanSettings
    bucket_names: tuple[str, ...]
    keys: KeyFilter

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SubmitSettings:
        env = _Env(environ)
        buckets = tuple(b.strip() for b in env.text("BUCKET_NAMES").split(",") if b.strip())
        return cls(scan=ScanSettings.from_env(environ), bucket_names=buckets,
                   keys=KeyFilter(prefix=environ.get("KEY_PREFIX", ""), suffix=environ.get("KEY_SUFFIX", "")))


@dataclass(frozen=True)
class PollSettings:
    scan: ScanSettings
    batch_limit: int
    recheck_seconds: int
    batch_window: int
    resubmit_after: int
    max_recoveries: int
    recovery_backoff: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PollSettings:
        env = _Env(environ)
        return cls(
            scan=ScanSettings.from_env(environ),
            batch_limit=env.integer("POLL_BATCH_LIMIT", 1000, minimum=1, maximum=100_000),
            recheck_seconds=env.integer("POLL_RECHECK_SECONDS", 30, minimum=1, maximum=3000),
            batch_window=env.integer("POLL_BATCH_WINDOW_SECONDS", 30, minimum=0, maximum=600),
            # Green keeps async results for 1 hour; a task still unfinished after this is rescanned.
            resubmit_after=env.integer("RESUBMIT_AFTER_SECONDS", 2700, minimum=10, maximum=3500),
            # A record left RECEIVED by failed submissions is retried by the poller with a backoff
            # doubling from RECOVERY_BACKOFF_SECONDS up to an hour, MAX_RECOVERIES times, then ERROR.
            max_recoveries=env.integer("MAX_RECOVERIES", 30, minimum=1, maximum=1000),
            recovery_backoff=env.integer("RECOVERY_BACKOFF_SECONDS", 60, minimum=1, maximum=3600),
        )


@dataclass(frozen=True)
class CallbackSettings:
    table_name: str
    secrets: SecretIds
    policy: PolicySettings
    max_body_bytes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CallbackSettings:
        env = _Env(environ)
        return cls(
            table_name=env.text("TABLE_NAME"),
            secrets=SecretIds.from_env(env, keys=False),
            policy=PolicySettings.from_env(env),
            max_body_bytes=env.integer("MAX_CALLBACK_BYTES", 256 * 1024, minimum=1024, maximum=6 * 1024 * 1024),
        )


@dataclass(frozen=True)
class EnforceSettings:
    """What acting on decisions may do (each action opt-in by a template parameter)."""

    table_name: str
    policy: PolicySettings
    tag_objects: bool
    block_action: str  # quarantine | delete | none (none: tags and the bucket policy's deny-by-tag only)
    quarantine_bucket: str | None
    quarantine_prefix: str
    event_bus: str
    retry_queue_url: str
    retry_delay: int
    secrets: SecretIds | None  # the Green keys, for feedback on overrides (None: no feedback is sent)
    green: GreenSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EnforceSettings:
        env = _Env(environ)
        block_action = env.choice("BLOCK_ACTION", "quarantine", ("quarantine", "delete", "none"))
        quarantine_bucket = env.optional("QUARANTINE_BUCKET")
        if block_action == "quarantine" and not quarantine_bucket:
            raise ConfigError("BLOCK_ACTION=quarantine needs QUARANTINE_BUCKET")
        return cls(
            table_name=env.text("TABLE_NAME"),
            policy=PolicySettings.from_env(env),
            tag_objects=env.flag("TAG_OBJECTS", True),
            block_action=block_action,
            quarantine_bucket=quarantine_bucket,
            quarantine_prefix=env.text("QUARANTINE_PREFIX", "quarantine/"),
            event_bus=env.text("VERDICT_EVENT_BUS", "default"),
            retry_queue_url=env.text("ENFORCEMENT_RETRY_QUEUE_URL"),
            retry_delay=env.integer("ENFORCEMENT_RETRY_DELAY_SECONDS", 60, minimum=0, maximum=900),
            secrets=SecretIds(green_keys=secret_id(env, "GREEN_SECRET_ID"), callback="",
                              max_age=env.integer("SECRET_MAX_AGE", 300, minimum=0, maximum=3600))
            if env.optional("GREEN_SECRET_ID") else None,
            green=GreenSettings.from_env(env),
        )
