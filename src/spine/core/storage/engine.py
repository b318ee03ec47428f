"""Spine's own database: one engine per process, transactions that survive contention.

SQLite is opened in WAL mode with ``busy_timeout`` and foreign keys on, and write
transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
writes can fail with ``database is locked`` at once, whatever the busy timeout, because its
snapshot is stale. Taking the write lock up front makes writers queue instead.
Transient errors that remain (a lock held past the timeout, a dropped PostgreSQL
connection, a serialization failure) are retried by :meth:`Database.run_write` and
:meth:`Database.run_read`, never surfaced to the caller as long as a retry can help.

A retry never re-applies a write that may already be in the database: when the
connection is lost *at* COMMIT, the server may have committed before it went away, so a
write is retried only if its caller declared it idempotent; otherwise
:class:`~spine.core.errors.CommitOutcomeUnknown` is raised.
"""

from __future__ import annotations

import logging
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from spine.core.errors import CommitOutcomeUnknown, ConfigurationError, DatabaseUnavailable
from spine.core.events import Connection as EventConnection
from spine.core.jsonsafe import dumps

log = logging.getLogger(__name__)

T = TypeVar("T")

# Spec 003 keeps its tables in PostgreSQL schemas `workflow` and `core`; dialects without
# schemas keep them as plain tables.
SCHEMA_NAMES = ("workflow", "core")
_FLAT_SCHEMAS: dict[str | None, str | None] = dict.fromkeys(SCHEMA_NAMES)

_WRITE_OPTION = "spine_write"
_PG_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "08006", "08003"})
# Errors the server reports *instead of* committing (serialization failure, deadlock,
# lock not available): the transaction is known to be rolled back.
_PG_REFUSED_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    """How to open spine's database; defaults suit a laptop."""

    busy_timeout_ms: int = 30_000
    pool_size: int = 5
    max_overflow: int = 10
    connect_timeout_seconds: int = 10
    echo: bool = False


def normalize_url(raw: str) -> URL:
    """Parse a database URL, choosing spine's drivers where the URL names none.

    Raises:
        ConfigurationError: If the URL is malformed or names an unsupported database.
    """
    text = raw.strip()
    if not text:
        raise ConfigurationError("the database URL is empty")
    try:
        url = sa.make_url(text)
    except (exc.ArgumentError, ValueError):
        # ValueError: a port that is not a number (`host:abc`).
        raise ConfigurationError(
            f"malformed database URL {redact(text)!r}: expected e.g. sqlite:///spine.db "
            "or postgresql://user@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgres" or url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"unsupported database {url.get_backend_name()!r} in {redact(text)!r}: "
            "spine keeps its state in sqlite or postgresql"
        )
    return url


# libpq also takes a password in the query string (`?password=...`).
_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pwd|sslpassword)=)[^&]*", re.IGNORECASE)


def redact(url: str | URL) -> str:
    """Return the URL with any password hidden."""
    try:
        parsed = url if isinstance(url, URL) else sa.make_url(url)
    except (exc.ArgumentError, ValueError):
        # Unparseable: still hide whatever sits between "user:" and "@".
        text = re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", str(url))
    else:
        text = parsed.render_as_string(hide_password=True)
    return _QUERY_SECRET.sub(r"\1***", text)


def sql_connection(conn: EventConnection) -> Connection:
    """The SQL connection behind a listener's :class:`spine.core.events.Connection`.

    Core types the connection it hands listeners without SQLAlchemy; a part's store,
    which speaks SQL, narrows it back here.

    Raises:
        TypeError: If ``conn`` is not a SQLAlchemy connection.
    """
    if not isinstance(conn, Connection):
        raise TypeError(f"expected a SQLAlchemy connection, got {type(conn).__name__}")
    return conn


class Database:
    """Spine's own database: an engine plus the transaction discipline every store uses.

    Args:
        engine: A SQLAlchemy engine made by :func:`create_database`.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        # Two option views of one engine (one pool): made once, so that a transaction
        # does not pay for cloning its connection's options every time.
        self._write_engine = engine.execution_options(**{_WRITE_OPTION: True})
        self._read_engine = engine.execution_options(**{_WRITE_OPTION: False})
        # The write connection a thread keeps for a while (see `pinned`).
        self._pinned = threading.local()

    @property
    def url(self) -> URL:
        """The engine's URL (with its password)."""
        return self.engine.url

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Open a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit on success.

        This does not retry: wrap the whole unit of work in :meth:`run_write` for that.
        Inside :meth:`pinned`, the thread's pinned connection is used.
        """
        with self._connect(self._write_engine, pin=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep one connection for this thread's write transactions until the block ends.

        A worker executing a run writes a transaction per step: checking a connection out
        of the pool and back for each (with a reset, and on PostgreSQL a ping) cost more
        than the step's own statements. No transaction stays open between writes, so a
        pinned connection holds no lock and, on SQLite, no snapshot. Nested blocks share
        the outer block's connection. When the pool's regular connections are all in use,
        nothing is pinned: many threads holding connections must not starve the others.
        """
        if getattr(self._pinned, "conn", None) is not None or self._pool_busy():
            yield
            return
        try:
            conn: Connection | None = self._write_engine.connect()
        except exc.DBAPIError:  # unreachable now: each write connects, retried by run_write
            conn = None
        if conn is None:
            yield
            return
        self._pinned.conn = conn
        try:
            yield
        finally:
            self._pinned.conn = None
            conn.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Open a read-only transaction that takes no write lock."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    def _pool_busy(self) -> bool:
        pool = self.engine.pool
        return isinstance(pool, sa.QueuePool) and pool.checkedout() >= pool.size()

    def run_write(
        self, work: Callable[[Connection], T], *, attempts: int = 8, idempotent: bool = False
    ) -> T:
        """Run ``work`` in a write transaction, retrying it whole on transient errors.

        An error before COMMIT, or a COMMIT the database refused (locked, serialization
        failure, deadlock), rolls the transaction back and runs ``work`` again. A
        connection lost *during* COMMIT is ambiguous: the write may be in the database.
        It is retried only when ``idempotent`` says that running ``work`` twice leaves the
        database as running it once (an upsert, an insert keyed by an idempotency key).

        Raises:
            CommitOutcomeUnknown: If the connection was lost at COMMIT and ``work`` is not
                idempotent.
        """
        return self._retry(work, self._write_engine, attempts, idempotent=idempotent, pin=True)

    def run_read(self, work: Callable[[Connection], T], *, attempts: int = 5) -> T:
        """Run ``work`` in a read transaction, retrying it whole on transient errors."""
        return self._retry(work, self._read_engine, attempts, idempotent=True)

    def _retry(
        self,
        work: Callable[[Connection], T],
        engine: Engine,
        attempts: int,
        *,
        idempotent: bool,
        pin: bool = False,
    ) -> T:
        delay = 0.02
        for attempt in range(1, attempts + 1):
            committing = False
            try:
                with self._connect(engine, pin) as conn, conn.begin():
                    result = work(conn)
                    # Leaving the block commits: an error from here on is raised by COMMIT.
                    committing = True
                return result
            except exc.DBAPIError as error:
                if committing and not idempotent and commit_outcome_unknown(error):
                    raise CommitOutcomeUnknown(
                        "the connection to the database was lost while committing; the "
                        f"write may or may not have been applied ({_first_line(error)})"
                    ) from error
                if attempt == attempts or not is_transient(error):
                    translated = translate_error(error, self.engine.url)
                    if translated is error:
                        raise
                    raise translated from error
                log.debug("transient database error, retrying (%s): %s", attempt, error)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _connect(self, engine: Engine, pin: bool) -> Iterator[Connection]:
        """A connection of ``engine``: the thread's pinned one for a write, if it has one."""
        pinned: Connection | None = getattr(self._pinned, "conn", None) if pin else None
        if pinned is not None:
            yield pinned
            return
        with engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        """Open a connection and run ``SELECT 1``.

        Raises:
            DatabaseUnavailable: If the server cannot be reached.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except exc.DBAPIError as error:
            translated = translate_error(error, self.engine.url)
            if translated is error:
                raise
            raise translated from error

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def create_database(url: str | URL, options: EngineOptions | None = None) -> Database:
    """Open spine's database at ``url`` (nothing is connected until first use).

    Raises:
        ConfigurationError: If the URL is malformed or its driver is not installed.
    """
    options = options or EngineOptions()
    parsed = normalize_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = _sqlite_engine(parsed, options)
        else:
            engine = sa.create_engine(
                parsed,
                pool_size=options.pool_size,
                max_overflow=options.max_overflow,
                pool_pre_ping=True,
                connect_args={"connect_timeout": options.connect_timeout_seconds},
                echo=options.echo,
                json_serializer=dumps,
            )
    except (exc.NoSuchModuleError, ModuleNotFoundError) as error:
        extra = "postgres" if backend == "postgresql" else backend
        raise ConfigurationError(
            f"no driver for {parsed.drivername!r}: install spine-core[{extra}] ({error})"
        ) from None
    return Database(engine)


def _sqlite_engine(url: URL, options: EngineOptions) -> Engine:
    memory = url.database in (None, "", ":memory:")
    pool_args: dict[str, Any] = (
        {"poolclass": sa.StaticPool}
        if memory
        # Pooled connections skip the PRAGMAs of a new connection on every transaction;
        # an idle pooled connection holds no read snapshot, so WAL checkpoints proceed.
        else {"pool_size": options.pool_size, "max_overflow": options.max_overflow}
    )
    engine = sa.create_engine(
        url,
        echo=options.echo,
        json_serializer=dumps,
        connect_args={"check_same_thread": False, "timeout": options.busy_timeout_ms / 1000},
        **pool_args,
    ).execution_options(schema_translate_map=_FLAT_SCHEMAS)
    busy_ms = options.busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's BEGIN (below) decide when a transaction starts, instead of the
        # sqlite3 module's implicit, deferred one.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; only an OS crash
            # can lose the last transactions, which is SQLite's documented trade-off.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, True)
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's own
        # statement path costs several times more than the BEGIN itself.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def is_transient(error: exc.DBAPIError) -> bool:
    """Return whether a driver error may go away if the transaction is run again."""
    if error.connection_invalidated:
        return True
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _PG_TRANSIENT_SQLSTATES:
        return True
    return isinstance(error, exc.OperationalError) and "connection" in str(orig).lower()


def commit_outcome_unknown(error: exc.DBAPIError) -> bool:
    """Return whether a COMMIT that raised ``error`` may nevertheless have been applied.

    A transient error the database reports in place of committing (SQLite busy or
    locked; PostgreSQL serialization failure, deadlock, lock not available) means the
    transaction was rolled back. Any other transient error at COMMIT is a lost
    connection: the COMMIT may have reached the server and succeeded before the reply
    was lost.
    """
    if not is_transient(error):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        if "locked" in text or "busy" in text:
            return False
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate not in _PG_REFUSED_SQLSTATES


def database_error_message(error: BaseException) -> str | None:
    """Return one line describing a SQLAlchemy or driver error, or ``None`` for others.

    For the interfaces, which show database failures without importing SQLAlchemy.
    """
    if isinstance(error, exc.DBAPIError):
        origin = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"database error: {origin}"
    if isinstance(error, exc.SQLAlchemyError):
        # SQLAlchemy appends the SQL and a link on further lines: keep the first.
        text = str(error).strip()
        return f"database error: {text.splitlines()[0] if text else repr(error)}"
    return None


def _first_line(error: exc.DBAPIError) -> str:
    text = str(error.orig if error.orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def translate_error(error: exc.DBAPIError, url: URL) -> Exception:
    """Turn a connection failure into :class:`DatabaseUnavailable`; keep others as they are."""
    orig_text = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    sqlstate = getattr(error.orig, "sqlstate", None)
    if "no such table" in orig_text or sqlstate == "42P01":
        return ConfigurationError(
            f"spine's schema is missing or incomplete in {redact(url)} ({orig_text}): "
            "run `spine db upgrade`"
        )
    if isinstance(error, exc.OperationalError) and _is_connect_failure(orig_text):
        return DatabaseUnavailable(f"cannot reach database {redact(url)}: {orig_text}")
    return error


def _is_connect_failure(text: str) -> bool:
    lowered = text.lower()
    return any(
        marker in lowered
        for marker in (
            "connection refused",
            "could not connect",
            "connection failed",
            "timeout expired",
            "could not translate host",
            "name or service not known",
            "unable to open database file",
            "password authentication failed",
            "no password supplied",
        )
    ) or bool(re.search(r'(role|database) "[^"]*" does not exist', text))
