"""The integration tier: real adapters against moto in server mode (the stack from template.yaml)
and the local Green emulator, with a function's environment as Lambda would see it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from aws_helpers import FIXTURE, VerdictTables

from green_emulator import RunningEmulator
from greenlight.aws.clients import aws_client
from greenlight_local.context import LambdaContext
from greenlight_local.functions import function_environment, handler_module
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


@pytest.fixture(scope="module")
def verdict_tables(moto_url: str) -> VerdictTables:
    """The stack's verdict table definition; `fresh()` makes an empty copy (the contract suites')."""
    return VerdictTables.of(create_stack(moto_url))


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
    moto and the emulator (greenlight_local.functions, as the local pipeline does), with overrides;
    the handler's dependencies are built afresh from it."""
    used: list[ModuleType] = []

    def use(function: str, **overrides: str) -> None:
        aws_client.cache_clear()  # clients read credentials (a session token, say) when built
        environment = function_environment(stack, function, green_endpoint=emulator.url,
                                           callback_url=overrides.pop("CALLBACK_URL", ""), process=overrides)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        module = handler_module(stack.functions[function])
        module.dependencies.override(None)
        used.append(module)

    yield use
    for module in used:
        module.dependencies.override(None)
    aws_client.cache_clear()


@pytest.fixture
def context() -> Callable[..., LambdaContext]:
    """context(seconds=30): the Lambda context a handler gets, its remaining time counting down."""

    def make(seconds: float = 30.0) -> LambdaContext:
        return LambdaContext("test", seconds)

    return make
