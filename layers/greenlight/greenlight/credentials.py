"""The Green secret: AccessKey, account uid, callback seed and path token, optional URL-signing key.

Read with Powertools Parameters (Secrets Manager, or an SSM SecureString when the id starts with
`ssm:`), cached for `max_age` seconds so a rotation takes effect without a redeploy. Values never
appear in reprs, logs or errors: errors name the missing field only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from greenlight.config import ConfigError
from greenlight.green.signer import Credentials


@dataclass(frozen=True)
class GreenSecret:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    uid: str = field(repr=False)
    seed: str = field(repr=False)
    previous_seed: str | None = field(default=None, repr=False)
    callback_token: str | None = field(default=None, repr=False)
    previous_callback_token: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    url_signing_access_key_id: str | None = field(default=None, repr=False)
    url_signing_secret_access_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> GreenSecret:
        def text(name: str) -> str | None:
            value = raw.get(name)
            return str(value).strip() or None if value is not None else None

        missing = [name for name in ("access_key_id", "access_key_secret", "uid", "seed") if not text(name)]
        if missing:
            raise ConfigError(f"the Green secret lacks {', '.join(missing)}; see README 'Put the Green keys in'")
        return cls(
            access_key_id=text("access_key_id") or "",
            access_key_secret=text("access_key_secret") or "",
            uid=text("uid") or "",
            seed=text("seed") or "",
            previous_seed=text("previous_seed"),
            callback_token=text("callback_token"),
            previous_callback_token=text("previous_callback_token"),
            security_token=text("security_token"),
            url_signing_access_key_id=text("url_signing_access_key_id"),
            url_signing_secret_access_key=text("url_signing_secret_access_key"),
        )

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.access_key_secret, self.security_token)

    @property
    def seeds(self) -> tuple[str, ...]:
        """Seeds a callback checksum may use: the current one, and the previous during a rotation."""
        return tuple(s for s in (self.seed, self.previous_seed) if s)

    @property
    def callback_tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.callback_token, self.previous_callback_token) if t)

    def redactions(self) -> tuple[str, ...]:
        """Every secret value, for scrubbing (tests assert none of them reaches a log line)."""
        values = (self.access_key_secret, self.uid, self.seed, self.previous_seed, self.callback_token,
                  self.previous_callback_token, self.security_token, self.url_signing_secret_access_key)
        return tuple(v for v in values if v)


def load_secret(secret_id: str, max_age: int) -> GreenSecret:
    """Fetch (or reuse the cached) secret and validate it."""
    from aws_lambda_powertools.utilities import parameters  # deferred: a heavy import, only on first use

    try:
        if secret_id.startswith("ssm:"):
            raw = parameters.get_parameter(secret_id[4:], decrypt=True, transform="json", max_age=max_age)
        else:
            raw = parameters.get_secret(secret_id, transform="json", max_age=max_age)
    except parameters.exceptions.TransformParameterError as exc:
        raise ConfigError("the Green secret is not a JSON object") from exc
    if not isinstance(raw, Mapping):
        raise ConfigError("the Green secret is not a JSON object")
    return GreenSecret.from_mapping(raw)
