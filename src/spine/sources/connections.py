"""Registered database connections: add, test, resolve their password at use time.

A connection keeps a ``password_ref`` (``env:VAR`` or ``file:PATH``), never a password;
the reference is resolved each time an engine is made, so rotating the secret needs no
change in spine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from spine.core.clock import Clock
from spine.core.errors import InvalidInput, SpineError
from spine.core.ids import new_id
from spine.core.secrets import check_secret_ref, resolve_secret
from spine.core.storage.schema.sources import CONNECTION_DIALECTS
from spine.sources.errors import ConnectionNotFound
from spine.sources.models import CONNECTION_SETTINGS, Connection, Source
from spine.sources.store import ExternalDatabases, Ref, SourceStore

_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is a usable name for a source or connection.

    Raises:
        InvalidInput: If it is empty, too long, or has characters other than letters,
            digits, ``_``, ``.`` and ``-``.
    """
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"bad {what} name {name!r}: use letters, digits, '_', '.' and '-' (at most 200)"
        )
    return name


#: The fields of a connection an update may set (``name`` is fixed: sources name it).
UPDATABLE = CONNECTION_SETTINGS


def check_fields(values: Mapping[str, Any]) -> None:
    """Refuse a connection's values that cannot be used (the same checks for add and update).

    Raises:
        InvalidInput: Naming the field.
    """
    dialect = values.get("dialect")
    if dialect not in CONNECTION_DIALECTS:
        raise InvalidInput(
            f"unknown dialect {dialect!r}: expected one of {', '.join(CONNECTION_DIALECTS)}"
        )
    if values.get("password_ref") is not None:
        check_secret_ref(str(values["password_ref"]))
    if not values.get("database"):
        raise InvalidInput("a connection needs --database (a name, or a file for sqlite)")
    if values["pool_size"] < 1 or values["max_overflow"] < 0 or values["pool_timeout"] < 1:
        raise InvalidInput("pool size and timeout must be at least 1, overflow at least 0")
    port = values.get("port")
    if port is not None and not 0 < port < 65536:
        raise InvalidInput(f"port {port} is not between 1 and 65535")
    for key in ("host", "database", "username", "password_ref"):
        check_text(values.get(key), key)


def check_text(value: object, field: str) -> None:
    """Refuse text that no database column can hold (NUL, a lone UTF-16 surrogate).

    Raises:
        InvalidInput: Naming the field.
    """
    if isinstance(value, str) and ("\x00" in value or _SURROGATE.search(value)):
        raise InvalidInput(
            f"{field}: text with a NUL character or a lone surrogate cannot be stored"
        )


class ConnectionRegistry:
    """The connections of ``core_database_connections`` and their engines.

    Bound to the actor of its store: every method reads and writes only the actor's
    workspace (a connection of another workspace is not found, whatever its name).
    The engines (``databases``) are shared by every copy (:meth:`acting_as`), keyed by
    connection id.
    """

    def __init__(self, store: SourceStore, databases: ExternalDatabases, clock: Clock) -> None:
        self.store = store
        self.databases = databases
        self.clock = clock

    def acting_as(self, store: SourceStore) -> ConnectionRegistry:
        """This registry over ``store`` (acting as another actor), sharing the engines."""
        return ConnectionRegistry(store, self.databases, self.clock)

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
        """Register a connection in the workspace (audited).

        Raises:
            InvalidInput: Bad name, dialect, reference or pool setting.
            Conflict: If the name is taken in the workspace.
        """
        check_name(name, "connection")
        values: dict[str, Any] = {
            "dialect": dialect,
            "host": host,
            "port": port,
            "database": database,
            "username": username,
            "password_ref": password_ref,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
        }
        check_fields(values)
        check_text(created_by, "created_by")
        now = self.clock.now()
        return self.store.add_connection(
            {
                "id": new_id(),
                "name": name,
                **values,
                "enabled": True,
                "created_at": now,
                "updated_at": now,
                "created_by": created_by,
            }
        )

    def get(self, ref: str | Ref) -> Connection:
        """The connection ``ref`` names (raises ConnectionNotFound)."""
        return self.store.get_connection(ref)

    def list_connections(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[Connection]:
        """The workspace's connections, by name (``after`` a name, at most ``limit``)."""
        return self.store.list_connections(after=after, limit=limit)

    def update(self, ref: str | Ref, changes: Mapping[str, Any]) -> Connection:
        """Set some of :data:`UPDATABLE` (audited; ``password_ref`` only as changed).

        Raises:
            ConnectionNotFound: If there is no such connection.
            InvalidInput: A field that is not updatable, or a value refused as in :meth:`add`.
        """
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise InvalidInput(f"connection fields {', '.join(unknown)} cannot be changed")

        def change(current: Connection) -> Mapping[str, Any]:
            merged = {key: getattr(current, key) for key in UPDATABLE} | dict(changes)
            check_fields(merged)
            return {key: merged[key] for key in changes}

        return self.store.update_connection(ref, change, self.clock.now())

    def remove(self, ref: str | Ref) -> Connection:
        """Delete a connection (audited; raises ConnectionNotFound)."""
        removed = self.store.remove_connection(ref, self.clock.now())
        self.databases.forget(removed.id)
        return removed

    def password(self, connection: Connection) -> str | None:
        """Resolve the connection's password reference now (None without one)."""
        return resolve_secret(connection.password_ref) if connection.password_ref else None

    def for_source(self, source: Source, name: str) -> Connection:
        """The connection ``name`` of the source's workspace (the fetch's lookup).

        Raises:
            ConnectionNotFound: If that workspace has none of this name.
        """
        return self.store.connection_for(source.workspace_id, name)

    def check(self, ref: str | Ref) -> tuple[Connection, SpineError | None]:
        """Like :meth:`test`, but a failure to connect is returned, not raised.

        Raises:
            ConnectionNotFound: If there is no such connection.
        """
        try:
            return self.test(ref), None
        except ConnectionNotFound:
            raise
        except SpineError as error:
            return self.get(ref), error

    def test(self, ref: str | Ref) -> Connection:
        """Connect and run ``SELECT 1``; record ``last_connected_at`` or the error.

        The error's text never holds the password (the driver's message is scrubbed).

        Raises:
            ConnectionNotFound: If there is no such connection.
            SpineError: The failure (AUTHENTICATION, UNAVAILABLE ...), after recording it.
        """
        connection = self.get(ref)
        try:
            self.databases.ping(connection, self.password(connection))
        except SpineError as error:
            self.store.record_connection_outcome(
                connection.id, {"last_error": str(error), "last_error_at": self.clock.now()}
            )
            raise
        self.store.record_connection_outcome(connection.id, {"last_connected_at": self.clock.now()})
        return self.get(Ref.id(connection.id))
