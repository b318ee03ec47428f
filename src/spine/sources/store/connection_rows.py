"""Registered database connections' rows (``core_database_connections``).

:class:`ConnectionRows` reads and writes the actor's workspace, and audits every create,
update and delete; ``connection_for`` (the engine: a source's fetch) and a connection's
outcome (a status, not an edit) work for any workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.errors import Conflict
from spine.core.storage.bounds import check_lengths
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.sources import core_database_connections
from spine.sources.errors import ConnectionNotFound
from spine.sources.models import Connection
from spine.sources.store.ref import Ref
from spine.sources.store.workspace import WorkspaceStore
from spine.tenancy import Actor, AuditAction, changes_between

#: Connection fields an audit entry shows only as changed.
CONNECTION_SECRETS = ("password_ref",)


def _connection(row: sa.Row[Any]) -> Connection:
    values = dict(row._mapping)
    values["enabled"] = bool(values["enabled"])
    values["allow_samples"] = bool(values["allow_samples"])
    return Connection(**values)


class ConnectionRows(WorkspaceStore):
    """The database connections' part of :class:`~spine.sources.store.SourceStore`."""

    def _connection_where(self, ref: Ref) -> sa.ColumnElement[bool]:
        t = core_database_connections
        column = t.c.id if ref.by_id else t.c.name
        return sa.and_(t.c.workspace_id == self.workspace_id, column == ref.value)

    def _find_connection(self, conn: sa.Connection, ref: Ref) -> Connection | None:
        if not ref.well_formed:
            return None
        t = core_database_connections
        row = conn.execute(sa.select(t).where(self._connection_where(ref))).one_or_none()
        return None if row is None else _connection(row)

    def add_connection(self, values: Mapping[str, Any]) -> Connection:
        """Insert a connection row in the actor's workspace.

        Raises:
            InvalidInput: If a text field is longer than its column (nothing is written).
            Conflict: If the name is taken.
        """
        check_lengths(core_database_connections, values, what="connection")
        row_values = {**values, "workspace_id": self.workspace_id}

        def work(conn: sa.Connection) -> Connection:
            if not insert_if_absent(
                conn, core_database_connections, row_values, key=("workspace_id", "name")
            ):
                raise Conflict(f"a connection named {values['name']!r} exists already")
            made = self._find_connection(conn, Ref(values["name"]))
            assert made is not None
            changes = changes_between(None, made.audited(), secrets=CONNECTION_SECRETS)
            self._audit(conn, "connection", made.id, AuditAction.CREATE, changes, made.created_at)
            return made

        return self.db.run_write(work)

    def get_connection(self, ref: str | Ref) -> Connection:
        """The connection ``ref`` names, in the actor's workspace.

        Raises:
            ConnectionNotFound: If there is none (or it belongs to another workspace).
        """
        key = Ref.of(ref)
        found = self.db.run_read(lambda conn: self._find_connection(conn, key))
        if found is None:
            raise ConnectionNotFound(key)
        return found

    def connection_for(self, workspace_id: uuid.UUID | None, name: str) -> Connection:
        """The connection ``name`` of ``workspace_id`` (the engine: a source's fetch).

        Raises:
            ConnectionNotFound: If that workspace has none of this name.
        """
        if workspace_id is None:
            return self.get_connection(name)
        return self.acting_as(Actor.system_in(workspace_id)).get_connection(name)

    def list_connections(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[Connection]:
        """The workspace's connections, by name (``after`` a name, at most ``limit``)."""
        t = core_database_connections
        query = sa.select(t).where(t.c.workspace_id == self.workspace_id).order_by(t.c.name)
        if after is not None:
            if not Ref(after).well_formed:
                return []
            query = query.where(t.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        return [_connection(r) for r in self.db.run_read(lambda conn: conn.execute(query).all())]

    def update_connection(
        self,
        ref: str | Ref,
        change: Callable[[Connection], Mapping[str, Any]],
        now: datetime,
    ) -> Connection:
        """Update a connection: ``change(current)`` gives the columns to set.

        ``change`` may raise (a refused change writes nothing). Nothing changed writes
        no audit row and keeps ``updated_at``.

        Raises:
            ConnectionNotFound: If there is none.
        """
        key = Ref.of(ref)
        t = core_database_connections

        def work(conn: sa.Connection) -> Connection:
            old = self._find_connection(conn, key)
            if old is None:
                raise ConnectionNotFound(key)
            values = dict(change(old))
            check_lengths(t, values, what="connection")
            before = old.audited()
            if all(before.get(k) == v for k, v in values.items()):
                return old
            conn.execute(sa.update(t).where(t.c.id == old.id).values(**values, updated_at=now))
            new = self._find_connection(conn, Ref.id(old.id))
            assert new is not None
            changes = changes_between(before, new.audited(), secrets=CONNECTION_SECRETS)
            self._audit(conn, "connection", old.id, AuditAction.UPDATE, changes, now)
            return new

        return self.db.run_write(work)

    def remove_connection(self, ref: str | Ref, now: datetime) -> Connection:
        """Delete a connection.

        Raises:
            ConnectionNotFound: If there is none.
        """
        key = Ref.of(ref)
        t = core_database_connections

        def work(conn: sa.Connection) -> Connection:
            old = self._find_connection(conn, key)
            if old is None:
                raise ConnectionNotFound(key)
            conn.execute(sa.delete(t).where(t.c.id == old.id))
            changes = changes_between(old.audited(), None, secrets=CONNECTION_SECRETS)
            self._audit(conn, "connection", old.id, AuditAction.DELETE, changes, now)
            return old

        return self.db.run_write(work)

    def record_connection_outcome(self, connection_id: str, values: Mapping[str, Any]) -> None:
        """Write ``last_connected_at`` or ``last_error``/``last_error_at``.

        A status, not an edit: no audit row.
        """
        t = core_database_connections
        statement = (
            sa.update(t)
            .where(t.c.id == connection_id, t.c.workspace_id == self.workspace_id)
            .values(**values)
        )
        self.db.run_write(lambda conn: conn.execute(statement))
