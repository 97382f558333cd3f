"""Building the production adapters from a function's settings (each handler's composition root
calls these once per container and caches the result; tests pass fakes instead).

Nothing is built at import time; boto3 and requests load when the first adapter is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from greenlight.ports import CallbackTarget

if TYPE_CHECKING:
    from greenlight.aws.image_budget import DynamoImageBudget
    from greenlight.aws.known_content import DynamoKnownContent
    from greenlight.aws.object_actions import S3ObjectActions
    from greenlight.aws.policy_source import SsmPolicySource
    from greenlight.aws.retry_queue import SqsRetryQueue
    from greenlight.aws.reviews import DynamoReviews
    from greenlight.aws.s3_objects import S3Objects
    from greenlight.aws.secret import CallbackSecret, GreenKeys
    from greenlight.aws.verdict_events import EventBridgeVerdictEvents
    from greenlight.aws.verdict_table import DynamoVerdictStore
    from greenlight.green.client import GreenClient
    from greenlight.runtime.config import EnforceSettings, GreenSettings, PolicySettings, ScanSettings, SecretIds
    from greenlight.scanning.submission import ScanPorts


def green_keys(secrets: SecretIds) -> Callable[[], GreenKeys]:
    """The Green keys, re-read when Powertools' cache of the secret runs out (rotation without redeploy)."""
    from greenlight.aws.secret import load_keys

    return lambda: load_keys(secrets.green_keys, secrets.max_age)


def callback_secret(secrets: SecretIds) -> Callable[[], CallbackSecret]:
    from greenlight.aws.secret import load_callback_secret

    return lambda: load_callback_secret(secrets.callback, secrets.max_age)


def green_client(settings: GreenSettings, keys: Callable[[], GreenKeys]) -> GreenClient:
    from greenlight.green.client import GreenClient
    from greenlight.green.pacing import TokenBucket

    bucket = TokenBucket(settings.rps_per_instance)
    return GreenClient(lambda: keys().credentials, region=settings.region, endpoint=settings.endpoint,
                       pace=bucket.acquire)


def verdict_store(table_name: str) -> DynamoVerdictStore:
    from greenlight.aws.clients import aws_client
    from greenlight.aws.verdict_table import DynamoVerdictStore

    return DynamoVerdictStore(aws_client("dynamodb"), table_name)


def object_store(settings: ScanSettings, keys: Callable[[], GreenKeys]) -> S3Objects:
    from greenlight.aws.clients import aws_client, s3_client_for_key
    from greenlight.aws.s3_objects import S3Objects
    from greenlight.runtime.config import ConfigError

    def key_client() -> object:
        current = keys()
        if not (current.url_signing_access_key_id and current.url_signing_secret_access_key):
            raise ConfigError("URL_SIGNING=key needs url_signing_access_key_id and url_signing_secret_access_key "
                              "in the Green keys secret")
        return s3_client_for_key(current.url_signing_access_key_id, current.url_signing_secret_access_key)

    return S3Objects(aws_client("s3"), url_signing=settings.url_signing, url_expiry=settings.url_expiry,
                     key_client=key_client)


def callback_target(base_url: str | None, secret: Callable[[], CallbackSecret]) -> Callable[[], CallbackTarget | None]:
    """Where Green should push results: the API's URL plus the secret path token, with the seed.
    None (poll only) when there is no URL or no token yet."""

    def current() -> CallbackTarget | None:
        if not base_url:
            return None
        values = secret()
        if not values.callback_token:
            return None
        return CallbackTarget(url=f"{base_url.rstrip('/')}/{values.callback_token}", seed=values.seed)

    return current


def policy_source(settings: PolicySettings) -> SsmPolicySource:
    from greenlight.aws.policy_source import SsmPolicySource

    return SsmPolicySource(settings.parameter, settings.max_age)


def reviews(table_name: str) -> DynamoReviews:
    from greenlight.aws.clients import aws_client
    from greenlight.aws.reviews import DynamoReviews

    return DynamoReviews(aws_client("dynamodb"), table_name)


def image_budget(table_name: str) -> DynamoImageBudget:
    from greenlight.aws.clients import aws_client
    from greenlight.aws.image_budget import DynamoImageBudget

    return DynamoImageBudget(aws_client("dynamodb"), table_name)


def known_content(table_name: str) -> DynamoKnownContent:
    import time

    from greenlight.aws.clients import aws_client
    from greenlight.aws.known_content import DynamoKnownContent

    return DynamoKnownContent(aws_client("dynamodb"), table_name, clock=time.time)


def enforcer_ports(settings: EnforceSettings) -> tuple[DynamoVerdictStore, S3ObjectActions,
                                                       EventBridgeVerdictEvents, DynamoKnownContent, SqsRetryQueue]:
    """What acting on decisions needs: the table, the bucket(s), the event bus, known content, the retry queue."""
    from greenlight.aws.clients import aws_client
    from greenlight.aws.object_actions import S3ObjectActions
    from greenlight.aws.retry_queue import SqsRetryQueue
    from greenlight.aws.verdict_events import EventBridgeVerdictEvents

    return (verdict_store(settings.table_name), S3ObjectActions(aws_client("s3")),
            EventBridgeVerdictEvents(aws_client("events"), settings.event_bus), known_content(settings.table_name),
            SqsRetryQueue(aws_client("sqs"), settings.retry_queue_url))


def scan_ports(settings: ScanSettings) -> ScanPorts:
    """Everything submit and the poller need to get images scanned."""
    from greenlight.scanning.submission import ScanPorts

    keys = green_keys(settings.secrets)
    return ScanPorts(store=verdict_store(settings.table_name), objects=object_store(settings, keys),
                     green=green_client(settings.green, keys),
                     callback=callback_target(settings.callback_url, callback_secret(settings.secrets)),
                     policy=policy_source(settings.policy), known=known_content(settings.table_name),
                     image_budget=image_budget(settings.table_name) if settings.daily_image_budget else None)


T = TypeVar("T")


class Dependencies(Generic[T]):
    """A handler's composition root: `get()` builds the dependencies on first use and reuses them
    for the life of the container; `override()` puts others in their place (tests pass fakes) and
    `override(None)` goes back to building them."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        self._override: T | None = None

    def get(self) -> T:
        if self._override is not None:
            return self._override
        if self._built is None:
            self._built = self._build()
        return self._built

    def override(self, value: T | None) -> None:
        self._override = value
        self._built = None
