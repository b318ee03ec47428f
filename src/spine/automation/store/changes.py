"""The change log (``automation_changes``) and the dispatcher's positions (``automation_cursors``).

Writers (the capture triggers, spine's own parts through :func:`append`) only insert.
The dispatcher gives rows their ``position`` (:meth:`ChangeLog.sequence`) in the order
they become visible to it, then reads positions in order (:meth:`ChangeLog.read`) and
moves its cursor (:meth:`ChangeLog.advance`). See docs/decisions.md, "The change log and
its position", for why ``id`` order is not enough on PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.automation.models import Change, Operation
from spine.core.events import Connection as EventConnection
from spine.core.storage import Database, sql_connection
from spine.core.storage.schema.automation import automation_changes as changes_t
from spine.core.storage.schema.automation import automation_cursors as cursors_t

__all__ = ["DISPATCHER", "ChangeLog", "append", "cascade_depth", "row_json"]

#: The dispatcher's cursor name.
DISPATCHER = "dispatcher"
# The row the sequencer locks on PostgreSQL, so that two dispatchers never number rows
# at once (on SQLite, BEGIN IMMEDIATE already serialises writers).
_SEQUENCER = "sequencer"
# The PostgreSQL setting a capture trigger reads the cascade depth from
# (``current_setting('spine.automation_depth', true)``), set for one transaction.
DEPTH_SETTING = "spine.automation_depth"


def row_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as the trigger would write it: JSON values, times as ISO text, UUIDs as text.

    Decimals become numbers when a float holds them exactly, else text.
    """
    return {str(k): _json(v) for k, v in row.items()}


def _json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return row_json(value)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, bytes | memoryview):
        return None
    return str(value)


def append(
    conn: EventConnection,
    *,
    table_name: str,
    operation: Operation,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    at: datetime,
    schema_name: str | None = None,
    depth: int = 0,
    rule_id: uuid.UUID | None = None,
    workspace_id: uuid.UUID | None = None,
) -> None:
    """Record one change on ``conn``, the transaction that makes it.

    For spine's own tables (their parts call this where a trigger would fire) and for
    the rows a scheduled rule selects (:attr:`Operation.SCHEDULED`, with ``rule_id``).
    """
    sql_connection(conn).execute(
        changes_t.insert().values(
            table_name=table_name,
            schema_name=schema_name,
            operation=operation.value,
            old_row=None if old is None else row_json(old),
            new_row=None if new is None else row_json(new),
            depth=depth,
            rule_id=rule_id,
            workspace_id=workspace_id,
            created_at=at,
        )
    )


@contextmanager
def cascade_depth(conn: EventConnection, depth: int) -> Iterator[None]:
    """Mark the changes the block makes on ``conn`` as ``depth`` actions deep.

    An action that changes a watched table (``update_field``) wraps its statement in
    this, so that the trigger's change carries the cascade's depth. PostgreSQL: a
    transaction-local setting the trigger reads. SQLite: the rows the block inserted
    are updated after it (SQLite has one writer, so they are this transaction's).
    """
    sql = sql_connection(conn)
    if sql.dialect.name == "postgresql":
        sql.execute(
            sa.select(sa.func.set_config(DEPTH_SETTING, str(depth), True))  # transaction-local
        )
        yield
        sql.execute(sa.select(sa.func.set_config(DEPTH_SETTING, "0", True)))
        return
    before = sql.execute(sa.select(sa.func.coalesce(sa.func.max(changes_t.c.id), 0))).scalar_one()
    yield
    sql.execute(
        changes_t.update()
        .where(changes_t.c.id > before, changes_t.c.position.is_(None))
        .values(depth=depth)
    )


class ChangeLog:
    """The dispatcher's view of the change log.

    Args:
        database: Spine's database.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def sequence(self, limit: int = 10_000) -> int:
        """Give the oldest ``limit`` unnumbered rows the next positions, in ``id`` order.

        Returns how many rows were numbered. Safe with several dispatchers: they number
        one at a time.
        """
        return self.database.run_write(lambda conn: self._sequence(conn, limit))

    def _sequence(self, conn: sa.Connection, limit: int) -> int:
        if conn.dialect.name == "postgresql":
            _ensure_cursor(conn, _SEQUENCER)
            conn.execute(
                sa.select(cursors_t.c.position)
                .where(cursors_t.c.name == _SEQUENCER)
                .with_for_update()
            )
        ids = (
            conn.execute(
                sa.select(changes_t.c.id)
                .where(changes_t.c.position.is_(None))
                .order_by(changes_t.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        last = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(changes_t.c.position), 0))
        ).scalar_one()
        conn.execute(
            changes_t.update()
            .where(changes_t.c.id == sa.bindparam("change_id"))
            .values(position=sa.bindparam("new_position")),
            [
                {"change_id": change_id, "new_position": last + offset}
                for offset, change_id in enumerate(ids, start=1)
            ],
        )
        return len(ids)

    def read(self, after: int, limit: int) -> list[Change]:
        """The numbered changes after position ``after``, oldest first, at most ``limit``."""
        with self.database.read() as conn:
            rows = conn.execute(
                sa.select(changes_t)
                .where(changes_t.c.position > after)
                .order_by(changes_t.c.position)
                .limit(limit)
            ).mappings()
            return [change_from_row(row) for row in rows]

    def position(self, name: str = DISPATCHER) -> int:
        """How far reader ``name`` has handled the log (0: nothing yet)."""
        with self.database.read() as conn:
            value = conn.execute(
                sa.select(cursors_t.c.position).where(cursors_t.c.name == name)
            ).scalar_one_or_none()
        return int(value or 0)

    def advance(self, position: int, at: datetime, name: str = DISPATCHER) -> None:
        """Record that reader ``name`` has handled everything up to ``position``.

        A cursor never moves back here (two dispatchers may finish out of order);
        :meth:`rewind` moves it back on purpose.
        """

        def work(conn: sa.Connection) -> None:
            _ensure_cursor(conn, name)
            conn.execute(
                cursors_t.update()
                .where(cursors_t.c.name == name, cursors_t.c.position < position)
                .values(position=position, updated_at=at)
            )

        self.database.run_write(work, idempotent=True)

    def rewind(self, position: int, at: datetime, name: str = DISPATCHER) -> None:
        """Set reader ``name``'s position to ``position`` (``replay --from``)."""

        def work(conn: sa.Connection) -> None:
            _ensure_cursor(conn, name)
            conn.execute(
                cursors_t.update()
                .where(cursors_t.c.name == name)
                .values(position=position, updated_at=at)
            )

        self.database.run_write(work, idempotent=True)

    def last_position(self) -> int:
        """The newest numbered position (0 when the log is empty)."""
        with self.database.read() as conn:
            value = conn.execute(sa.select(sa.func.max(changes_t.c.position))).scalar_one()
        return int(value or 0)

    def unsequenced(self) -> int:
        """How many rows wait for a position (a sign of a dispatcher that is behind)."""
        with self.database.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(changes_t.c.position.is_(None))
                ).scalar_one()
            )


def _ensure_cursor(conn: sa.Connection, name: str) -> None:
    exists = conn.execute(
        sa.select(cursors_t.c.name).where(cursors_t.c.name == name)
    ).scalar_one_or_none()
    if exists is None:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(
                pg_insert(cursors_t).values(name=name, position=0).on_conflict_do_nothing()
            )
        else:
            conn.execute(cursors_t.insert().values(name=name, position=0))


def change_from_row(row: Mapping[Any, Any]) -> Change:
    """A :class:`Change` from an ``automation_changes`` row."""
    return Change(
        position=int(row["position"]),
        table_name=row["table_name"],
        schema_name=row["schema_name"],
        operation=Operation(row["operation"]),
        old=_loaded(row["old_row"]),
        new=_loaded(row["new_row"]),
        depth=int(row["depth"] or 0),
        rule_id=row["rule_id"],
        workspace_id=row["workspace_id"],
        created_at=row["created_at"],
    )


def _loaded(value: Any) -> dict[str, Any] | None:
    # A trigger on SQLite writes json_object(...) text that the JSON type may hand back
    # as text; PostgreSQL's jsonb comes back as a dict.
    if value is None:
        return None
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else None
    return dict(value)
