"""Secret references and redaction: credentials are named in configs, never stored in clear.

A config holds a *reference* such as ``env:FINRA_DB_PASSWORD`` or
``file:/run/secrets/smtp``; :func:`resolve_secret` reads the value at the moment of use.
:func:`redact` masks values under secret-looking keys before a config is shown or logged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spine.core.errors import ConfigurationError, ErrorCategory, InvalidInput, SpineError

REF_SCHEMES = ("env", "file")
MASK = "********"

# Keys whose values are credentials wherever they appear in a config (any nesting).
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|auth(orization)?|credential|private[_-]?key)",
    re.IGNORECASE,
)


class SecretUnavailable(SpineError):
    """A secret reference points at nothing (unset variable, missing or unreadable file)."""

    category = ErrorCategory.AUTHENTICATION


def is_secret_ref(value: object) -> bool:
    """Whether ``value`` is an ``env:NAME`` or ``file:PATH`` reference."""
    return isinstance(value, str) and value.split(":", 1)[0] in REF_SCHEMES and ":" in value


def check_secret_ref(ref: str) -> str:
    """Return ``ref`` if it is a well-formed reference.

    Raises:
        InvalidInput: If it is not ``env:NAME`` or ``file:PATH``.
    """
    scheme, _, target = ref.partition(":")
    if scheme not in REF_SCHEMES or not target:
        raise InvalidInput(
            f"secret reference {scheme + ':' if scheme in REF_SCHEMES else ''}… must be "
            "env:VARIABLE or file:PATH (the secret itself is never stored)"
        )
    if scheme == "env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", target):
        raise InvalidInput(f"secret reference env:{target} is not a valid variable name")
    return ref


def resolve_secret(ref: str, environ: Mapping[str, str] | None = None) -> str:
    """Read the secret ``ref`` names, now.

    A file's content is stripped of one trailing newline (as written by ``echo``).

    Raises:
        InvalidInput: If ``ref`` is malformed.
        SecretUnavailable: If the variable is unset or the file cannot be read; the
            message names the reference, never a value.
    """
    check_secret_ref(ref)
    scheme, _, target = ref.partition(":")
    if scheme == "env":
        value = (os.environ if environ is None else environ).get(target)
        if value is None:
            raise SecretUnavailable(f"secret {ref} is not set in the environment")
        return value
    try:
        text = Path(target).expanduser().read_text(encoding="utf-8")
    except OSError as error:
        raise SecretUnavailable(f"secret {ref} cannot be read: {error.strerror}") from None
    return text.removesuffix("\n")


def is_secret_key(key: str) -> bool:
    """Whether a config key names a credential (``password``, ``api_key``, ``token``, ...)."""
    return bool(_SECRET_KEY.search(key)) and not key.endswith(("_ref", "_env", "_file"))


def redact(config: Any) -> Any:
    """A copy of ``config`` with every credential value masked, for display and logs.

    References (``env:NAME``, ``file:PATH``) are kept: they name a secret, they are not
    one. URLs lose their password (``https://user:****@host``).
    """
    if isinstance(config, Mapping):
        return {
            key: (
                MASK
                if is_secret_key(str(key)) and not is_secret_ref(value) and value
                else redact(value)
            )
            for key, value in config.items()
        }
    if isinstance(config, list | tuple):
        return [redact(item) for item in config]
    if isinstance(config, str):
        return redact_url_password(config)
    return config


_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]+@"
)


def redact_url_password(text: str) -> str:
    """Mask the password of any ``scheme://user:password@host`` in ``text``."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def require_secret_key(secret_key: str | None) -> str:
    """Return the configured Fernet key(s) or say how to set them.

    Raises:
        ConfigurationError: If ``SPINE_SECRET_KEY`` is not set.
    """
    if not secret_key:
        raise ConfigurationError(
            "SPINE_SECRET_KEY is not set: generate one with `spine secret-key` "
            "(a Fernet key; several, comma-separated and newest first, rotate keys)"
        )
    return secret_key
