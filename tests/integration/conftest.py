"""Fixtures for tests against moto in server mode: the stack from template.yaml, and a function's
environment pointed at moto and the Green emulator, as Lambda would see it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from aws_helpers import FIXTURE

from green_emulator import RunningEmulator
from greenlight import wiring
from greenlight_local.context import LambdaContext
from greenlight_local.moto_server import MotoServer
from greenlight_local.stack import LocalStack, create_stack


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in server mode on a free loopback port (with AWS-shaped S3 EventBridge events)."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Dummy credentials (nothing can reach a real account) and every boto3 client pointed at moto."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                        "AWS_ENDPOINT_URL": moto_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url


@pytest.fixture
def stack(aws: str) -> LocalStack:
    """A fresh copy of the template's resources (unique names) on the session's moto server."""
    return create_stack(aws)


@pytest.fixture
def green_secret(stack: LocalStack, emulator: RunningEmulator) -> dict[str, str]:
    """Fill the stack's secret with the emulator's keys and the events/ fixture's uid, seed and token."""
    return stack.update_secret(access_key_id=emulator.config.access_key_id,
                               access_key_secret=emulator.config.access_key_secret, uid=emulator.config.uid,
                               callback_token=FIXTURE["secret"]["callback_token"])


@pytest.fixture
def function_env(stack: LocalStack, green_secret: dict[str, str], emulator: RunningEmulator,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """use("submit", CALLBACK_URL=..., ...): the function's environment from the template, pointed at
    moto and the emulator, with overrides; the composition root is rebuilt for it."""

    def use(function: str, **overrides: str) -> None:
        environment = {**stack.functions[function].environment, "GREEN_ENDPOINT": emulator.url,
                       "CALLBACK_URL": "", "SECRET_MAX_AGE": "0", **overrides}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        wiring.reset()

    yield use
    wiring.reset()


@pytest.fixture
def context() -> Callable[..., LambdaContext]:
    """context(seconds=30): the Lambda context a handler gets, its remaining time counting down."""

    def make(seconds: float = 30.0) -> LambdaContext:
        return LambdaContext("test", seconds)

    return make
