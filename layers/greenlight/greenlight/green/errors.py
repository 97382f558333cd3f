"""Typed errors for what a caller of Green must treat differently.

- GreenInvalidRequest: our request is wrong; fix the input, do not retry.
- GreenAuthError: credentials or account configuration; never retried.
- GreenThrottled: over quota (body code 588 or a gateway Throttling.* error); back off and retry.
- GreenTransientError: a server or network failure that may pass; retry with backoff.

Per-task results are data (see greenlight.green.wire), never exceptions.
"""

from __future__ import annotations


class GreenError(Exception):
    """Base class; `code` is Green's or the gateway's error code when there is one."""

    retryable = False

    def __init__(self, message: str, *, code: str | int | None = None, request_id: str | None = None,
                 maybe_accepted: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id
        self.maybe_accepted = maybe_accepted


class GreenInvalidRequest(GreenError):
    """The request is invalid; `field` names the offending input when known."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.field = field


class GreenAuthError(GreenError):
    """Authentication, permission or configuration failure."""


class GreenThrottled(GreenError):
    retryable = True


class GreenTransientError(GreenError):
    retryable = True
