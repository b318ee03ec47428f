"""Other databases, reached through registered connections: engines, pings, queries.

Queries are SQLAlchemy ``text()`` with bound parameters (``:date``): values travel to the
driver separately from the SQL, never formatted into it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.errors import ConfigurationError, ErrorCategory, InvalidInput, SpineError
from spine.core.secrets import MASK, redact_url_password
from spine.sources.models import Connection

DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "duckdb": "duckdb",
    "db2": "db2+ibm_db",
}
EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "duckdb": "duckdb", "db2": "db2"}
_SERVER_DIALECTS = ("postgresql", "mysql", "db2")
_AUTH_MARKERS = ("password authentication failed", "access denied", "authentication failed")
_UNREACHABLE_MARKERS = (
    "connection refused",
    "could not connect",
    "can't connect",
    "timeout expired",
    "timed out",
    "name or service not known",
    "could not translate host",
    "unable to open database file",
)


def connection_url(connection: Connection, password: str | None) -> sa.URL:
    """The SQLAlchemy URL of a registered connection, with the resolved password."""
    return sa.URL.create(
        DRIVERS[connection.dialect],
        username=connection.username,
        password=password,
        host=connection.host,
        port=connection.port,
        database=connection.database,
    )


def translate(error: BaseException, name: str, password: str | None = None) -> SpineError:
    """A :class:`SpineError` with the right category for a driver error (no secrets).

    The driver's first line is kept, with the password (if a driver ever echoes it) and
    any ``user:password@`` of a URL masked.
    """
    if isinstance(error, SpineError):
        return error
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if password:
        text = text.replace(password, MASK)
    text = redact_url_password(text)
    lowered = text.lower()
    if any(marker in lowered for marker in _AUTH_MARKERS):
        category = ErrorCategory.AUTHENTICATION
    elif any(marker in lowered for marker in _UNREACHABLE_MARKERS):
        category = ErrorCategory.UNAVAILABLE
    elif isinstance(error, exc.ProgrammingError | exc.DataError | exc.ArgumentError):
        category = ErrorCategory.VALIDATION
    elif isinstance(error, exc.DBAPIError):
        category = ErrorCategory.DATABASE
    else:
        category = ErrorCategory.INTERNAL
    return SpineError(f"connection {name!r}: {text}", category=category)


class ExternalDatabases:
    """One engine per registered connection (and password), with its pool settings."""

    def __init__(self, *, connect_timeout_seconds: int = 10) -> None:
        self.connect_timeout_seconds = connect_timeout_seconds
        self._engines: dict[tuple[str, str, str], sa.Engine] = {}
        self._lock = threading.Lock()

    def engine(self, connection: Connection, password: str | None) -> sa.Engine:
        """The engine of ``connection``, made once per connection version and password.

        Raises:
            ConfigurationError: If the dialect's driver is not installed.
        """
        secret = hashlib.sha256((password or "").encode()).hexdigest()
        key = (connection.id, connection.updated_at.isoformat(), secret)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                # A connection changed (or its password rotated): its old pool goes.
                self._forget(connection.id)
                engine = self._create(connection, password)
                self._engines[key] = engine
            return engine

    def forget(self, connection_id: str) -> None:
        """Close the pools of a connection (removed, or changed)."""
        with self._lock:
            self._forget(connection_id)

    def _forget(self, connection_id: str) -> None:
        for key in [k for k in self._engines if k[0] == connection_id]:
            self._engines.pop(key).dispose()

    def _create(self, connection: Connection, password: str | None) -> sa.Engine:
        options: dict[str, Any] = {}
        if connection.dialect in _SERVER_DIALECTS:
            options.update(
                pool_size=connection.pool_size,
                max_overflow=connection.max_overflow,
                pool_timeout=connection.pool_timeout,
                pool_pre_ping=True,
            )
            if connection.dialect in ("postgresql", "mysql"):
                options["connect_args"] = {"connect_timeout": self.connect_timeout_seconds}
        try:
            return sa.create_engine(connection_url(connection, password), **options)
        except (exc.NoSuchModuleError, ModuleNotFoundError) as error:
            extra = EXTRAS.get(connection.dialect, connection.dialect)
            raise ConfigurationError(
                f"connection {connection.name!r}: no driver for {connection.dialect} "
                f"(install spine-core[{extra}]): {error}"
            ) from None

    def ping(self, connection: Connection, password: str | None) -> None:
        """Connect and run ``SELECT 1``.

        Raises:
            SpineError: AUTHENTICATION, UNAVAILABLE or DATABASE, naming the connection.
        """
        try:
            with self.engine(connection, password).connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as error:
            raise translate(error, connection.name, password) from None

    def query(
        self,
        connection: Connection,
        password: str | None,
        sql: str,
        params: Mapping[str, Any],
        *,
        batch_size: int = 10_000,
    ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """Run ``sql`` with bound ``params``; yield ``(columns, rows)`` batches.

        Only the parameters the query names are bound; values are never formatted into
        the SQL.

        Raises:
            InvalidInput: If the query names a parameter that was not given.
            SpineError: Categorised driver errors, naming the connection.
        """
        statement = sa.text(sql)
        names = set(statement.compile().params)
        missing = sorted(names - set(params))
        if missing:
            raise InvalidInput(f"query needs parameter(s) {', '.join(missing)}: pass --param")
        bound = {name: params[name] for name in names}
        try:
            with self.engine(connection, password).connect() as conn:
                result = conn.execution_options(stream_results=True).execute(statement, bound)
                columns = list(result.keys())
                while batch := result.fetchmany(batch_size):
                    yield columns, [tuple(row) for row in batch]
                if not columns or result.returns_rows is False:
                    return
        except SpineError:
            raise
        except Exception as error:
            raise translate(error, connection.name, password) from None

    def dispose(self) -> None:
        """Close every pool."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
