"""Registered database connections: add, test, resolve their password at use time.

A connection keeps a ``password_ref`` (``env:VAR`` or ``file:PATH``), never a password;
the reference is resolved each time an engine is made, so rotating the secret needs no
change in spine.
"""

from __future__ import annotations

import re

from spine.core.clock import Clock
from spine.core.errors import InvalidInput, SpineError
from spine.core.ids import new_id
from spine.core.secrets import check_secret_ref, resolve_secret
from spine.core.storage.schema.sources import CONNECTION_DIALECTS
from spine.sources.models import Connection
from spine.sources.store import ExternalDatabases, SourceStore

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is a usable name for a source or connection.

    Raises:
        InvalidInput: If it is empty, too long, or has characters other than letters,
            digits, ``_``, ``.`` and ``-``.
    """
    if not _NAME.match(name):
        raise InvalidInput(
            f"bad {what} name {name!r}: use letters, digits, '_', '.' and '-' (at most 200)"
        )
    return name


class ConnectionRegistry:
    """The connections of ``core_database_connections`` and their engines."""

    def __init__(self, store: SourceStore, databases: ExternalDatabases, clock: Clock) -> None:
        self.store = store
        self.databases = databases
        self.clock = clock

    def add(
        self,
        name: str,
        *,
        dialect: str,
        database: str,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password_ref: str | None = None,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: int = 30,
        created_by: str | None = None,
    ) -> Connection:
        """Register a connection.

        Raises:
            InvalidInput: Bad name, dialect, reference or pool setting.
            Conflict: If the name is taken.
        """
        check_name(name, "connection")
        if dialect not in CONNECTION_DIALECTS:
            raise InvalidInput(
                f"unknown dialect {dialect!r}: expected one of {', '.join(CONNECTION_DIALECTS)}"
            )
        if password_ref is not None:
            check_secret_ref(password_ref)
        if not database:
            raise InvalidInput("a connection needs --database (a name, or a file for sqlite)")
        if pool_size < 1 or max_overflow < 0 or pool_timeout < 1:
            raise InvalidInput("pool size and timeout must be at least 1, overflow at least 0")
        if port is not None and not 0 < port < 65536:
            raise InvalidInput(f"port {port} is not between 1 and 65535")
        now = self.clock.now()
        return self.store.add_connection(
            {
                "id": new_id(),
                "name": name,
                "dialect": dialect,
                "host": host,
                "port": port,
                "database": database,
                "username": username,
                "password_ref": password_ref,
                "pool_size": pool_size,
                "max_overflow": max_overflow,
                "pool_timeout": pool_timeout,
                "enabled": True,
                "created_at": now,
                "updated_at": now,
                "created_by": created_by,
            }
        )

    def get(self, name: str) -> Connection:
        """The connection named ``name`` (raises ConnectionNotFound)."""
        return self.store.get_connection(name)

    def list_connections(self) -> list[Connection]:
        """Every connection."""
        return self.store.list_connections()

    def remove(self, name: str) -> None:
        """Delete a connection (raises ConnectionNotFound)."""
        self.store.remove_connection(name)

    def password(self, connection: Connection) -> str | None:
        """Resolve the connection's password reference now (None without one)."""
        return resolve_secret(connection.password_ref) if connection.password_ref else None

    def test(self, name: str) -> Connection:
        """Connect and run ``SELECT 1``; record ``last_connected_at`` or the error.

        Raises:
            ConnectionNotFound: If there is no such connection.
            SpineError: The failure (AUTHENTICATION, UNAVAILABLE ...), after recording it.
        """
        connection = self.get(name)
        try:
            self.databases.ping(connection, self.password(connection))
        except SpineError as error:
            self.store.record_connection_outcome(
                name, {"last_error": str(error), "last_error_at": self.clock.now()}
            )
            raise
        self.store.record_connection_outcome(name, {"last_connected_at": self.clock.now()})
        return self.get(name)
