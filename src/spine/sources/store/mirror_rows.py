"""SQL of spec 004's ``connections``: the mirror of ``core_database_connections``.

Each function runs in the caller's transaction, the one that changes the registered
connection, so that both tables always agree (:mod:`spine.sources.mirror`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.errors import Conflict
from spine.core.storage.schema.dq_platform import check_definitions, connections
from spine.sources.mirror import HEALTHY, UNHEALTHY, UNKNOWN, Sealer, mirror_id
from spine.sources.models import Connection


def _key(connection: Connection) -> uuid.UUID:
    return mirror_id(connection.id)


def exists(conn: sa.Connection, connection: Connection) -> bool:
    """Whether the connection has its mirror row."""
    t = connections
    return conn.execute(sa.select(t.c.id).where(t.c.id == _key(connection))).first() is not None


def write(conn: sa.Connection, connection: Connection, seal: Sealer, now: datetime) -> uuid.UUID:
    """Create or refresh the mirror of ``connection`` (name, type, sealed config).

    A new mirror's status carries the registry's last outcome (a connection made before
    the mirror existed keeps what its last test said).

    Raises:
        Conflict: If another connection's mirror holds the name (a row spine did not make).
    """
    t = connections
    key = _key(connection)
    values: dict[str, Any] = {
        "name": connection.name,
        "type": connection.dialect,
        "config_encrypted": seal(connection),
        "updated_at": now,
    }
    if conn.execute(sa.update(t).where(t.c.id == key).values(**values)).rowcount:
        return key
    clash = conn.execute(
        sa.select(t.c.id).where(
            t.c.workspace_id == connection.workspace_id, t.c.name == connection.name
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"spec 004 connection {connection.name!r} ({clash.id}) is not the mirror of "
            f"registered connection {connection.id}: remove one of them"
        )
    conn.execute(
        sa.insert(t).values(
            id=key,
            workspace_id=connection.workspace_id,
            created_at=now,
            **values,
            **_carried(connection),
        )
    )
    return key


def _carried(connection: Connection) -> dict[str, Any]:
    """The status a new mirror takes from the registry's last recorded outcome."""
    ok, failed = connection.last_connected_at, connection.last_error_at
    if ok is not None and (failed is None or ok >= failed):
        return {"status": HEALTHY, "last_tested_at": ok, "last_error": None}
    if failed is not None:
        return {"status": UNHEALTHY, "last_tested_at": failed, "last_error": connection.last_error}
    return {"status": UNKNOWN, "last_tested_at": None, "last_error": None}


def record_test(
    conn: sa.Connection, connection_id: str, status: str, at: datetime, error: str | None
) -> None:
    """Write a test's outcome: ``status``, ``last_tested_at``, ``last_error``."""
    t = connections
    conn.execute(
        sa.update(t)
        .where(t.c.id == mirror_id(connection_id))
        .values(status=status, last_tested_at=at, last_error=error)
    )


def count_checks(conn: sa.Connection, connection_id: str) -> int:
    """How many checks (``check_definitions``) read through the connection."""
    t = check_definitions
    query = sa.select(sa.func.count()).where(t.c.connection_id == mirror_id(connection_id))
    return int(conn.execute(query).scalar_one())


def delete(conn: sa.Connection, connection_id: str) -> None:
    """Delete the mirror; its checks (and their results, incidents, schedules, jobs) go.

    The checks are deleted here rather than left to ``ON DELETE CASCADE`` alone: the
    cascade is the schema's promise, this makes it hold on a SQLite file opened without
    ``PRAGMA foreign_keys``.
    """
    key = mirror_id(connection_id)
    conn.execute(sa.delete(check_definitions).where(check_definitions.c.connection_id == key))
    conn.execute(sa.delete(connections).where(connections.c.id == key))


#: A mirror's ``status`` and ``last_tested_at``.
Status = tuple[str, datetime | None]


def status_row(conn: sa.Connection, connection_id: str) -> Status | None:
    """The mirror's ``status`` and ``last_tested_at`` (``None`` without a mirror)."""
    t = connections
    query = sa.select(t.c.status, t.c.last_tested_at).where(t.c.id == mirror_id(connection_id))
    row = conn.execute(query).first()
    return None if row is None else (row.status, row.last_tested_at)


def statuses(conn: sa.Connection, workspace_id: uuid.UUID | None) -> dict[uuid.UUID, Status]:
    """The mirrors of a workspace: ``status`` and ``last_tested_at``, by id."""
    t = connections
    query = sa.select(t.c.id, t.c.status, t.c.last_tested_at).where(
        t.c.workspace_id == workspace_id
    )
    return {row.id: (row.status, row.last_tested_at) for row in conn.execute(query)}


def reseal_all(conn: sa.Connection, reseal: Callable[[bytes], bytes], now: datetime) -> int:
    """Re-seal every mirror's config (every workspace); how many rows changed."""
    t = connections
    count = 0
    for row in conn.execute(sa.select(t.c.id, t.c.config_encrypted)).all():
        conn.execute(
            sa.update(t)
            .where(t.c.id == row.id)
            .values(config_encrypted=reseal(bytes(row.config_encrypted)), updated_at=now)
        )
        count += 1
    return count
