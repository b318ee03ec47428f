"""Credentials in channel configs: sealed at rest, opened only to send, masked on display.

A credential field (``secret``, ``password``, a Slack ``webhook_url`` ...) is given either
as a reference in ``<field>_ref`` (or as the field's value: ``env:VAR`` / ``file:PATH``),
resolved at send time, or as a literal value, which is encrypted with
:class:`~spine.core.crypto.SecretBox` (``SPINE_SECRET_KEY``) before it is stored. A
literal secret or password without a key is refused; a literal URL field (an address
that may embed a token) is then kept as given, and masked on display.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from spine.alerting import rotation
from spine.alerting.channels.base import ChannelType
from spine.core.crypto import SecretBox
from spine.core.errors import InvalidInput
from spine.core.secrets import MASK, check_secret_ref, is_secret_ref, redact, resolve_secret


def seal_config(
    kind: ChannelType, config: dict[str, Any], secret_key: str | None
) -> dict[str, Any]:
    """A copy of ``config`` with literal credentials encrypted and references checked.

    Raises:
        InvalidInput: If a reference is malformed, or a literal credential is given while
            ``SPINE_SECRET_KEY`` is not set.
    """
    sealed = dict(config)
    for field in kind.secret_fields:
        ref = sealed.get(f"{field}_ref")
        if ref is not None:
            check_secret_ref(str(ref))
        value = sealed.get(field)
        if value is None or SecretBox.is_sealed(value):
            continue
        if is_secret_ref(value):
            check_secret_ref(str(value))
            continue
        if not secret_key:
            if field.endswith("url"):
                # An address that may embed a token (Slack, Apprise): kept as given when
                # no key is configured, as Alertmanager keeps it in its config file;
                # masked on display either way.
                continue
            raise InvalidInput(
                f"config field {field!r} holds a credential: give {field}_ref "
                "(env:VAR or file:PATH), or set SPINE_SECRET_KEY to store it encrypted"
            )
        sealed[field] = SecretBox(secret_key).encrypt(value)
    return sealed


def merge_config(
    kind: ChannelType, stored: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    """``stored`` with the keys of ``given`` replaced (a ``null`` value removes the key).

    A credential given as ``<field>`` replaces a stored ``<field>_ref`` and the other way
    round, so that a channel never holds both. A new webhook secret ends an overlap.
    """
    merged = dict(stored)
    for key, value in given.items():
        for field in kind.secret_fields:
            if key == field:
                merged.pop(f"{field}_ref", None)
            elif key == f"{field}_ref":
                merged.pop(field, None)
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if "secret" in given or "secret_ref" in given:
        merged = rotation.ended(merged)
    return merged


def unsealed_config(
    kind: ChannelType, config: dict[str, Any], secret_key: str | None
) -> dict[str, Any]:
    """A copy of ``config`` with sealed credentials decrypted and references kept as given.

    What a channel type validates when a stored config changes: the values it checked
    when the channel was added, not their ciphertext.

    Raises:
        ConfigurationError: If a sealed value needs ``SPINE_SECRET_KEY`` and it is unset.
        DecryptionFailed: If no configured key opens a sealed value.
    """
    opened = dict(config)
    for field in kind.secret_fields:
        value = opened.get(field)
        if SecretBox.is_sealed(value):
            opened[field] = SecretBox(secret_key).decrypt(str(value))
    return opened


def open_config(
    kind: ChannelType, config: dict[str, Any], secret_key: str | None, *, now: datetime
) -> dict[str, Any]:
    """A copy of ``config`` with credentials in clear, for one send only.

    A webhook's previous secret is opened only while its overlap lasts at ``now``.

    Raises:
        SecretUnavailable: If a reference points at nothing.
        ConfigurationError: If a sealed value needs ``SPINE_SECRET_KEY`` and it is unset.
        DecryptionFailed: If no configured key opens a sealed value.
    """
    opened = dict(rotation.current(config, now))
    for field in kind.secret_fields:
        value = opened.get(field)
        ref = opened.pop(f"{field}_ref", None)
        if SecretBox.is_sealed(value):
            opened[field] = SecretBox(secret_key).decrypt(str(value))
        elif is_secret_ref(value):
            opened[field] = resolve_secret(str(value))
        elif value is None and ref is not None:
            opened[field] = resolve_secret(str(ref))
    return opened


def display_config(kind: ChannelType | None, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` safe to show or log: credentials masked, references kept."""
    shown: dict[str, Any] = redact(config)
    for field in kind.secret_fields if kind else ():
        value = config.get(field)
        if value is None or is_secret_ref(value):
            continue
        shown[field] = MASK
        if field.endswith("url") and not SecretBox.is_sealed(value):
            parts = urlsplit(str(value))
            if parts.scheme and parts.hostname:
                shown[field] = f"{parts.scheme}://{parts.hostname}/{MASK}"
    return shown
