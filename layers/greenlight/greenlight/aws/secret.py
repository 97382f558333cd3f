"""The two secrets: Green's API keys, and the callback secret (account uid, seed, path token).

They are apart so the internet-facing callback function can read only what verifying a callback
needs, never the AccessKey. Both are JSON objects in Secrets Manager, read with Powertools Parameters
and cached for `max_age` seconds so a rotation takes effect without a redeploy. (SSM SecureStrings are
not supported: the function roles may read only the two secrets, and a SecureString would need
ssm:GetParameter and kms:Decrypt on its key besides; Secrets Manager already encrypts, versions and
audits the values.) Values never appear in reprs, logs or errors: errors
name the field only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from greenlight.green.signer import Credentials
from greenlight.runtime.config import ConfigError

SEED_PATTERN = re.compile(r"^[A-Za-z0-9_]{16,64}$")  # Green: letters, digits and '_', at most 64; we ask 16+
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")  # a URL path segment nobody can guess
UID_PATTERN = re.compile(r"^[0-9]{6,32}$")


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    return (str(value).strip() or None) if value is not None else None


def _checked(raw: Mapping[str, Any], name: str, pattern: re.Pattern[str], rule: str, secret: str) -> str | None:
    value = _text(raw, name)
    if value is not None and not pattern.match(value):
        raise ConfigError(f"the {secret} field {name} must be {rule}")
    return value


@dataclass(frozen=True)
class GreenKeys:
    """The RAM AccessKey Green requests are signed with, and the optional URL-signing key pair."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    url_signing_access_key_id: str | None = field(default=None, repr=False)
    url_signing_secret_access_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> GreenKeys:
        missing = [name for name in ("access_key_id", "access_key_secret") if not _text(raw, name)]
        if missing:
            raise ConfigError(f"the Green keys secret lacks {', '.join(missing)}; run `greenlight setup` "
                              "or see the README, 'Deploy'")
        return cls(
            access_key_id=_text(raw, "access_key_id") or "",
            access_key_secret=_text(raw, "access_key_secret") or "",
            security_token=_text(raw, "security_token"),
            url_signing_access_key_id=_text(raw, "url_signing_access_key_id"),
            url_signing_secret_access_key=_text(raw, "url_signing_secret_access_key"),
        )

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.access_key_secret, self.security_token)


@dataclass(frozen=True)
class CallbackSecret:
    """What Green's result callbacks are checked with; the seed and token may each have a previous
    value that is still accepted during a rotation."""

    uid: str = field(repr=False)
    seed: str = field(repr=False)
    previous_seed: str | None = field(default=None, repr=False)
    callback_token: str | None = field(default=None, repr=False)
    previous_callback_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CallbackSecret:
        missing = [name for name in ("uid", "seed") if not _text(raw, name)]
        if missing:
            raise ConfigError(f"the callback secret lacks {', '.join(missing)}; run `greenlight setup` "
                              "or see the README, 'Deploy'")
        seed_rule = "16 to 64 letters, digits or '_'"
        token_rule = "32 to 128 letters, digits, '_' or '-'"  # noqa: S105 - a rule, not a token
        name = "callback secret"
        return cls(
            uid=_checked(raw, "uid", UID_PATTERN, "the account's numeric id", name) or "",
            seed=_checked(raw, "seed", SEED_PATTERN, seed_rule, name) or "",
            previous_seed=_checked(raw, "previous_seed", SEED_PATTERN, seed_rule, name),
            callback_token=_checked(raw, "callback_token", TOKEN_PATTERN, token_rule, name),
            previous_callback_token=_checked(raw, "previous_callback_token", TOKEN_PATTERN, token_rule, name),
        )

    @property
    def seeds(self) -> tuple[str, ...]:
        """Seeds a callback checksum may use: the current one, and the previous during a rotation."""
        return tuple(s for s in (self.seed, self.previous_seed) if s)

    @property
    def callback_tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.callback_token, self.previous_callback_token) if t)


def read_secret_json(secret_id: str, max_age: int) -> Mapping[str, Any]:
    """Fetch (or reuse the cached) secret as a JSON object."""
    from aws_lambda_powertools.utilities import parameters  # deferred: a heavy import, only on first use

    try:
        raw = parameters.get_secret(secret_id, transform="json", max_age=max_age)
    except parameters.exceptions.TransformParameterError as exc:
        raise ConfigError(f"the secret {secret_id.rsplit(':', 1)[-1]} is not a JSON object") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the secret {secret_id.rsplit(':', 1)[-1]} is not a JSON object")
    return raw


def load_keys(secret_id: str, max_age: int) -> GreenKeys:
    return GreenKeys.from_mapping(read_secret_json(secret_id, max_age))


def load_callback_secret(secret_id: str, max_age: int) -> CallbackSecret:
    return CallbackSecret.from_mapping(read_secret_json(secret_id, max_age))
