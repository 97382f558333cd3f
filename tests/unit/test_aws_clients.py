"""The functions' boto3 clients: built once per service, with their retries and timeouts, and sharing
what botocore parses (a cold start builds several clients)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import pytest

from greenlight.aws import clients


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """A container's first clients (nothing cached), counting the data files botocore reads."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    reads: Counter[str] = Counter()
    original = botocore.loaders.JSONFileLoader.load_file

    def counting(loader: Any, file_path: str) -> Any:
        reads[file_path] += 1
        return original(loader, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)
    clients.aws_client.cache_clear()
    clients._service_models.cache_clear()
    yield reads
    clients.aws_client.cache_clear()
    clients._service_models.cache_clear()


def test_each_data_file_is_parsed_once_however_many_clients_a_container_builds(fresh_clients: Counter[str]) -> None:
    built = [clients.aws_client(service) for service in ("dynamodb", "sqs", "s3", "events", "dynamodb")]

    assert built[0] is built[-1]  # one client per service
    assert {c.meta.service_model.service_name for c in built} == {"dynamodb", "sqs", "s3", "events"}
    endpoints = [path for path in fresh_clients if Path(path).name == "endpoints"]
    assert [fresh_clients[path] for path in endpoints] == [1]  # every client reads it: parsed once, not per client
    assert fresh_clients and max(fresh_clients.values()) == 1, fresh_clients


def test_clients_retry_throttling_and_give_up_fast_on_a_dead_connection(fresh_clients: Counter[str]) -> None:
    client = clients.aws_client("dynamodb")

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}  # 4 retries
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3, 10)
    assert client.meta.region_name == "us-east-1"
    assert clients.aws_client("s3").meta.config.signature_version == "s3v4"
