"""Identifiers: ULIDs for the `core_*` tables, UUIDs for the tables of spec 003 and 004.

A ULID is 26 characters of Crockford base32 whose first ten encode the creation time in
milliseconds, so ids sort in creation order and index well (unlike spec 002's 8-character
UUID prefixes, which collide after a few ten thousand runs).
"""

from __future__ import annotations

import uuid

from ulid import ULID


def new_id() -> str:
    """Return a new ULID as a 26-character string."""
    return str(ULID())


def new_uuid() -> uuid.UUID:
    """Return a new random UUID (version 4)."""
    return uuid.uuid4()
