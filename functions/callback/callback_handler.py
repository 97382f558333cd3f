"""Callback function: Green's per-task result pushes, behind the HTTP API."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from callback_logic import Reply, handle_callback
from greenlight import wiring
from greenlight.observability import count, count_by, instrument, logger, metrics

app = APIGatewayHttpResolver()
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _respond(reply: Reply) -> Response[str]:
    count("CallbackRequests")
    if reply.rejection:
        count_by("CallbackRejected", reason=reply.rejection)
        logger.warning("callback rejected", extra={"reason": reply.rejection, "status": reply.status})
    return Response(status_code=reply.status, content_type="application/json", body=json.dumps(reply.body))


@app.post("/callback/<token>")
def receive(token: str) -> Response[str]:
    settings = wiring.callback_settings()
    event = app.current_event
    raw: bytes | None
    try:
        raw = base64.b64decode(event.body or "", validate=True) if event.is_base64_encoded \
            else (event.body or "").encode("utf-8")
    except (binascii.Error, ValueError):
        raw = None  # answered 400 after the token check
    reply = handle_callback(
        token=token,
        content_type=event.headers.get("content-type"),
        body=raw,
        secret=wiring.current_secret(settings.green),
        store=wiring.store(settings.table_name),
        max_bytes=settings.max_body_bytes,
    )
    return _respond(reply)


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
    count("CallbackRequests")
    return Response(status_code=500, content_type="application/json", body=json.dumps({"message": "internal error"}))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@instrument
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
