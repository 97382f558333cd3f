"""Callback: check one Green result push and record the verdict it carries.

Order of checks, each answered without touching the table: path token (404), body size (413),
content type (415), form syntax (400), checksum over the raw `content` field (403), content JSON
(400). Only then is the result applied, through the same conditional path as the poller, so a
result for an unknown, superseded or already final task changes nothing and still gets 200 (so
Green stops retrying). A result that outran submit (the record is still RECEIVED, its task id not
yet written) gets 409, so Green retries it.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from greenlight.green.checksum import verify_callback_checksum
from greenlight.green.wire import TaskOutcome, TaskResult
from greenlight.observability import count, logger, object_context
from greenlight.results import apply_result
from greenlight.states import State

if TYPE_CHECKING:
    from greenlight.credentials import GreenSecret
    from greenlight.store import VerdictStore

FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    rejection: str | None = None  # the reason dimension of CallbackRejected, when rejected


def _reject(status: int, reason: str, message: str) -> Reply:
    return Reply(status, {"message": message}, rejection=reason)


def token_matches(token: str, secret: GreenSecret) -> bool:
    matched = False
    for expected in secret.callback_tokens:  # compare against all: timing must not tell which matched
        if hmac.compare_digest(token.encode("utf-8", "replace"), expected.encode("utf-8")):
            matched = True
    return matched


def handle_callback(*, token: str, content_type: str | None, body: bytes | None, secret: GreenSecret,
                    store: VerdictStore, max_bytes: int, clock: Callable[[], float] = time.time) -> Reply:
    if not token_matches(token, secret):
        return _reject(404, "bad_token", "not found")
    if body is None:
        return _reject(400, "malformed_form", "body is not valid base64")
    if len(body) > max_bytes:
        return _reject(413, "too_large", f"body over {max_bytes} bytes")
    if (content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
        return _reject(415, "wrong_content_type", f"expected {FORM_TYPE}")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return _reject(400, "malformed_form", "body is not a valid form")
    contents, checksums = fields.get("content", []), fields.get("checksum", [])
    if len(contents) != 1:
        return _reject(400, "malformed_form", "form needs exactly one content field")
    if len(checksums) != 1:
        return _reject(403, "missing_checksum", "checksum missing")
    if not verify_callback_checksum(checksums[0], secret.uid, secret.seeds, contents[0]):
        return _reject(403, "bad_checksum", "checksum does not match")
    try:
        result = TaskResult.from_wire(json.loads(contents[0]))
    except (ValueError, TypeError):
        return _reject(400, "malformed_content", "content is not a task result")
    if not result.task_id:
        return _reject(400, "malformed_content", "content has no taskId")

    with object_context(data_id=result.data_id, task_id=result.task_id):
        applied = apply_result(store, result, source="callback")
        if applied.outcome is TaskOutcome.RETRY and result.data_id:
            # Green could not fetch or lost it: make the record due now so the poller rescans it.
            store.reschedule(result.data_id, task_id=result.task_id, due_at=clock(), last_code=result.code)
        if applied.changed:
            count("CallbackApplied")
            logger.info("verdict recorded", extra={"state": str(applied.state), "suggestion": result.suggestion})
            return Reply(200, {"ok": True, "applied": True})
        if applied.state is not None and _still_being_submitted(store, result):
            # Green answered before submit recorded the task id: ask Green to retry the callback
            # (the poller fetches the result anyway if it never does).
            count("CallbackEarly")
            return Reply(409, {"message": "task not recorded yet; retry later"})
        count("CallbackNoop")
        logger.info("callback changed nothing", extra={"code": result.code})
    return Reply(200, {"ok": True, "applied": False})


def _still_being_submitted(store: VerdictStore, result: TaskResult) -> bool:
    if not result.data_id:
        return False
    record = store.get(result.data_id)
    return record is not None and record.state is State.RECEIVED
