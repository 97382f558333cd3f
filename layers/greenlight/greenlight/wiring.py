"""The composition root: the clients and services a warm function reuses, built on first use.

Nothing is built at import time (cold start), everything is built once per container (one HTTP
connection pool for Green, one boto3 client per service); `reset()` makes the next call rebuild
from the current environment (tests point a function at moto and the emulator this way).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenlight.config import CallbackSettings, GreenSettings, PollSettings, ScanSettings
    from greenlight.credentials import GreenSecret
    from greenlight.green.client import GreenClient
    from greenlight.objects import UrlSigner
    from greenlight.scanning import Scanner
    from greenlight.store import VerdictStore


def reset() -> None:
    for factory in (scan_settings, poll_settings, callback_settings, aws_client, green_client, store,
                    url_signer, scanner):
        factory.cache_clear()


@functools.cache
def scan_settings() -> ScanSettings:
    import os

    from greenlight.config import ScanSettings

    return ScanSettings.from_env(os.environ)


@functools.cache
def poll_settings() -> PollSettings:
    import os

    from greenlight.config import PollSettings

    return PollSettings.from_env(os.environ)


@functools.cache
def callback_settings() -> CallbackSettings:
    import os

    from greenlight.config import CallbackSettings

    return CallbackSettings.from_env(os.environ)


@functools.cache
def aws_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10,
                    max_pool_connections=16, signature_version="s3v4" if service == "s3" else None)
    # A session of its own: credentials are read when the client is built (and again after reset()).
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def current_secret(settings: GreenSettings) -> GreenSecret:
    """The Green secret; Powertools Parameters caches it for SECRET_MAX_AGE seconds."""
    from greenlight.credentials import load_secret

    return load_secret(settings.secret_id, settings.secret_max_age)


@functools.cache
def green_client(settings: GreenSettings) -> GreenClient:
    from greenlight.green.client import GreenClient
    from greenlight.green.pacing import TokenBucket

    bucket = TokenBucket(settings.rps_per_instance)
    return GreenClient(lambda: current_secret(settings).credentials, region=settings.region,
                       endpoint=settings.endpoint, pace=bucket.acquire)


@functools.cache
def store(table_name: str) -> VerdictStore:
    from greenlight.store import VerdictStore

    return VerdictStore(aws_client("dynamodb"), table_name)


@functools.cache
def url_signer(settings: ScanSettings) -> UrlSigner:
    from greenlight.objects import UrlSigner

    def key_client() -> Any:
        secret = current_secret(settings.green)
        if not (secret.url_signing_access_key_id and secret.url_signing_secret_access_key):
            from greenlight.config import ConfigError

            raise ConfigError("URL_SIGNING=key needs url_signing_access_key_id and url_signing_secret_access_key "
                              "in the Green secret")
        return _signing_client(secret.url_signing_access_key_id, secret.url_signing_secret_access_key)

    return UrlSigner(mode=settings.url_signing, expiry=settings.url_expiry, role_client=lambda: aws_client("s3"),
                     key_client=key_client)


@functools.lru_cache(maxsize=2)
def _signing_client(access_key_id: str, secret_access_key: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                        config=Config(signature_version="s3v4"))


@functools.cache
def scanner(settings: ScanSettings) -> Scanner:
    from greenlight.scanning import Scanner

    return Scanner(store=store(settings.table_name), s3=aws_client("s3"), green=green_client(settings.green),
                   signer=url_signer(settings), settings=settings, secret=lambda: current_secret(settings.green))
