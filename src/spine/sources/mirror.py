"""Spec 004's ``connections``: the mirror of a registered connection, and its sealed config.

A database is registered once, in spec 000's ``core_database_connections`` (what sources
and the engines read). Spec 004's ``connections`` row of the same connection is written in
the same transaction by every add, update, test and remove (``docs/decisions.md``,
"Connections: one registry, one mirror"); quality checks reference it by its id, the UUID
form of the connection's ULID.

``config_encrypted`` holds the connection's JSON config (host, port, database, username,
``password_ref`` -- a reference, never a password -- and the pool settings), sealed with
:class:`~spine.core.crypto.SecretBox` as ``fernet:<token>``. Without a key (PostgreSQL and
no ``SPINE_SECRET_KEY``) it is ``plain:<json>``: the config holds no secret, and
``spine secret-key rotate`` seals such rows once a key is set.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from spine.core.crypto import PREFIX, SecretBox
from spine.core.errors import ErrorCategory, SpineError
from spine.core.secrets import SecretUnavailable
from spine.sources.models import Connection
from spine.tenancy import entity_uuid

#: Marks a config stored without a key (JSON that holds no secret).
PLAIN = "plain:"

#: ``connections.status`` after a test: passed, failed where the database (or the way to
#: it) said no, failed because spine could not even try (a driver, a setting, a bug).
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
ERROR = "error"
UNKNOWN = "unknown"

_UNHEALTHY = frozenset(
    {
        ErrorCategory.AUTHENTICATION,
        ErrorCategory.UNAVAILABLE,
        ErrorCategory.NETWORK,
        ErrorCategory.TIMEOUT,
        ErrorCategory.DATABASE,
        ErrorCategory.PERMISSION,
        ErrorCategory.RATE_LIMITED,
    }
)

#: The connection fields the mirror's config holds.
CONFIG_FIELDS = (
    "host",
    "port",
    "database",
    "username",
    "password_ref",
    "pool_size",
    "max_overflow",
    "pool_timeout",
)


def mirror_id(connection_id: str | uuid.UUID) -> uuid.UUID:
    """The ``connections.id`` of a registered connection: its ULID's UUID form."""
    return entity_uuid(connection_id)


def status_of(error: SpineError | None) -> str:
    """The ``connections.status`` a test's outcome gives (``None``: it passed)."""
    if error is None:
        return HEALTHY
    if isinstance(error, SecretUnavailable):
        return ERROR  # the password reference points at nothing: fixed in spine's settings
    return UNHEALTHY if error.category in _UNHEALTHY else ERROR


def mirror_config(connection: Connection) -> dict[str, Any]:
    """The config the mirror keeps: where and how to connect, never a password."""
    return {field: getattr(connection, field) for field in CONFIG_FIELDS}


#: Seals a connection's config for ``config_encrypted``.
Sealer = Callable[[Connection], bytes]


def sealer(secret_key: Callable[[], str | None]) -> Sealer:
    """A sealer with the key ``secret_key()`` gives, asked for on first use only.

    Building a :class:`SecretBox` imports ``cryptography``; commands that never write a
    connection do not pay for it.
    """
    boxes: list[SecretBox | None] = []

    def seal(connection: Connection) -> bytes:
        if not boxes:
            key = secret_key()
            boxes.append(SecretBox(key) if key else None)
        return seal_config(mirror_config(connection), boxes[0])

    return seal


def seal_config(config: dict[str, Any], box: SecretBox | None) -> bytes:
    """``fernet:<token>`` with ``box``, else ``plain:<json>``."""
    if box is None:
        return (PLAIN + json.dumps(config, separators=(",", ":"))).encode("utf-8")
    return box.encrypt(config).encode("ascii")


def open_config(blob: bytes, box: SecretBox | None) -> dict[str, Any]:
    """The config :func:`seal_config` stored.

    Raises:
        ConfigurationError: If it is sealed and no key is given.
        DecryptionFailed: If no key of ``box`` opens it.
    """
    text = bytes(blob).decode("utf-8")
    if text.startswith(PLAIN):
        value: dict[str, Any] = json.loads(text.removeprefix(PLAIN))
        return value
    opened: dict[str, Any] = SecretBox(None).decrypt(text) if box is None else box.decrypt(text)
    return opened


def reseal_config(blob: bytes, box: SecretBox) -> bytes:
    """``blob`` sealed with ``box``'s first key (a ``plain:`` one sealed for the first time).

    Raises:
        DecryptionFailed: If no key of ``box`` opens it.
    """
    text = bytes(blob).decode("utf-8")
    if text.startswith(PREFIX):
        return box.rotate(text).encode("ascii")
    return seal_config(open_config(blob, None), box)
