"""Secret references, redaction, encryption at rest, and the outbound-URL guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from spine.core.crypto import DecryptionFailed, SecretBox, generate_key
from spine.core.errors import ConfigurationError, InvalidInput
from spine.core.net import UrlNotAllowed, check_outbound_url
from spine.core.secrets import SecretUnavailable, redact, resolve_secret


def test_env_and_file_references_resolve_at_use(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    assert resolve_secret("env:DB_PW", {"DB_PW": "hunter2"}) == "hunter2"
    assert resolve_secret(f"file:{secret}") == "s3cret"


@pytest.mark.parametrize("ref", ["hunter2", "env:", "vault:x", "env:1BAD"])
def test_malformed_reference_is_refused(ref: str) -> None:
    with pytest.raises(InvalidInput):
        resolve_secret(ref, {})


def test_missing_secret_names_the_reference_only(tmp_path: Path) -> None:
    with pytest.raises(SecretUnavailable, match=r"env:NOPE is not set"):
        resolve_secret("env:NOPE", {})
    with pytest.raises(SecretUnavailable, match="file:"):
        resolve_secret(f"file:{tmp_path / 'absent'}")


def test_redact_masks_credentials_at_any_depth_and_keeps_references() -> None:
    config = {
        "url": "https://bot:tok3n@hooks.example.com/x",
        "secret": "whsec_abc",
        "smtp": {"password": "pw", "password_ref": "env:SMTP_PW", "host": "mail"},
        "headers": [{"Authorization": "Bearer xyz"}],
        "token": "env:SLACK_TOKEN",
    }
    shown = redact(config)
    text = repr(shown)
    for value in ("tok3n", "whsec_abc", "'pw'", "xyz"):
        assert value not in text
    assert shown["smtp"]["password_ref"] == "env:SMTP_PW"
    assert shown["token"] == "env:SLACK_TOKEN"
    assert shown["smtp"]["host"] == "mail"
    assert shown["url"].startswith("https://bot:")


def test_secret_box_round_trip_and_rotation() -> None:
    old, new = generate_key(), generate_key()
    sealed = SecretBox(old).encrypt({"password": "pw"})
    assert "pw" not in sealed
    rotating = SecretBox(f"{new},{old}")
    assert rotating.decrypt(sealed) == {"password": "pw"}
    resealed = rotating.rotate(sealed)
    assert SecretBox(new).decrypt(resealed) == {"password": "pw"}
    with pytest.raises(DecryptionFailed):
        SecretBox(new).decrypt(sealed)


@pytest.mark.parametrize("key", [None, "", "not-a-key"])
def test_secret_box_needs_a_valid_key(key: str | None) -> None:
    with pytest.raises(ConfigurationError):
        SecretBox(key)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_urls_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        check_outbound_url(url, allow_private=False)
    assert check_outbound_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "/relative", "http://"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_outbound_url(url, allow_private=True)


def test_public_ip_literal_is_allowed() -> None:
    assert check_outbound_url("https://93.184.215.14/x", allow_private=False)
