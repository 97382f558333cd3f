"""The moderation policy in force, read from an SSM String parameter (JSON, greenlight.domain.policy).

An operator changes the parameter; each container picks the change up within `max_age` seconds
(Powertools Parameters caches the value), no redeploy. A document that does not validate is refused:
an error log names the bad field (once per distinct bad text), `problem` says what is wrong (so a
handler can count PolicyInvalid), and the last valid policy this container loaded keeps deciding; a
container that never loaded one decides with DEFAULT_POLICY (shadow mode: it decides, it does not act).
A parameter that cannot be read (missing, access denied, throttled) is treated the same way and
retried after `max_age` seconds, not on every call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from greenlight.domain.policy import DEFAULT_POLICY, Policy, PolicyError, parse_policy
from greenlight.runtime.observability import logger


class SsmPolicySource:
    def __init__(self, parameter_name: str, max_age: int, *, clock: Callable[[], float] = time.monotonic,
                 client: Any = None) -> None:
        self.parameter_name = parameter_name
        self.max_age = max_age
        self._clock = clock
        self._client = client  # an SSM client; None: greenlight.aws.clients.aws_client("ssm") on first use
        self._provider: Any = None
        self._valid: Policy | None = None  # the last valid policy read
        self._text: str | None = None  # the last text read, and what it parsed to
        self._parsed: Policy | PolicyError | None = None
        self._failed_at: float | None = None
        self._problem: str | None = None
        self._lock = threading.Lock()

    @property
    def problem(self) -> str | None:
        """Why the policy in force is not the parameter's current value; None when it is."""
        return self._problem

    def current(self) -> Policy:
        """The policy to decide with now (safe to call from the functions' worker threads)."""
        with self._lock:
            return self._current()

    def _current(self) -> Policy:
        if self._failed_at is not None and self._clock() - self._failed_at < self.max_age:
            return self._fallback()
        try:
            text = self._read()
        except Exception as exc:  # any read failure: keep deciding with what we have
            self._failed_at = self._clock()
            self._problem = f"{self.parameter_name}: could not be read ({_short(exc)})"
            fallback = self._fallback()
            logger.error("moderation policy unreadable", extra={"policy_parameter": self.parameter_name,
                                                               "policy_problem": self._problem,
                                                               "policy_version": fallback.version})
            return fallback
        self._failed_at = None
        if text != self._text:
            self._text, self._parsed = text, self._parse(text)
        if isinstance(self._parsed, Policy):
            self._problem = None
            return self._parsed
        self._problem = str(self._parsed)
        return self._fallback()

    def _parse(self, text: str) -> Policy | PolicyError:
        try:
            policy = parse_policy(text)
        except PolicyError as exc:
            logger.error("moderation policy refused", extra={"policy_parameter": self.parameter_name,
                                                             "policy_field": exc.field, "policy_problem": str(exc),
                                                             "policy_version": self._fallback().version})
            return exc
        if self._valid is None or policy != self._valid:
            logger.info("moderation policy loaded", extra={"policy_parameter": self.parameter_name,
                                                           "policy_version": policy.version,
                                                           "policy_mode": policy.mode})
        self._valid = policy
        return policy

    def _fallback(self) -> Policy:
        return self._valid if self._valid is not None else DEFAULT_POLICY

    def _read(self) -> str:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider  # deferred: heavy, first use only

            from greenlight.aws.clients import aws_client

            self._provider = SSMProvider(boto3_client=self._client or aws_client("ssm"))
        value = self._provider.get(self.parameter_name, max_age=self.max_age, decrypt=False)
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if not isinstance(value, str):
            raise TypeError(f"the parameter's value is a {type(value).__name__}, not text")
        return value


def _short(exc: BaseException) -> str:
    """An exception for a log line: its type and first 200 characters (AWS error messages hold no secret)."""
    return f"{type(exc).__name__}: {str(exc)[:200]}"
