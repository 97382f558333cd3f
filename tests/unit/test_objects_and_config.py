"""Image sniffing, URL redaction, and the functions' configuration."""

from __future__ import annotations

import pytest

from green_emulator import make_image
from greenlight.config import ConfigError, PollSettings, ScanSettings
from greenlight.credentials import GreenSecret
from greenlight.objects import sniff_image
from greenlight.observability import redact_url

BASE = {"TABLE_NAME": "t", "BUCKET_NAMES": "b1, b2", "GREEN_SECRET_ID": "arn:secret"}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_every_format_green_takes_is_recognised_by_its_bytes(fmt: str) -> None:
    assert sniff_image(make_image(fmt=fmt)[:32]) == fmt.lower()


@pytest.mark.parametrize("head", [b"", b"<html>", b"%PDF-1.7", b"II*\x00", b"RIFF\x00\x00\x00\x00WAVE", b"BM"])
def test_other_content_is_not_an_image(head: bytes) -> None:
    assert sniff_image(head) is None


def test_presigned_urls_are_logged_without_signature_credential_or_token() -> None:
    url = ("https://b.s3.amazonaws.com/k.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA%2F20261127"
           "&X-Amz-Date=20261127T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
           "&X-Amz-Security-Token=IQoJb3JpZ2luX2Vj&X-Amz-Signature=abcdef0123")

    redacted = redact_url(url)

    assert "abcdef0123" not in redacted and "IQoJb3JpZ2luX2Vj" not in redacted and "ASIA" not in redacted
    assert redacted.startswith("https://b.s3.amazonaws.com/k.png?") and "X-Amz-Expires=3600" in redacted


def test_scan_settings_defaults() -> None:
    settings = ScanSettings.from_env(BASE)

    assert settings.bucket_names == ("b1", "b2")
    assert settings.green.scenes == ("porn", "terrorism")
    assert (settings.scan_mode, settings.url_signing, settings.green.region) == ("async", "role", "cn-shanghai")
    assert settings.green.rps_per_instance == 20.0


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SCAN_MODE", "fast", "SCAN_MODE"),
    ("GREEN_SCENES", "porn,nudity", "GREEN_SCENES"),
    ("URL_EXPIRY_SECONDS", "ten", "URL_EXPIRY_SECONDS"),
    ("URL_EXPIRY_SECONDS", "9999999", "URL_EXPIRY_SECONDS"),
    ("GREEN_REGION", "us-east-1", "GREEN_REGION"),
])
def test_a_bad_variable_fails_fast_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScanSettings.from_env({**BASE, name: value})


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        PollSettings.from_env({"BUCKET_NAMES": "b", "GREEN_SECRET_ID": "s"})


def test_a_secret_missing_keys_names_them_and_never_shows_values() -> None:
    with pytest.raises(ConfigError) as error:
        GreenSecret.from_mapping({"access_key_id": "LTAI1", "access_key_secret": "hush-hush", "uid": "", "seed": ""})

    assert "uid" in str(error.value) and "seed" in str(error.value)
    assert "hush-hush" not in str(error.value)
    secret = GreenSecret.from_mapping({"access_key_id": "LTAI1", "access_key_secret": "hush-hush", "uid": "42",
                                       "seed": "s1", "previous_seed": "s0"})
    assert "hush-hush" not in repr(secret) and "s1" not in repr(secret)
    assert secret.seeds == ("s1", "s0")
