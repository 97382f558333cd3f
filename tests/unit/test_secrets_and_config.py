"""The two secrets and each function's configuration: validated once, failing fast with a message that
names the bad field or variable and never shows a secret's value."""

from __future__ import annotations

from typing import Any

import pytest

from greenlight.aws.secret import CallbackSecret, GreenKeys
from greenlight.runtime.config import (
    CallbackSettings,
    ConfigError,
    KeyFilter,
    PollSettings,
    ScanSettings,
    SubmitSettings,
    green_endpoint,
)
from greenlight.runtime.observability import redact_url

BASE = {"TABLE_NAME": "t", "BUCKET_NAMES": "b1, b2", "GREEN_SECRET_ID": "arn:keys", "CALLBACK_SECRET_ID": "arn:cb",
        "POLICY_PARAMETER": "/greenlight/policy"}
SEED = "Seed_0123456789abcdef"
TOKEN = "tok-" + "x" * 40
CALLBACK = {"uid": "1234567890", "seed": SEED, "callback_token": TOKEN}


# -- Green keys -------------------------------------------------------------------------------------


def test_green_keys_name_the_missing_fields_and_never_the_values() -> None:
    with pytest.raises(ConfigError) as error:
        GreenKeys.from_mapping({"access_key_id": "LTAI5tSecretId", "access_key_secret": "  "})

    assert "access_key_secret" in str(error.value)
    assert "LTAI5tSecretId" not in str(error.value)


def test_green_keys_are_read_stripped_and_kept_out_of_reprs() -> None:
    keys = GreenKeys.from_mapping({"access_key_id": " LTAI5tId ", "access_key_secret": "hush-hush",
                                   "security_token": "CAIS-token", "uid": "ignored here"})

    assert (keys.access_key_id, keys.access_key_secret, keys.security_token) == ("LTAI5tId", "hush-hush", "CAIS-token")
    assert keys.credentials.access_key_secret == "hush-hush"
    assert "hush-hush" not in repr(keys) and "CAIS-token" not in repr(keys)


# -- the callback secret ----------------------------------------------------------------------------


def test_the_callback_secret_names_every_missing_field() -> None:
    with pytest.raises(ConfigError) as error:
        CallbackSecret.from_mapping({"uid": "", "callback_token": TOKEN})

    assert "uid" in str(error.value) and "seed" in str(error.value)
    assert TOKEN not in str(error.value)


@pytest.mark.parametrize(("field", "value"), [
    ("seed", "short_seed"),  # fewer than 16 characters
    ("seed", "Seed-with-dash-0123"),  # Green's seeds are letters, digits and '_'
    ("seed", "S" * 65),
    ("previous_seed", "Previous seed with spaces"),
    ("callback_token", "Token_too_short_0123"),
    ("callback_token", "Token/with/slashes/0123456789abcdef0123"),  # a path segment
    ("previous_callback_token", "T" * 129),
    ("uid", "acct-1234567"),
])
def test_a_bad_callback_secret_field_is_named_and_its_value_never_shown(field: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        CallbackSecret.from_mapping({**CALLBACK, field: value})

    assert f"field {field} must be" in str(error.value)
    assert value not in str(error.value)
    assert SEED not in str(error.value) and TOKEN not in str(error.value)


def test_the_callback_secret_keeps_previous_values_during_a_rotation_and_out_of_reprs() -> None:
    previous_seed, previous_token = "Previous_seed_0123", "old-" + "y" * 40
    secret = CallbackSecret.from_mapping({**CALLBACK, "previous_seed": previous_seed,
                                          "previous_callback_token": previous_token,
                                          "access_key_secret": "not read here"})

    assert secret.seeds == (SEED, previous_seed)
    assert secret.callback_tokens == (TOKEN, previous_token)
    assert all(value not in repr(secret) for value in (SEED, TOKEN, previous_seed, previous_token, "1234567890"))
    without = CallbackSecret.from_mapping({"uid": "1234567890", "seed": SEED})
    assert (without.seeds, without.callback_tokens) == ((SEED,), ())


def test_presigned_urls_are_logged_without_signature_credential_or_token() -> None:
    url = ("https://b.s3.amazonaws.com/k.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA%2F20261127"
           "&X-Amz-Date=20261127T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
           "&X-Amz-Security-Token=IQoJb3JpZ2luX2Vj&X-Amz-Signature=abcdef0123")

    redacted = redact_url(url)

    assert "abcdef0123" not in redacted and "IQoJb3JpZ2luX2Vj" not in redacted and "ASIA" not in redacted
    assert redacted.startswith("https://b.s3.amazonaws.com/k.png?") and "X-Amz-Expires=3600" in redacted


# -- GREEN_ENDPOINT ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    ("green.cn-shanghai.aliyuncs.com", "https://green.cn-shanghai.aliyuncs.com"),
    ("https://green.cn-shanghai.aliyuncs.com/", "https://green.cn-shanghai.aliyuncs.com"),
    ("https://green.cn-shanghai.aliyuncs.com/green/image/scan?x=1", "https://green.cn-shanghai.aliyuncs.com"),
    ("https://green-cip.ap-southeast-1.aliyuncs.com:443", "https://green-cip.ap-southeast-1.aliyuncs.com:443"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://127.0.0.2:8080/", "http://127.0.0.2:8080"),
    ("http://localhost:9000", "http://localhost:9000"),
    ("http://[::1]:9000", "http://[::1]:9000"),
])
def test_green_endpoint_is_https_or_a_loopback_emulator(value: str | None, expected: str | None) -> None:
    assert green_endpoint(value) == expected


@pytest.mark.parametrize("value", [
    "http://green.cn-shanghai.aliyuncs.com", "http://10.0.0.5:8080", "http://0.0.0.0:8080", "ftp://green.example.com",
    "https://", "http://:8080",
])
def test_green_endpoint_refuses_plain_http_off_loopback_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="GREEN_ENDPOINT"):
        ScanSettings.from_env({**BASE, "GREEN_ENDPOINT": value})


@pytest.mark.parametrize("value", ["http://127.0.0.1.attacker.example:8080", "http://localhost.attacker.example"])
def test_a_name_that_only_starts_like_loopback_is_not_loopback(value: str) -> None:
    with pytest.raises(ConfigError, match="GREEN_ENDPOINT"):
        green_endpoint(value)


# -- KeyPrefix / KeySuffix ---------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "suffix", "key", "matches"), [
    ("", "", "anything at all", True),
    ("photos/", ".jpg", "photos/red flower+1.jpg", True),  # decoded: a space and a literal '+'
    ("photos/", ".jpg", "photos%2Fred+flower%2B1.jpg", False),  # the encoded form is not what a user typed
    ("avatars/猫 été/", ".png", "avatars/猫 été/1.png", True),
    ("avatars/猫 été/", ".png", "avatars/猫 ete/1.png", False),
    ("photos/", ".jpg", "photos/a.JPG", False),  # S3 keys are case-sensitive
    ("a", "a", "a", False),  # prefix and suffix may not overlap
    ("a", "a", "aa", True),
])
def test_the_key_filter_matches_the_decoded_key(prefix: str, suffix: str, key: str, matches: bool) -> None:
    assert KeyFilter(prefix, suffix).matches(key) is matches


def test_submit_reads_the_key_filter_as_given() -> None:
    settings = SubmitSettings.from_env({**BASE, "KEY_PREFIX": "avatars/猫 été/", "KEY_SUFFIX": ".png"})

    assert settings.keys == KeyFilter("avatars/猫 été/", ".png")
    assert settings.bucket_names == ("b1", "b2")


# -- the functions' settings ------------------------------------------------------------------------


def test_scan_settings_defaults() -> None:
    settings = ScanSettings.from_env(BASE)

    assert settings.green.scenes == ("porn", "terrorism")
    assert (settings.scan_mode, settings.url_signing, settings.green.region) == ("async", "role", "cn-shanghai")
    assert (settings.max_attempts, settings.lease_seconds, settings.green.max_frames) == (3, 120, 100)
    assert settings.green.endpoint is None
    assert settings.green.rps_per_instance == 20.0
    assert (settings.secrets.green_keys, settings.secrets.callback) == ("arn:keys", "arn:cb")


@pytest.mark.parametrize(("name", "value"), [
    ("SCAN_MODE", "fast"),
    ("GREEN_SCENES", "porn,nudity"),
    ("GREEN_SCENES", " , "),
    ("URL_EXPIRY_SECONDS", "ten"),
    ("URL_EXPIRY_SECONDS", "9999999"),
    ("GREEN_REGION", "us-east-1"),
    ("LEASE_SECONDS", "1.5"),
    ("MAX_SCAN_ATTEMPTS", "0"),
    ("GREEN_MAX_FRAMES", "1001"),
    ("URL_SIGNING", "kms"),
    ("SECRET_MAX_AGE", "-1"),
])
def test_a_bad_variable_fails_fast_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        ScanSettings.from_env({**BASE, name: value})


@pytest.mark.parametrize(("read", "environ", "name"), [
    (PollSettings.from_env, {"GREEN_SECRET_ID": "s", "CALLBACK_SECRET_ID": "c"}, "TABLE_NAME"),
    (ScanSettings.from_env, {"TABLE_NAME": "t", "CALLBACK_SECRET_ID": "c"}, "GREEN_SECRET_ID"),
    (ScanSettings.from_env, {"TABLE_NAME": "t", "GREEN_SECRET_ID": "s"}, "CALLBACK_SECRET_ID"),
    (SubmitSettings.from_env, {"TABLE_NAME": "t", "GREEN_SECRET_ID": "s", "CALLBACK_SECRET_ID": "c"}, "BUCKET_NAMES"),
    (CallbackSettings.from_env, {"TABLE_NAME": "t"}, "CALLBACK_SECRET_ID"),
    (CallbackSettings.from_env, {"TABLE_NAME": "t", "CALLBACK_SECRET_ID": "c"}, "POLICY_PARAMETER"),
    (ScanSettings.from_env, {k: v for k, v in BASE.items() if k != "POLICY_PARAMETER"}, "POLICY_PARAMETER"),
    (PollSettings.from_env, {**BASE, "MAX_RECOVERIES": "0"}, "MAX_RECOVERIES"),
    (PollSettings.from_env, {**BASE, "RESUBMIT_AFTER_SECONDS": "3600"}, "RESUBMIT_AFTER_SECONDS"),
    (CallbackSettings.from_env, {**BASE, "MAX_CALLBACK_BYTES": "10"}, "MAX_CALLBACK_BYTES"),
])
def test_a_missing_or_bad_variable_is_named(read: Any, environ: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        read(environ)


def test_the_callback_function_needs_no_green_keys() -> None:
    settings = CallbackSettings.from_env({"TABLE_NAME": "t", "CALLBACK_SECRET_ID": "arn:cb", "POLICY_PARAMETER": "/p"})

    assert (settings.secrets.green_keys, settings.secrets.callback) == ("", "arn:cb")


def test_poll_settings_defaults() -> None:
    settings = PollSettings.from_env(BASE)

    assert (settings.resubmit_after, settings.max_recoveries, settings.recovery_backoff) == (2700, 30, 60)
