"""Callback: check one Green result push and record the verdict it carries.

Order of checks, each answered without touching the table: path token (404), body size (413),
content type (415), form syntax (400), checksum over the raw `content` field (403), content (400).
A content with a valid checksum is genuine: Green made it for the dataId it names, so it is applied
to that record through the same conditional path as the poller, whichever of the record's tasks it
belongs to (even one whose submission was never recorded). A result for an unknown, superseded or
already final record changes nothing and still gets 200, so Green stops retrying. A genuine
"could not download" result only makes the record due now, so the poller decides at once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from greenlight.aws.secret import CallbackSecret
from greenlight.domain.outcomes import Outcome, Tally
from greenlight.green.checksum import matches_any, verify_callback_checksum
from greenlight.green.wire import TaskOutcome, TaskResult
from greenlight.ports import PolicySource, VerdictStore
from greenlight.runtime.observability import logger, object_context
from greenlight.scanning.results import apply_result

FORM_TYPE = "application/x-www-form-urlencoded"
RECORD_ID = re.compile(r"v-[0-9a-f]{32}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    rejection: str | None = None  # the reason dimension of CallbackRejected, when rejected


def _reject(status: int, reason: str, message: str) -> Reply:
    return Reply(status, {"message": message}, rejection=reason)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_content(content: str) -> TaskResult:
    """The task result in a callback's `content`; ValueError for anything that is not one (including
    NaN, infinities, rates outside 0-100 and nesting deep enough to exhaust the parser)."""
    try:
        return TaskResult.from_wire(json.loads(content, parse_constant=_no_constants))
    except (RecursionError, TypeError, OverflowError) as exc:
        raise ValueError(f"content is not a task result: {type(exc).__name__}") from exc


def handle_callback(*, token: str, content_type: str | None, body: bytes | None, secret: CallbackSecret,
                    store: VerdictStore, policy: PolicySource, max_bytes: int, tally: Tally,
                    clock: Callable[[], float] = time.time) -> Reply:
    tally.add(Outcome.CALLBACK_REQUEST)
    if not matches_any(token, secret.callback_tokens):
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
        result = parse_content(contents[0])
    except ValueError as exc:
        return _reject(400, "malformed_content", str(exc)[:200])
    if not result.task_id:
        return _reject(400, "malformed_content", "content has no taskId")
    return _apply(result, store, policy, tally, clock)


def _apply(result: TaskResult, store: VerdictStore, policy: PolicySource, tally: Tally,
           clock: Callable[[], float]) -> Reply:
    # Only ids of our own shape name a record (Green echoes the dataIds we sent); else look the task up.
    record_id = result.data_id if result.data_id and RECORD_ID.fullmatch(result.data_id) else None
    if record_id is None and result.task_id:
        found = store.find_by_task(result.task_id)
        record_id = found.id if found else None
    with object_context(data_id=record_id, task_id=result.task_id):
        if record_id is None:
            tally.add(Outcome.CALLBACK_NOOP)
            return Reply(200, {"ok": True, "applied": False})
        applied = apply_result(store, policy, result, record_id=record_id, by="callback")
        if applied.changed:
            tally.add(Outcome.CALLBACK_APPLIED)
            tally.add(applied.outcome)
            logger.info("verdict recorded", extra={"state": str(applied.state), "suggestion": result.suggestion})
            return Reply(200, {"ok": True, "applied": True})
        if result.outcome in (TaskOutcome.RETRY, TaskOutcome.FETCH_FAILED):
            # Green lost it or could not fetch it: make the record due now (once; a replay changes
            # nothing) so the poller decides whether to scan it again.
            store.reschedule(record_id, task_id=result.task_id, due_at=clock(), last_code=result.code,
                             only_earlier=True)
        tally.add(Outcome.CALLBACK_NOOP)
        logger.info("callback changed nothing", extra={"code": result.code})
    return Reply(200, {"ok": True, "applied": False})
