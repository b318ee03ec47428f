"""Registered database connections: add, test, resolve their password at use time.

A connection keeps a ``password_ref`` (``env:VAR`` or ``file:PATH``), never a password;
the reference is resolved each time an engine is made, so rotating the secret needs no
change in spine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from spine.core.clock import Clock
from spine.core.crypto import SecretBox
from spine.core.errors import InvalidInput, SpineError
from spine.core.ids import new_id
from spine.core.secrets import check_secret_ref, resolve_secret
from spine.core.storage.schema.sources import CONNECTION_DIALECTS
from spine.sources import mirror
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
    if not isinstance(values.get("allow_samples", True), bool):
        raise InvalidInput("allow_samples must be true or false")


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
    """The connections of ``core_database_connections``, their spec 004 mirrors, engines.

    Bound to the actor of its store: every method reads and writes only the actor's
    workspace (a connection of another workspace is not found, whatever its name).
    The engines (``databases``) are shared by every copy (:meth:`acting_as`), keyed by
    connection id.

    Every add, update, test and remove writes the connection's ``connections`` row (its
    mirror, :mod:`spine.sources.mirror`) in the same transaction; ``secret_key`` gives
    the key its config is sealed with (asked for once, on the first write; ``None``:
    stored as marked plain JSON, which holds no secret).
    """

    def __init__(
        self,
        store: SourceStore,
        databases: ExternalDatabases,
        clock: Clock,
        *,
        secret_key: Callable[[], str | None] | None = None,
    ) -> None:
        self.store = store
        self.databases = databases
        self.clock = clock
        self.secret_key = secret_key or (lambda: None)
        self._seal = mirror.sealer(self.secret_key)

    def acting_as(self, store: SourceStore) -> ConnectionRegistry:
        """This registry over ``store`` (acting as another actor), sharing the engines."""
        other = ConnectionRegistry(store, self.databases, self.clock, secret_key=self.secret_key)
        other._seal = self._seal
        return other

    def ensure_mirror(self, ref: str | Ref) -> uuid.UUID:
        """The id of the connection's spec 004 ``connections`` row (what checks reference).

        The row is created if absent (a connection registered before this version); its
        status then carries the connection's last recorded test.

        Raises:
            ConnectionNotFound: If there is no such connection in the workspace.
        """
        return self.store.ensure_mirror(ref, self._seal, self.clock.now())

    def from_mirror(self, mirror_id: uuid.UUID | str) -> Connection:
        """The registered connection whose mirror is ``mirror_id`` (a check's connection_id).

        Raises:
            ConnectionNotFound: If there is none in the workspace.
        """
        from ulid import ULID

        try:
            key = uuid.UUID(str(mirror_id))
        except ValueError:
            raise ConnectionNotFound(Ref.id(str(mirror_id))) from None
        return self.get(Ref.id(str(ULID.from_uuid(key))))

    def count_checks(self, ref: str | Ref) -> int:
        """How many quality checks read through the connection (removing it removes them).

        Raises:
            ConnectionNotFound: If there is no such connection.
        """
        return self.store.count_checks(ref)

    def reseal_mirrors(self, secret_key: str) -> int:
        """Seal every mirror's config (every workspace) with the first key of ``secret_key``.

        ``plain:`` configs (stored while no key was set) are sealed for the first time.
        One transaction: a config no key opens changes nothing.

        Returns:
            How many mirrors were re-sealed.

        Raises:
            ConfigurationError: If ``secret_key`` is not Fernet keys.
            DecryptionFailed: If no key opens a stored config.
        """
        box = SecretBox(secret_key)
        return self.store.reseal_mirrors(
            lambda blob: mirror.reseal_config(blob, box), self.clock.now()
        )

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
        allow_samples: bool = True,
        created_by: str | None = None,
    ) -> Connection:
        """Register a connection in the workspace (audited), and its spec 004 mirror.

        ``allow_samples`` false keeps quality checks from storing samples of failed rows
        read through it (personal data).

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
            "allow_samples": allow_samples,
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
            },
            self._seal,
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

        return self.store.update_connection(ref, change, self.clock.now(), self._seal)

    def remove(self, ref: str | Ref, *, force: bool = False) -> Connection:
        """Delete a connection and its mirror (audited); see :meth:`remove_with_checks`.

        Raises:
            ConnectionNotFound: If there is no such connection.
            Conflict: If quality checks read through it and ``force`` is false.
        """
        return self.remove_with_checks(ref, force=force)[0]

    def remove_with_checks(self, ref: str | Ref, *, force: bool = False) -> tuple[Connection, int]:
        """Delete a connection, its mirror and its quality checks, in one transaction.

        Spec 004's ``check_definitions`` reference ``connections`` ON DELETE CASCADE: the
        checks (with their results, incidents, schedules and jobs) go with it. Without
        ``force`` a connection that has checks is refused and nothing is deleted.

        Returns:
            The removed connection and how many checks went with it.

        Raises:
            ConnectionNotFound: If there is no such connection.
            Conflict: If it has checks and ``force`` is false.
        """
        removed, checks = self.store.remove_connection(ref, self.clock.now(), force=force)
        self.databases.forget(removed.id)
        return removed, checks

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
            self._record(connection, error)
            raise
        self._record(connection, None)
        return self.get(Ref.id(connection.id))

    def _record(self, connection: Connection, error: SpineError | None) -> None:
        """Write a test's outcome to the registry and (same transaction) the mirror."""
        now = self.clock.now()
        values: dict[str, Any] = (
            {"last_connected_at": now}
            if error is None
            else {"last_error": str(error), "last_error_at": now}
        )
        self.store.record_connection_outcome(
            connection.id, values, status=mirror.status_of(error), at=now, seal=self._seal
        )
