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
from spine.sources.mirror import Sealer, mirror_id
from spine.sources.models import Connection
from spine.sources.store import mirror_rows
from spine.sources.store.ref import Ref
from spine.sources.store.workspace import WorkspaceStore
from spine.tenancy import Actor, AuditAction, changes_between

#: Connection fields an audit entry shows only as changed.
CONNECTION_SECRETS = ("password_ref",)


def _connection(row: sa.Row[Any], mirror: mirror_rows.Status | None = None) -> Connection:
    values = dict(row._mapping)
    values["enabled"] = bool(values["enabled"])
    values["allow_samples"] = bool(values["allow_samples"])
    if mirror is not None:
        values["status"], values["last_tested_at"] = mirror
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
        if row is None:
            return None
        return _connection(row, mirror_rows.status_row(conn, row.id))

    def add_connection(self, values: Mapping[str, Any], seal: Sealer) -> Connection:
        """Insert a connection row in the actor's workspace, and its spec 004 mirror.

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
            mirror_rows.write(conn, made, seal, made.created_at)
            made = self._find_connection(conn, Ref.id(made.id))
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

        def read(conn: sa.Connection) -> list[Connection]:
            rows = conn.execute(query).all()
            mirrors = mirror_rows.statuses(conn, self.workspace_id) if rows else {}
            return [_connection(r, mirrors.get(mirror_id(r.id))) for r in rows]

        return self.db.run_read(read)

    def ensure_mirror(self, ref: str | Ref, seal: Sealer, now: datetime) -> uuid.UUID:
        """The connection's ``connections`` id, its mirror written first if absent.

        Raises:
            ConnectionNotFound: If there is no such connection.
        """
        key = Ref.of(ref)

        def read(conn: sa.Connection) -> tuple[Connection | None, bool]:
            found = self._find_connection(conn, key)
            return found, found is not None and mirror_rows.exists(conn, found)

        found, present = self.db.run_read(read)
        if found is None:
            raise ConnectionNotFound(key)
        if present:
            return mirror_id(found.id)

        def work(conn: sa.Connection) -> uuid.UUID:
            current = self._find_connection(conn, Ref.id(found.id))
            if current is None:
                raise ConnectionNotFound(key)
            if mirror_rows.exists(conn, current):
                return mirror_id(current.id)
            return mirror_rows.write(conn, current, seal, now)

        return self.db.run_write(work)

    def count_checks(self, ref: str | Ref) -> int:
        """How many quality checks read through the connection (they go with it).

        Raises:
            ConnectionNotFound: If there is none.
        """
        found = self.get_connection(ref)
        return self.db.run_read(lambda conn: mirror_rows.count_checks(conn, found.id))

    def update_connection(
        self,
        ref: str | Ref,
        change: Callable[[Connection], Mapping[str, Any]],
        now: datetime,
        seal: Sealer,
    ) -> Connection:
        """Update a connection: ``change(current)`` gives the columns to set.

        Its mirror is rewritten in the same transaction (created if absent).

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
            mirror_rows.write(conn, new, seal, now)
            new = self._find_connection(conn, Ref.id(old.id))
            assert new is not None
            changes = changes_between(before, new.audited(), secrets=CONNECTION_SECRETS)
            self._audit(conn, "connection", old.id, AuditAction.UPDATE, changes, now)
            return new

        return self.db.run_write(work)

    def remove_connection(
        self, ref: str | Ref, now: datetime, *, force: bool = False
    ) -> tuple[Connection, int]:
        """Delete a connection, its mirror, and the quality checks that read through it.

        Returns:
            The connection, and how many checks went with it.

        Raises:
            ConnectionNotFound: If there is none.
            Conflict: If checks read through it and ``force`` is false (nothing deleted).
        """
        key = Ref.of(ref)
        t = core_database_connections

        def work(conn: sa.Connection) -> tuple[Connection, int]:
            old = self._find_connection(conn, key)
            if old is None:
                raise ConnectionNotFound(key)
            checks = mirror_rows.count_checks(conn, old.id)
            if checks and not force:
                raise Conflict(
                    f"connection {old.name!r} has {checks} quality check"
                    f"{'s' * (checks != 1)}; removing it removes them (and their results "
                    "and incidents): give --force (API: ?force=true)"
                )
            mirror_rows.delete(conn, old.id)
            conn.execute(sa.delete(t).where(t.c.id == old.id))
            changes = changes_between(old.audited(), None, secrets=CONNECTION_SECRETS)
            if checks:
                changes["checks_removed"] = {"old": checks, "new": None}
            self._audit(conn, "connection", old.id, AuditAction.DELETE, changes, now)
            return old, checks

        return self.db.run_write(work)

    def reseal_mirrors(self, reseal: Callable[[bytes], bytes], now: datetime) -> int:
        """Re-seal every mirror's config (every workspace: ``spine secret-key rotate``)."""
        return self.db.run_write(lambda conn: mirror_rows.reseal_all(conn, reseal, now))

    def record_connection_outcome(
        self,
        connection_id: str,
        values: Mapping[str, Any],
        *,
        status: str,
        at: datetime,
        seal: Sealer,
    ) -> None:
        """Write a test's outcome to the connection and its mirror, in one transaction.

        The connection gets ``last_connected_at`` or ``last_error``/``last_error_at``; the
        mirror ``status``, ``last_tested_at`` and ``last_error``. A status, not an edit:
        no audit row. A connection without a mirror gets one.
        """
        t = core_database_connections
        statement = (
            sa.update(t)
            .where(t.c.id == connection_id, t.c.workspace_id == self.workspace_id)
            .values(**values)
        )

        def work(conn: sa.Connection) -> None:
            if not conn.execute(statement).rowcount:
                return
            current = self._find_connection(conn, Ref.id(connection_id))
            assert current is not None
            if not mirror_rows.exists(conn, current):
                mirror_rows.write(conn, current, seal, at)
            mirror_rows.record_test(conn, connection_id, status, at, values.get("last_error"))

        self.db.run_write(work)
