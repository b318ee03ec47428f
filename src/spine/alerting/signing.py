"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A webhook carries ``webhook-id`` (the message id, the same on every retry so that the
receiver can drop duplicates), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, with a
secret written ``whsec_<base64 key>``. Several space-separated signatures may be sent
(key rotation); one valid signature is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

from spine.core.errors import ErrorCategory, InvalidInput, SpineError

SECRET_PREFIX = "whsec_"


class WebhookVerificationError(SpineError):
    """A webhook's signature or timestamp does not check out."""

    category = ErrorCategory.AUTHENTICATION


def generate_secret() -> str:
    """A new random ``whsec_`` secret (32 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret.

    Raises:
        InvalidInput: If the secret is not ``whsec_`` followed by base64.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a webhook secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise InvalidInput("a webhook secret must hold at least 16 bytes")
    return key


def _to_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one message."""
    signed = f"{msg_id}.{timestamp}.".encode() + _to_bytes(body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str,
    msg_id: str,
    timestamp: int,
    body: bytes | str,
    *,
    also: Sequence[str] = (),
) -> dict[str, str]:
    """The three Standard Webhooks headers for one message.

    Each secret of ``also`` (a previous secret during a rotation's overlap) adds its own
    signature, space-separated after the one of ``secret``.
    """
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(key, msg_id, timestamp, body) for key in (secret, *also)
        ),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing header {name}")


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance_seconds: int = 300,
    *,
    now: float | None = None,
) -> bool:
    """Check a received webhook; return ``True`` or raise.

    Raising (not returning ``False``) follows the Standard Webhooks reference libraries:
    a receiver cannot forget to look at the result.

    The header may carry several space-separated signatures (spine sends two while a
    rotated secret's overlap lasts); one that matches ``secret`` is enough.

    Args:
        secret: The channel's ``whsec_`` secret.
        headers: The request's headers (any case).
        body: The raw request body, exactly as received.
        tolerance_seconds: How far the timestamp may be from now, either way (replays).
        now: Unix time to compare with (default: the system clock).

    Raises:
        WebhookVerificationError: If a header is missing, the timestamp is too old or too
            far in the future, or no signature matches.
    """
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if timestamp > current + tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is in the future")
    try:
        expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    except InvalidInput as error:
        raise WebhookVerificationError(str(error)) from None
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    raise WebhookVerificationError("no webhook-signature matches")
