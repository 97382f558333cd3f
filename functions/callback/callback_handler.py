"""Callback function: Green's per-task result pushes, behind the HTTP API."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from callback_logic import Reply, handle_callback
from greenlight.aws.secret import CallbackSecret
from greenlight.domain.outcomes import CALLBACK_REJECTED_METRIC, Outcome, Tally
from greenlight.ports import PolicySource, VerdictStore
from greenlight.runtime.components import Dependencies, callback_secret, policy_source, verdict_store
from greenlight.runtime.config import CallbackSettings
from greenlight.runtime.observability import count_by, instrument, logger, metrics, publish

app = APIGatewayHttpResolver()
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@dataclass(frozen=True)
class CallbackDependencies:
    settings: CallbackSettings
    store: VerdictStore
    secret: Callable[[], CallbackSecret]
    policy: PolicySource


def build() -> CallbackDependencies:
    settings = CallbackSettings.from_env(os.environ)
    return CallbackDependencies(settings, verdict_store(settings.table_name), callback_secret(settings.secrets),
                                policy_source(settings.policy))


dependencies = Dependencies(build)


def _respond(reply: Reply, tally: Tally | None = None, policy: PolicySource | None = None) -> Response[str]:
    if tally is None:
        tally = Tally()
        tally.add(Outcome.CALLBACK_REQUEST)
    publish(tally, policy=policy)
    if reply.rejection:
        count_by(CALLBACK_REJECTED_METRIC, reason=reply.rejection)
        logger.warning("callback rejected", extra={"reason": reply.rejection, "status": reply.status})
    return Response(status_code=reply.status, content_type="application/json", body=json.dumps(reply.body))


@app.post("/callback/<token>")
def receive(token: str) -> Response[str]:
    deps = dependencies.get()
    event = app.current_event
    raw: bytes | None
    try:
        raw = base64.b64decode(event.body or "", validate=True) if event.is_base64_encoded \
            else (event.body or "").encode("utf-8")
    except (binascii.Error, ValueError):
        raw = None  # answered 400 after the token check
    tally = Tally()
    reply = handle_callback(token=token, content_type=event.headers.get("content-type"), body=raw,
                            secret=deps.secret(), store=deps.store, policy=deps.policy,
                            max_bytes=deps.settings.max_body_bytes, tally=tally)
    return _respond(reply, tally, deps.policy)


@app.route("/callback/<token>", method=OTHER_METHODS)
def wrong_method(token: str) -> Response[str]:
    return _respond(Reply(405, {"message": "use POST"}, rejection="wrong_method"))


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return _respond(Reply(404, {"message": "not found"}, rejection="no_route"))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected(exc: Exception) -> Response[str]:
    # Green retries a non-200 callback; the poller backs it up either way. No stack trace leaves.
    logger.exception("callback failed")
    return _respond(Reply(500, {"message": "internal error"}))


# API Gateway's request id: the same id is on the API's access log line for the request.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
