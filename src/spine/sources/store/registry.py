"""SQL of spine's own source tables: one transaction per method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.errors import Conflict
from spine.core.events import Event, EventType, Listener, Publisher
from spine.core.storage import Database
from spine.core.storage.bounds import check_lengths
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.sources import (
    core_database_connections,
    core_source_cache,
    core_source_fetches,
    core_sources,
)
from spine.sources.errors import ConnectionNotFound, SourceNotFound
from spine.sources.models import CacheEntry, Connection, Source, SourceType

_GOOD = ("SUCCESS", "UNCHANGED")


def _source(row: sa.Row[Any]) -> Source:
    return Source(
        id=row.id,
        name=row.name,
        source_type=SourceType(row.source_type),
        config=dict(row.config_json or {}),
        domain=row.domain,
        enabled=bool(row.enabled),
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
    )


def _changed(fetch: Mapping[str, Any]) -> Event:
    """The ``source.changed`` event of a SUCCESS fetch row (subject: the source id)."""
    return Event(
        type=EventType.SOURCE_CHANGED,
        subject_id=fetch["source_id"],
        at=fetch["completed_at"],
        payload={
            key: fetch.get(key)
            for key in (
                "source_name",
                "source_type",
                "source_locator",
                "content_hash",
                "record_count",
                "byte_count",
                "capture_id",
                "run_id",
                "execution_id",
            )
        }
        | {"fetch_id": fetch["id"]},
    )


def _connection(row: sa.Row[Any]) -> Connection:
    values = dict(row._mapping)
    values["enabled"] = bool(values["enabled"])
    return Connection(**values)


def _cache_entry(row: sa.Row[Any]) -> CacheEntry:
    values = dict(row._mapping)
    values["metadata"] = dict(values.pop("metadata_json") or {})
    values["content_size"] = int(values["content_size"] or 0)
    return CacheEntry(**values)


class SourceStore:
    """Sources, their fetch history, the content cache and database connections.

    Args:
        database: Spine's database.
        listeners: Get ``source.changed`` in the transaction that records a fetch whose
            content changed (status SUCCESS).
    """

    def __init__(self, database: Database, *, listeners: Sequence[Listener] = ()) -> None:
        self.db = database
        self.listeners = Publisher(listeners)

    # -- sources -------------------------------------------------------------------

    def add_source(self, values: Mapping[str, Any], *, if_absent: bool = False) -> Source:
        """Insert a source row; with ``if_absent`` keep an existing one of that name.

        Raises:
            InvalidInput: If a text field is longer than its column (nothing is written).
            Conflict: If the name is taken (and ``if_absent`` is off).
        """
        check_lengths(core_sources, values, what="source")

        def work(conn: sa.Connection) -> Source:
            inserted = insert_if_absent(conn, core_sources, values, key=("workspace_id", "name"))
            if not inserted and not if_absent:
                raise Conflict(f"a source named {values['name']!r} exists already")
            row = conn.execute(
                sa.select(core_sources).where(core_sources.c.name == values["name"])
            ).one()
            return _source(row)

        return self.db.run_write(work)

    def get_source(self, name: str) -> Source:
        """The source named ``name``.

        Raises:
            SourceNotFound: If there is none.
        """
        query = sa.select(core_sources).where(core_sources.c.name == name)
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        if row is None:
            raise SourceNotFound(name)
        return _source(row)

    def list_sources(self) -> list[Source]:
        """Every source, by name."""
        query = sa.select(core_sources).order_by(core_sources.c.name)
        return [_source(r) for r in self.db.run_read(lambda conn: conn.execute(query).all())]

    def set_enabled(self, name: str, enabled: bool, now: datetime) -> Source:
        """Enable or disable a source.

        Raises:
            SourceNotFound: If there is none.
        """
        statement = (
            sa.update(core_sources)
            .where(core_sources.c.name == name)
            .values(enabled=enabled, updated_at=now)
        )

        def work(conn: sa.Connection) -> int:
            return conn.execute(statement).rowcount

        if not self.db.run_write(work):
            raise SourceNotFound(name)
        return self.get_source(name)

    def remove_source(self, name: str) -> None:
        """Delete a source; its fetch rows stay (``source_id`` set to NULL), its cache goes.

        Raises:
            SourceNotFound: If there is none.
        """

        def work(conn: sa.Connection) -> int:
            source_id = conn.execute(
                sa.select(core_sources.c.id).where(core_sources.c.name == name)
            ).scalar_one_or_none()
            if source_id is None:
                return 0
            # Explicit, so that SQLite without foreign keys behaves like PostgreSQL.
            conn.execute(
                sa.update(core_source_fetches)
                .where(core_source_fetches.c.source_id == source_id)
                .values(source_id=None)
            )
            conn.execute(
                sa.delete(core_source_cache).where(core_source_cache.c.source_id == source_id)
            )
            return conn.execute(
                sa.delete(core_sources).where(core_sources.c.id == source_id)
            ).rowcount

        if not self.db.run_write(work):
            raise SourceNotFound(name)

    # -- fetches -------------------------------------------------------------------

    def record_fetch(self, row: Mapping[str, Any]) -> None:
        """Insert one ``core_source_fetches`` row; publish ``source.changed`` for a SUCCESS."""
        changed = row["status"] == "SUCCESS" and self.listeners.wanted(EventType.SOURCE_CHANGED)
        event = _changed(row) if changed else None

        def work(conn: sa.Connection) -> None:
            conn.execute(sa.insert(core_source_fetches).values(**row))
            if event is not None:
                self.listeners.publish(conn, event)

        self.db.run_write(work)

    def last_good_fetch(self, source_id: str, locator: str) -> dict[str, Any] | None:
        """The latest SUCCESS or UNCHANGED fetch of ``locator`` by this source, as a dict."""
        t = core_source_fetches
        query = (
            sa.select(t)
            .where(t.c.source_id == source_id, t.c.source_locator == locator, t.c.status.in_(_GOOD))
            .order_by(t.c.started_at.desc(), t.c.id.desc())
            .limit(1)
        )
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        return None if row is None else dict(row._mapping)

    def list_fetches(self, source_name: str, limit: int) -> list[dict[str, Any]]:
        """The latest fetches of a source by name, newest first."""
        t = core_source_fetches
        query = (
            sa.select(t)
            .where(t.c.source_name == source_name)
            .order_by(t.c.started_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        rows = self.db.run_read(lambda conn: conn.execute(query).all())
        return [dict(r._mapping) for r in rows]

    def get_fetch(self, fetch_id: str) -> dict[str, Any] | None:
        """One fetch row by id."""
        query = sa.select(core_source_fetches).where(core_source_fetches.c.id == fetch_id)
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        return None if row is None else dict(row._mapping)

    # -- cache ---------------------------------------------------------------------

    def get_cache(self, cache_key: str) -> CacheEntry | None:
        """The cache entry under ``cache_key``, if any."""
        query = sa.select(core_source_cache).where(core_source_cache.c.cache_key == cache_key)
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        return None if row is None else _cache_entry(row)

    def put_cache(self, values: Mapping[str, Any]) -> CacheEntry | None:
        """Insert or replace a cache entry; return the entry it replaced, if any."""
        t = core_source_cache

        def work(conn: sa.Connection) -> CacheEntry | None:
            old = conn.execute(
                sa.select(t).where(t.c.cache_key == values["cache_key"])
            ).one_or_none()
            conn.execute(sa.delete(t).where(t.c.cache_key == values["cache_key"]))
            conn.execute(sa.insert(t).values(**values))
            return None if old is None else _cache_entry(old)

        return self.db.run_write(work)

    def touch_cache(self, cache_key: str, values: Mapping[str, Any]) -> None:
        """Update an entry's columns (``last_accessed_at``, revalidation results)."""
        statement = (
            sa.update(core_source_cache)
            .where(core_source_cache.c.cache_key == cache_key)
            .values(**values)
        )
        self.db.run_write(lambda conn: conn.execute(statement))

    def list_cache(self) -> list[CacheEntry]:
        """Every cache entry, least recently used first."""
        t = core_source_cache
        query = sa.select(t).order_by(t.c.last_accessed_at, t.c.cache_key)
        return [_cache_entry(r) for r in self.db.run_read(lambda conn: conn.execute(query).all())]

    def delete_cache(self, keys: list[str]) -> int:
        """Delete these entries; return how many went."""
        if not keys:
            return 0
        statement = sa.delete(core_source_cache).where(core_source_cache.c.cache_key.in_(keys))
        return self.db.run_write(lambda conn: conn.execute(statement).rowcount)

    # -- connections ---------------------------------------------------------------

    def add_connection(self, values: Mapping[str, Any]) -> Connection:
        """Insert a connection row.

        Raises:
            InvalidInput: If a text field is longer than its column (nothing is written).
            Conflict: If the name is taken.
        """
        check_lengths(core_database_connections, values, what="connection")

        def work(conn: sa.Connection) -> None:
            if not insert_if_absent(
                conn, core_database_connections, values, key=("workspace_id", "name")
            ):
                raise Conflict(f"a connection named {values['name']!r} exists already")

        self.db.run_write(work)
        return self.get_connection(values["name"])

    def get_connection(self, name: str) -> Connection:
        """The connection named ``name``.

        Raises:
            ConnectionNotFound: If there is none.
        """
        t = core_database_connections
        query = sa.select(t).where(t.c.name == name)
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        if row is None:
            raise ConnectionNotFound(name)
        return _connection(row)

    def list_connections(self) -> list[Connection]:
        """Every connection, by name."""
        t = core_database_connections
        query = sa.select(t).order_by(t.c.name)
        return [_connection(r) for r in self.db.run_read(lambda conn: conn.execute(query).all())]

    def remove_connection(self, name: str) -> None:
        """Delete a connection.

        Raises:
            ConnectionNotFound: If there is none.
        """
        t = core_database_connections
        statement = sa.delete(t).where(t.c.name == name)
        if not self.db.run_write(lambda conn: conn.execute(statement).rowcount):
            raise ConnectionNotFound(name)

    def record_connection_outcome(self, name: str, values: Mapping[str, Any]) -> None:
        """Write ``last_connected_at`` or ``last_error``/``last_error_at``."""
        t = core_database_connections
        statement = sa.update(t).where(t.c.name == name).values(**values)
        self.db.run_write(lambda conn: conn.execute(statement))
