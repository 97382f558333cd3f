"""boto3 clients the functions share: built on first use, one per service per container."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _service_models() -> Any:
    """botocore's loader, shared by every client's session: a service's JSON model, and the endpoint
    data every client reads, are parsed once per container instead of once per client (about 0.1 s
    of cold start each)."""
    import botocore.session

    return botocore.session.Session().get_component("data_loader")


@functools.cache
def aws_client(service: str) -> Any:
    """A client with standard retries (throttling included) and short timeouts.

    botocore is imported here, on first use, not when a handler module loads (cold start). The
    client comes from botocore's session directly: boto3's only client customizations are S3's
    transfer helpers (upload_file and the like), which nothing here uses.
    """
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10,
                    max_pool_connections=16, signature_version="s3v4" if service == "s3" else None)
    # A session of its own: credentials are read when the client is built.
    session = botocore.session.Session()
    session.register_component("data_loader", _service_models())
    return session.create_client(service, config=config)


@functools.lru_cache(maxsize=2)
def s3_client_for_key(access_key_id: str, secret_access_key: str) -> Any:
    """An S3 client that presigns with a dedicated signing key pair (UrlSigning=key)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                        config=Config(signature_version="s3v4"))
