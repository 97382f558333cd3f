"""Stacks for the in-process figures: the template's resources on the shared moto server, filled
with images, their S3 events taken off the scan queue and cut into Lambda SQS events."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from greenlight_local.bench.environments import stdout_to
from greenlight_local.bench.uploads import bench_images, upload_all

if TYPE_CHECKING:
    from greenlight_local.bench.harness import Bench
    from greenlight_local.bench.services import Services
    from greenlight_local.stack import LocalStack

BATCH = 100  # the template's BatchSize, and Green's most images per request


def fresh_stack(services: Services) -> tuple[LocalStack, dict[str, str]]:
    """The template's resources under new names, with the emulator's keys and uid in the secrets;
    returns the stack and every secret field (both secrets merged)."""
    import secrets

    from greenlight_local.stack import create_stack

    emulator = services.emulator()
    stack = create_stack(services.moto())
    values = stack.update_secret(access_key_id=emulator.key_id, access_key_secret=emulator.key_secret,
                                 uid=emulator.uid, callback_token=secrets.token_urlsafe(24))
    return stack, values


def prepared_stack(bench: Bench, count: int, prefix: str) -> tuple[LocalStack, dict[str, str], list[dict[str, Any]]]:
    """A fresh stack with `count` images uploaded, and their S3 events received from its queue."""
    stack, secret = fresh_stack(bench.services)
    upload_all(stack, bench_images(count, prefix), bench.config.upload_threads)
    return stack, secret, receive_messages(stack, count)


def receive_messages(stack: LocalStack, expected: int, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Every S3 event the stack's rule put on the scan queue (hidden from other readers for an hour)."""
    sqs = stack.client("sqs")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       VisibilityTimeout=3600, MessageSystemAttributeNames=["All"],
                                       MessageAttributeNames=["All"])
        messages.extend(response.get("Messages", []))
    if len(messages) < expected:
        raise RuntimeError(f"only {len(messages)} of {expected} S3 events reached the scan queue in {timeout:.0f}s")
    return messages


def lambda_batches(stack: LocalStack, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queue messages as the SQS event source hands them to Lambda: events of up to BatchSize records."""
    from greenlight_local.lambda_host import sqs_event

    return [sqs_event(list(messages[i:i + BATCH]), stack.queue_arn, stack.region)
            for i in range(0, len(messages), BATCH)]


def handler_module(bench: Bench, stack: LocalStack, function: str) -> ModuleType:
    """The function's handler module, imported in this process as Lambda imports it (once per process).
    The layer's logger binds the stream it finds at its first import: the bench's log, not stdout."""
    from greenlight_local import functions

    with stdout_to(bench.log):
        return functions.handler_module(stack.functions[function])


def clone_table(stack: LocalStack, suffix: str) -> str:
    """A new, empty table with the verdict table's keys and indexes: a repeat of a submit run on the
    same uploads and queue messages starts from no records."""
    dynamodb = stack.client("dynamodb")
    described = dynamodb.describe_table(TableName=stack.table)["Table"]
    name = f"{stack.table}-{suffix}"
    indexes = [{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
               for i in described.get("GlobalSecondaryIndexes", [])]
    dynamodb.create_table(TableName=name, KeySchema=described["KeySchema"],
                          AttributeDefinitions=described["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST",
                          **({"GlobalSecondaryIndexes": indexes} if indexes else {}))
    return name
