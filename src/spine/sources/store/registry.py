"""SQL of spine's own source tables: one transaction per method.

A store is bound to an :class:`~spine.tenancy.Actor`: the methods the CLI and the API
reach (sources, connections, fetch history, cache listing) read and write only the
actor's workspace, and every create, update and delete writes its ``audit_log`` row in
its own transaction. Fetch rows and cache entries have no workspace column: they are
reached through their source. The engine methods (``connection_for``, the cache's
budget) work across workspaces.

Sources and their fetches are here; the connections' rows are in
:mod:`~spine.sources.store.connection_rows`, the cache's in
:mod:`~spine.sources.store.cache_rows`, the actor and the audit in
:mod:`~spine.sources.store.workspace`, and :class:`Ref` in
:mod:`~spine.sources.store.ref`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.errors import Conflict
from spine.core.events import Event, EventType
from spine.core.storage.bounds import check_lengths
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.sources import (
    core_source_cache,
    core_source_fetches,
    core_sources,
)
from spine.sources.errors import SourceNotFound
from spine.sources.models import Source, SourceType
from spine.sources.store.cache_rows import CacheRows
from spine.sources.store.connection_rows import CONNECTION_SECRETS, ConnectionRows
from spine.sources.store.history_rows import FetchHistoryRows
from spine.sources.store.ref import Ref
from spine.tenancy import DEFAULT_WORKSPACE_ID, AuditAction, changes_between

__all__ = ["CONNECTION_SECRETS", "Ref", "SourceStore"]

_GOOD = ("SUCCESS", "UNCHANGED")


def _source_secrets(*sides: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Source fields an audit entry shows only as changed: the ``config_json.<path>`` ones.

    Each is a credential reference of the config (``spine.sources.configs.audited_source``).
    """
    names = {k for side in sides if side for k in side if k.startswith("config_json.")}
    return tuple(sorted(names))


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
        workspace_id=row.workspace_id,
    )


def _changed(fetch: Mapping[str, Any], workspace_id: uuid.UUID | None) -> Event:
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
        workspace_id=None if workspace_id is None else str(workspace_id),
    )


class SourceStore(ConnectionRows, CacheRows, FetchHistoryRows):
    """Sources, their fetch history, the content cache and database connections.

    Sources and fetches are here; the cache's rows are :class:`CacheRows`'s, the
    connections' :class:`ConnectionRows`'s, a page of sources' fetch history
    :class:`FetchHistoryRows`'s.

    Args:
        database: Spine's database.
        listeners: Get ``source.changed`` in the transaction that records a fetch whose
            content changed (status SUCCESS).
        actor: Who reads and writes, in which workspace (the CLI's default one unless
            told).
    """

    # -- sources -------------------------------------------------------------------

    def _source_where(self, ref: Ref) -> sa.ColumnElement[bool]:
        t = core_sources
        column = t.c.id if ref.by_id else t.c.name
        return sa.and_(t.c.workspace_id == self.workspace_id, column == ref.value)

    def _find_source(self, conn: sa.Connection, ref: Ref) -> Source | None:
        if not ref.well_formed:
            return None
        row = conn.execute(sa.select(core_sources).where(self._source_where(ref))).one_or_none()
        return None if row is None else _source(row)

    def add_source(
        self,
        values: Mapping[str, Any],
        *,
        if_absent: bool = False,
        audited: Callable[[Source], Mapping[str, Any]] = Source.audited,
    ) -> Source:
        """Insert a source row in the actor's workspace.

        With ``if_absent``, an existing one of that name is kept (and no audit row written).

        Raises:
            InvalidInput: If a text field is longer than its column (nothing is written).
            Conflict: If the name is taken (and ``if_absent`` is off).
        """
        check_lengths(core_sources, values, what="source")
        row_values = {**values, "workspace_id": self.workspace_id}

        def work(conn: sa.Connection) -> Source:
            inserted = insert_if_absent(
                conn, core_sources, row_values, key=("workspace_id", "name")
            )
            if not inserted and not if_absent:
                raise Conflict(f"a source named {values['name']!r} exists already")
            source = self._find_source(conn, Ref(values["name"]))
            assert source is not None
            if inserted:
                fields = audited(source)
                changes = changes_between(None, fields, secrets=_source_secrets(fields))
                self._audit(
                    conn, "source", source.id, AuditAction.CREATE, changes, source.created_at
                )
            return source

        return self.db.run_write(work)

    def get_source(self, ref: str | Ref) -> Source:
        """The source ``ref`` names, in the actor's workspace.

        Raises:
            SourceNotFound: If there is none (or it belongs to another workspace).
        """
        key = Ref.of(ref)
        source = self.db.run_read(lambda conn: self._find_source(conn, key))
        if source is None:
            raise SourceNotFound(key)
        return source

    def list_sources(self, *, after: str | None = None, limit: int | None = None) -> list[Source]:
        """The workspace's sources, by name (``after`` a name, at most ``limit``)."""
        t = core_sources
        query = sa.select(t).where(t.c.workspace_id == self.workspace_id).order_by(t.c.name)
        if after is not None:
            if not Ref(after).well_formed:
                return []
            query = query.where(t.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        return [_source(r) for r in self.db.run_read(lambda conn: conn.execute(query).all())]

    def update_source(
        self,
        ref: str | Ref,
        change: Callable[[Source], Mapping[str, Any]],
        now: datetime,
        *,
        audited: Callable[[Source], Mapping[str, Any]] = Source.audited,
    ) -> Source:
        """Update a source: ``change(current)`` gives the columns to set.

        ``change`` may raise (a refused change writes nothing). Nothing changed writes
        no audit row and keeps ``updated_at``.

        Raises:
            SourceNotFound: If there is none.
        """
        key = Ref.of(ref)

        def work(conn: sa.Connection) -> Source:
            old = self._find_source(conn, key)
            if old is None:
                raise SourceNotFound(key)
            values = dict(change(old))
            check_lengths(core_sources, values, what="source")
            current = {"config_json": old.config, "domain": old.domain, "enabled": old.enabled}
            if all(current.get(k) == v for k, v in values.items()):
                return old
            conn.execute(
                sa.update(core_sources)
                .where(core_sources.c.id == old.id)
                .values(**values, updated_at=now)
            )
            new = self._find_source(conn, Ref.id(old.id))
            assert new is not None
            before, after = audited(old), audited(new)
            changes = changes_between(before, after, secrets=_source_secrets(before, after))
            self._audit(conn, "source", old.id, AuditAction.UPDATE, changes, now)
            return new

        return self.db.run_write(work)

    def remove_source(
        self,
        ref: str | Ref,
        now: datetime,
        *,
        audited: Callable[[Source], Mapping[str, Any]] = Source.audited,
    ) -> Source:
        """Delete a source; its fetch rows stay (``source_id`` set to NULL), its cache goes.

        Raises:
            SourceNotFound: If there is none.
        """
        key = Ref.of(ref)

        def work(conn: sa.Connection) -> Source:
            old = self._find_source(conn, key)
            if old is None:
                raise SourceNotFound(key)
            # Explicit, so that SQLite without foreign keys behaves like PostgreSQL.
            conn.execute(
                sa.update(core_source_fetches)
                .where(core_source_fetches.c.source_id == old.id)
                .values(source_id=None)
            )
            conn.execute(
                sa.delete(core_source_cache).where(core_source_cache.c.source_id == old.id)
            )
            conn.execute(sa.delete(core_sources).where(core_sources.c.id == old.id))
            fields = audited(old)
            changes = changes_between(fields, None, secrets=_source_secrets(fields))
            self._audit(conn, "source", old.id, AuditAction.DELETE, changes, now)
            return old

        return self.db.run_write(work)

    # -- fetches -------------------------------------------------------------------

    def record_fetch(self, row: Mapping[str, Any], workspace_id: uuid.UUID | None = None) -> None:
        """Insert one ``core_source_fetches`` row; publish ``source.changed`` for a SUCCESS.

        The event carries ``workspace_id`` (the source's workspace).
        """
        changed = row["status"] == "SUCCESS" and self.listeners.wanted(EventType.SOURCE_CHANGED)
        event = _changed(row, workspace_id or self.workspace_id) if changed else None

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

    def list_fetches(
        self, ref: str | Ref, limit: int, *, before: str | None = None
    ) -> list[dict[str, Any]]:
        """The latest fetches of a source of the workspace, newest first.

        ``before`` (the id of a fetch of this source) continues a listing after it.

        Raises:
            SourceNotFound: If the workspace has no such source.
        """
        key = Ref.of(ref)
        t = core_source_fetches

        def work(conn: sa.Connection) -> list[dict[str, Any]]:
            source = self._find_source(conn, key)
            if source is None:
                if key.by_id or not key.well_formed:
                    raise SourceNotFound(key)
                return self._removed_source_fetches(conn, key.value, limit)
            query = (
                sa.select(t)
                .where(t.c.source_id == source.id)
                .order_by(t.c.started_at.desc(), t.c.id.desc())
                .limit(limit)
            )
            if before is not None:
                anchor = (
                    conn.execute(
                        sa.select(t.c.started_at).where(
                            t.c.id == before, t.c.source_id == source.id
                        )
                    ).scalar_one_or_none()
                    if Ref.id(before).well_formed
                    else None
                )
                if anchor is None:
                    return []
                query = query.where(
                    sa.or_(
                        t.c.started_at < anchor,
                        sa.and_(t.c.started_at == anchor, t.c.id < before),
                    )
                )
            return [dict(r._mapping) for r in conn.execute(query).all()]

        return self.db.run_read(work)

    def _removed_source_fetches(
        self, conn: sa.Connection, name: str, limit: int
    ) -> list[dict[str, Any]]:
        """The fetches of a removed source ``name`` of the workspace, newest first.

        Their ``source_id`` is gone; the workspace is the one their metadata names
        (``workspace_id``, written with every fetch; the default one for older rows).
        """
        t = core_source_fetches
        query = (
            sa.select(t)
            .where(t.c.source_name == name, t.c.source_id.is_(None))
            .order_by(t.c.started_at.desc(), t.c.id.desc())
        )
        mine = str(self.workspace_id)
        rows: list[dict[str, Any]] = []
        for row in conn.execute(query):
            values = dict(row._mapping)
            owner = (values.get("metadata_json") or {}).get(
                "workspace_id", str(DEFAULT_WORKSPACE_ID)
            )
            if owner == mine:
                rows.append(values)
                if len(rows) >= limit:
                    break
        return rows

    def get_fetch(self, fetch_id: str) -> dict[str, Any] | None:
        """One fetch row by id, if its source belongs to the workspace."""
        if not Ref.id(fetch_id).well_formed:
            return None
        f, s = core_source_fetches, core_sources
        query = (
            sa.select(f)
            .join(s, s.c.id == f.c.source_id)
            .where(f.c.id == fetch_id, s.c.workspace_id == self.workspace_id)
        )
        row = self.db.run_read(lambda conn: conn.execute(query).one_or_none())
        return None if row is None else dict(row._mapping)
