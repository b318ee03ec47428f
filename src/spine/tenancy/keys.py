"""API key material: making a key, its prefix, its digest.

A key is ``spk_`` and 43 characters of URL-safe base64: 256 random bits. The database
keeps its first 12 characters (``key_prefix``, to find the row and to recognise the key
in a listing) and the SHA-256 digest of the whole key, never the key. A random 256-bit
key needs no slow hash: guessing it is hopeless, so the digest is there only so that a
leaked table does not leak keys (docs/decisions.md, "API keys: SHA-256, not bcrypt").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_MARK = "spk_"
PREFIX_LENGTH = 12
_SECRET_BYTES = 32
# The mark, then 43 characters of URL-safe base64 without padding (256 bits).
_KEY_SHAPE = re.compile(r"spk_[A-Za-z0-9_-]{43}")


def new_key() -> str:
    """Return a new random key (shown to its owner once, never stored)."""
    return KEY_MARK + secrets.token_urlsafe(_SECRET_BYTES)


def key_prefix(key: str) -> str:
    """The part of ``key`` kept in clear to find its row and show in listings."""
    return key[:PREFIX_LENGTH]


def digest(key: str) -> str:
    """The SHA-256 digest of ``key``, hex, as ``api_keys.key_hash`` stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def well_formed(key: str) -> bool:
    """Whether ``key`` has a key's shape (checked before any query)."""
    return _KEY_SHAPE.fullmatch(key) is not None


def same_digest(key_digest: str, stored_digest: str) -> bool:
    """Whether two digests are equal, compared in constant time."""
    return hmac.compare_digest(key_digest, stored_digest)
