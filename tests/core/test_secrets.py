"""Secret references, redaction, encryption at rest, and the outbound-URL guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from spine.core.crypto import DecryptionFailed, SecretBox, generate_key
from spine.core.errors import ConfigurationError, InvalidInput
from spine.core.net import UrlNotAllowed, check_outbound_url
from spine.core.secrets import SecretUnavailable, redact, resolve_secret

SETTING = "alerting_allow_private_urls"


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
    secret = {"password": "correct horse battery staple"}
    sealed = SecretBox(old).encrypt(secret)
    assert "horse" not in sealed and sealed.startswith("fernet:")
    rotating = SecretBox(f"{new},{old}")
    assert rotating.decrypt(sealed) == secret
    resealed = rotating.rotate(sealed)
    assert SecretBox(new).decrypt(resealed) == secret
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
        check_outbound_url(url, allow_private=False, setting=SETTING)
    assert check_outbound_url(url, allow_private=True, setting=SETTING) == url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "/relative", "http://"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_outbound_url(url, allow_private=True, setting=SETTING)


def test_public_ip_literal_is_allowed() -> None:
    assert check_outbound_url("https://93.184.215.14/x", allow_private=False, setting=SETTING)


def test_sqlite_setups_get_a_local_key_file_made_once(tmp_path: Path) -> None:
    from spine.config import load_settings

    key_file = tmp_path / ".spine" / "secret.key"
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'spine.db'}", secret_key_file=str(key_file)
    )

    first = settings.effective_secret_key()
    assert first is not None and key_file.stat().st_mode & 0o777 == 0o600
    assert settings.effective_secret_key() == first
    assert SecretBox(first).decrypt(SecretBox(first).encrypt("x")) == "x"


def test_postgres_setups_need_a_configured_key(tmp_path: Path) -> None:
    from spine.config import load_settings

    key_file = tmp_path / "secret.key"
    shared = load_settings(
        database_url="postgresql://db/spine", secret_key_file=str(key_file), secret_key=None
    )
    assert shared.effective_secret_key() is None
    assert not key_file.exists()
    configured = load_settings(database_url="postgresql://db/spine", secret_key="k1,k2")
    assert configured.effective_secret_key() == "k1,k2"


def test_unresolvable_host_passes_only_when_saving_a_config() -> None:
    from spine.core.errors import ErrorCategory, SpineError

    url = "https://hooks.invalid/x"  # .invalid never resolves (RFC 6761)
    assert check_outbound_url(url, allow_private=False, setting=SETTING, unresolved_ok=True) == url
    with pytest.raises(SpineError) as caught:
        check_outbound_url(url, allow_private=False, setting=SETTING)
    assert caught.value.category is ErrorCategory.NETWORK
    with pytest.raises(UrlNotAllowed):
        check_outbound_url(
            "http://127.0.0.1/", allow_private=False, setting=SETTING, unresolved_ok=True
        )
