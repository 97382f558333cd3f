"""`greenlight setup`: from a deployed (or local) stack that takes no traffic to one that moderates uploads.

Steps, in this order, each idempotent (a step whose work is in place says "already done"):

1. keys: one real Green call with the AccessKey (an ImageAsyncScanResults for a task id nobody has: a
   good key gets code 200 and the task's own "not found"); a key Green refuses stops here, before it can
   reach the secret of a stack that may already be running on a good one.
2. secrets: the AccessKey into the Green keys secret; the uid into the callback secret, keeping its
   generated seed and its callback token, and generating a token when there is none.
3. bucket: S3's EventBridge notifications on the moderated bucket, merged into its configuration (S3
   replaces the whole configuration on every put: the others are read and put back as they were).
4. uploads: the submit function's trigger on (ProcessUploads), only now that the keys work: the
   events that waited in the scan queue are scanned from here on.

Secret values are never printed.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from greenlight.aws.secret import SEED_PATTERN, TOKEN_PATTERN, UID_PATTERN, CallbackSecret, GreenKeys
from greenlight.green.errors import GreenAuthError, GreenError
from greenlight.green.signer import Credentials
from greenlight.runtime.config import ConfigError
from greenlight_cli.ops.ports import Operations
from greenlight_cli.stack import CliError

STACK_UPDATE_SECONDS = 900.0  # the longest `setup` waits for CloudFormation to turn processing on
EVENT_BRIDGE = "EventBridgeConfiguration"


class Status(StrEnum):
    DONE = "done"
    ALREADY = "already done"
    FAILED = "failed"


@dataclass(frozen=True)
class KeysGiven:
    """What the person gave (options or environment); None: not given (the secret's, or a prompt)."""

    access_key_id: str | None = None
    access_key_secret: str | None = None
    uid: str | None = None


Report = Callable[[str, Status, str], None]
Ask = Callable[[str, bool], str]  # (what, hidden) -> the answer


class StepFailed(CliError):
    """A step failed; the message is its one line."""


class SetUp:
    def __init__(self, ops: Operations, report: Report, ask: Ask | None, *,
                 update_seconds: float = STACK_UPDATE_SECONDS) -> None:
        self.ops = ops
        self.report = report
        self.ask = ask
        self.update_seconds = update_seconds

    def run(self, given: KeysGiven) -> None:
        green_id, callback_id = self.ops.output("GreenSecretArn"), self.ops.output("CallbackSecretArn")
        green_now = self.ops.secrets.read(green_id)
        callback_now = self.ops.secrets.read(callback_id)
        keys = self._keys(given, green_now, callback_now)
        self._step("keys", lambda: self._check(keys, green_now))
        self._step("secrets", lambda: self._fill(keys, green_id, green_now, callback_id, callback_now))
        self._step("bucket", self._notifications)
        self._step("uploads", self._uploads)

    def _step(self, name: str, work: Callable[[], tuple[Status, str]]) -> None:
        try:
            status, detail = work()
        except CliError as exc:
            self.report(name, Status.FAILED, str(exc))
            raise
        except Exception as exc:  # an AWS error: reported on the step, explained on stderr by the group
            self.report(name, Status.FAILED, f"{type(exc).__name__}")
            raise
        self.report(name, status, detail)

    # -- 1. the keys, checked with Green ------------------------------------------------------------

    def _keys(self, given: KeysGiven, green_now: Mapping[str, Any], callback_now: Mapping[str, Any]) -> KeysGiven:
        """The keys and uid to use: given, else already in the secrets, else asked for."""
        def pick(value: str | None, current: Any, what: str, hidden: bool, option: str, variable: str) -> str:
            chosen = (value or "").strip() or str(current or "").strip()
            if not chosen and self.ask is not None:
                chosen = self.ask(what, hidden).strip()
            if not chosen:
                raise StepFailed(f"no {what}: give {option} or set {variable}")
            return chosen

        key_id = pick(given.access_key_id, green_now.get("access_key_id"), "Green AccessKey id", False,
                      "--access-key-id", "GREEN_ACCESS_KEY_ID")
        same_key = key_id == str(green_now.get("access_key_id") or "")
        key_secret = pick(given.access_key_secret, green_now.get("access_key_secret") if same_key else None,
                          "Green AccessKey secret", True, "--access-key-secret", "GREEN_ACCESS_KEY_SECRET")
        uid = pick(given.uid, callback_now.get("uid"), "Alibaba Cloud account uid", False, "--uid",
                   "ALIBABA_CLOUD_UID")
        if not UID_PATTERN.match(uid):
            raise StepFailed("the uid must be the Alibaba Cloud main account's numeric id (6 to 32 digits)")
        return KeysGiven(key_id, key_secret, uid)

    def _check(self, keys: KeysGiven, green_now: Mapping[str, Any]) -> tuple[Status, str]:
        assert keys.access_key_id and keys.access_key_secret
        token = green_now.get("security_token") if keys.access_key_id == green_now.get("access_key_id") else None
        client = self.ops.green(Credentials(keys.access_key_id, keys.access_key_secret, token or None))
        try:
            # Nothing is scanned or billed: results of a task nobody submitted.
            client.image_async_results([f"greenlight-setup-check-{uuid.uuid4().hex}"], budget=30)
        except GreenAuthError as exc:
            raise StepFailed(f"Green refused the keys: {exc.code or exc}") from exc
        except GreenError as exc:
            raise StepFailed(f"could not check the keys with Green ({exc.code or type(exc).__name__}): "
                             f"{str(exc)[:200]}") from exc
        region = self.ops.parameters.get("GreenRegion", "")
        return Status.DONE, f"Green accepts the AccessKey{f' in {region}' if region else ''}"

    # -- 2. the secrets ---------------------------------------------------------------------------

    def _fill(self, keys: KeysGiven, green_id: str, green_now: Mapping[str, Any], callback_id: str,
              callback_now: Mapping[str, Any]) -> tuple[Status, str]:
        green_new = {**green_now, "access_key_id": keys.access_key_id, "access_key_secret": keys.access_key_secret}
        if keys.access_key_id != green_now.get("access_key_id"):
            green_new.pop("security_token", None)  # an STS token belongs to the key it was issued with
        callback_new: dict[str, Any] = {**callback_now, "uid": keys.uid}
        generated: list[str] = []
        seed = str(callback_now.get("seed") or "").strip()
        if not seed:
            callback_new["seed"] = secrets.token_hex(20)
            generated.append("a seed generated")
        elif not SEED_PATTERN.match(seed):
            raise StepFailed("the callback secret's seed is not 16 to 64 letters, digits or '_': fix it, or remove "
                             "it and run setup again to have one generated")
        token = str(callback_now.get("callback_token") or "").strip()
        if not token:
            callback_new["callback_token"] = secrets.token_urlsafe(32)
            generated.append("a callback token generated")
        elif not TOKEN_PATTERN.match(token):
            raise StepFailed("the callback secret's callback_token is not 32 to 128 letters, digits, '_' or '-': "
                             "fix it, or remove it and run setup again to have one generated")
        try:  # what the functions will read must be what they accept
            GreenKeys.from_mapping(green_new)
            CallbackSecret.from_mapping(callback_new)
        except ConfigError as exc:
            raise StepFailed(str(exc)) from exc
        done: list[str] = []
        if green_new != dict(green_now):
            self.ops.secrets.write(green_id, green_new)
            done.append("the Green keys written")
        if callback_new != dict(callback_now):
            self.ops.secrets.write(callback_id, callback_new)
            if callback_new["uid"] != callback_now.get("uid"):
                done.append("the uid written")
        done += generated
        if not done:
            return Status.ALREADY, "the keys, uid, seed and callback token are in the secrets"
        kept = [name for name, value in (("seed", seed), ("callback token", token)) if value]
        return Status.DONE, "; ".join(done) + (f" (the {' and '.join(kept)} kept)" if kept else "")

    # -- 3. the bucket's notifications ---------------------------------------------------------------

    def _notifications(self) -> tuple[Status, str]:
        bucket = self.ops.bucket
        configuration = self.ops.storage.notifications(bucket)
        if EVENT_BRIDGE in configuration:
            return Status.ALREADY, f"s3://{bucket} sends its events to EventBridge"
        others = sum(len(v) for k, v in configuration.items() if k != EVENT_BRIDGE and isinstance(v, list))
        self.ops.storage.put_notifications(bucket, {**configuration, EVENT_BRIDGE: {}})
        kept = f"; its {others} other notification configuration{'s' * (others != 1)} kept" if others else ""
        return Status.DONE, f"s3://{bucket} sends its events to EventBridge now{kept}"

    # -- 4. uploads flow ----------------------------------------------------------------------------

    def _uploads(self) -> tuple[Status, str]:
        processing = self.ops.processing
        waiting = self._waiting()
        if processing.enabled():
            return Status.ALREADY, f"submit takes uploads from the scan queue ({processing.where}){waiting}"
        processing.enable(timeout=self.update_seconds)
        return Status.DONE, f"submit takes uploads from the scan queue now ({processing.where}){waiting}"

    def _waiting(self) -> str:
        url = self.ops.outputs.get("QueueUrl")
        if not url:
            return ""
        count = self.ops.queues.depth(url)
        return f"; {count} upload event{'s' * (count != 1)} waiting" if count else ""
