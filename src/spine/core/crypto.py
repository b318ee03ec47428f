"""Encryption at rest for configs that hold credentials (credentials are never stored in clear).

Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``; ``SPINE_SECRET_KEY`` holds
one key or several, comma-separated and newest first: :class:`SecretBox` encrypts with the
first and decrypts with any, so keys rotate with :meth:`SecretBox.rotate`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spine.core.errors import ConfigurationError, ErrorCategory, SpineError
from spine.core.secrets import require_secret_key

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

# `cryptography` is imported when a key is used, not with this module: every command
# builds the alert listener, few seal or open a secret (about 9 MB and 50 ms saved).

PREFIX = "fernet:"

log = logging.getLogger(__name__)


class DecryptionFailed(SpineError):
    """A value was encrypted with a key that is not in ``SPINE_SECRET_KEY``."""

    category = ErrorCategory.CONFIGURATION


def generate_key() -> str:
    """A new random Fernet key, as text."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def local_key(path: Path, *, legacy: Path | None = None) -> str | None:
    """The Fernet key kept in ``path``, created (mode 0600) on first use.

    For an embedded SQLite set-up without ``SPINE_SECRET_KEY``: a laptop user can store a
    webhook secret encrypted without choosing a key first, as Airflow writes its Fernet
    key on first start. Two processes creating it at once agree: the file is created
    exclusively and the loser reads the winner's key. Returns ``None`` (and logs why) if
    the file can be neither read nor created.

    ``legacy`` is where an earlier version kept the key (``.spine/secret.key`` of the
    working directory). When ``path`` is first made, a valid key found there is copied
    into it rather than a new one generated, so what it sealed stays readable everywhere;
    a different valid key found there later is returned after ``path``'s key (opens, never
    seals), so that ``spine secret-key rotate`` can re-seal what it sealed.
    """
    old = _read_key(legacy) if legacy is not None else None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as error:
        log.warning("cannot create the local secret key %s: %s", path, error.strerror)
        return None
    else:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write((old or generate_key()) + "\n")
        if old:
            log.info("local secret key %s adopted from %s", path, legacy)
    try:
        key = path.read_text(encoding="ascii").strip() or None
    except OSError as error:
        log.warning("cannot read the local secret key %s: %s", path, error.strerror)
        return None
    if key and old and old != key:
        return f"{key},{old}"
    return key


def _read_key(path: Path) -> str | None:
    """The Fernet key in ``path`` if it holds one, else ``None`` (absent, unreadable, bad)."""
    try:
        key = path.read_text(encoding="ascii").strip()
        valid = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (OSError, ValueError):
        return None
    return key if valid else None


class SecretBox:
    """Encrypts and decrypts JSON values with the configured Fernet keys."""

    def __init__(self, secret_key: str | None) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        keys = [key.strip() for key in require_secret_key(secret_key).split(",") if key.strip()]
        try:
            self._fernet: MultiFernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError):
            raise ConfigurationError(
                "SPINE_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated"
            ) from None

    def encrypt(self, value: Any) -> str:
        """``fernet:<token>`` for a JSON-serialisable ``value``."""
        data = json.dumps(value, separators=(",", ":")).encode("utf-8")
        return PREFIX + self._fernet.encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> Any:
        """The value :meth:`encrypt` sealed.

        Raises:
            DecryptionFailed: If no configured key opens it, or it was tampered with.
        """
        from cryptography.fernet import InvalidToken

        try:
            data = self._fernet.decrypt(token.removeprefix(PREFIX).encode("ascii"))
        except InvalidToken:
            raise DecryptionFailed(
                "cannot decrypt a stored secret: it was sealed with a key that is not in "
                "SPINE_SECRET_KEY (keep old keys after the new one until `rotate` ran)"
            ) from None
        return json.loads(data)

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` with the newest key.

        Raises:
            DecryptionFailed: If no configured key opens it.
        """
        from cryptography.fernet import InvalidToken

        try:
            rotated = self._fernet.rotate(token.removeprefix(PREFIX).encode("ascii"))
        except InvalidToken:
            raise DecryptionFailed(
                "cannot re-seal a stored secret: none of the keys in SPINE_SECRET_KEY opens "
                "it (put the key it was sealed with after the new one)"
            ) from None
        return PREFIX + rotated.decode("ascii")

    @staticmethod
    def is_sealed(value: object) -> bool:
        """Whether ``value`` is a token made by :meth:`encrypt`."""
        return isinstance(value, str) and value.startswith(PREFIX)


def reseal(value: Any, box: SecretBox) -> tuple[Any, int]:
    """``value`` (a JSON document) with every sealed string re-sealed by ``box``'s first key.

    Returns:
        The new document and how many sealed values it holds.

    Raises:
        DecryptionFailed: If no key of ``box`` opens one of them.
    """
    if SecretBox.is_sealed(value):
        return box.rotate(str(value)), 1
    if isinstance(value, dict):
        count = 0
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], found = reseal(item, box)
            count += found
        return out, count
    if isinstance(value, list):
        items = [reseal(item, box) for item in value]
        return [item for item, _ in items], sum(found for _, found in items)
    return value, 0
