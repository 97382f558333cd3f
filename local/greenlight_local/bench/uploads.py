"""The images the bench uploads, and uploading them to a stack's bucket."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenlight_local.stack import LocalStack

REVIEW = [{"scene": "terrorism", "label": "bloody", "suggestion": "review", "rate": 81.2}]
BLOCK = [{"scene": "porn", "label": "porn", "suggestion": "block", "rate": 99.6}]


def bench_images(count: int, prefix: str = "bench") -> list[tuple[str, bytes]]:
    """Small real PNGs, a quarter scripted for review and a quarter for block, each different from every
    other image of the run (the seed depends on the prefix): identical bytes would be decided as known
    content, without Green, which real uploads rarely are."""
    import zlib

    from green_emulator import make_image

    scripts: list[list[dict[str, Any]] | None] = [None, None, REVIEW, BLOCK]
    base = zlib.crc32(prefix.encode("utf-8")) % 1_000_000 * 10_000
    return [(f"{prefix}/{index:05d}.png", make_image(scripts[index % 4], seed=base + index))
            for index in range(count)]


def upload_all(stack: LocalStack, images: Sequence[tuple[str, bytes]], threads: int) -> float:
    """PUT every image with a few threads; returns the wall-clock time the first upload started."""
    from concurrent.futures import ThreadPoolExecutor

    # One client per thread, built here: creating boto3 clients concurrently is not thread-safe.
    clients = [stack.client("s3") for _ in range(threads)]
    shares = [images[index::threads] for index in range(threads)]

    def put_share(share_and_client: tuple[Sequence[tuple[str, bytes]], Any]) -> None:
        share, s3 = share_and_client
        for key, body in share:
            s3.put_object(Bucket=stack.bucket, Key=key, Body=body, ContentType="image/png")

    started = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put_share, zip(shares, clients, strict=True)))
    return started
