"""Statements whose SQL differs by dialect: upserts and insert-if-absent.

Both SQLite and PostgreSQL speak ``INSERT ... ON CONFLICT``; SQLAlchemy builds it from
the dialect's own ``insert`` (DBOS ``_sys_db.py`` does the same).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa


def _dialect_module(name: str) -> Any:
    # Imported on first use: the PostgreSQL dialect costs 30 ms to import, which every
    # short-lived `spine` command would pay.
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql
    from sqlalchemy.dialects import sqlite

    return sqlite


def dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's own INSERT construct, which has ``on_conflict_do_*``."""
    if conn.dialect.name in ("postgresql", "sqlite"):
        return _dialect_module(conn.dialect.name).insert(table)
    raise NotImplementedError(f"no upsert for dialect {conn.dialect.name!r}")


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    key: Iterable[str],
    update: Iterable[str],
) -> None:
    """Insert ``values``, or update the ``update`` columns of the row with the same ``key``."""
    statement = dialect_insert(conn, table).values(**values)
    update_columns = {name: statement.excluded[name] for name in update}
    conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=update_columns))


def insert_if_absent(
    conn: sa.Connection, table: sa.Table, values: Mapping[str, Any], *, key: Iterable[str]
) -> bool:
    """Insert ``values`` unless a row with the same ``key`` exists; return whether it did."""
    statement = _insert_ignoring(conn.dialect.name, table, tuple(key))
    # SQLAlchemy 2.1 reports -1 as the row count of a psycopg INSERT unless asked.
    result = conn.execute(statement, dict(values), execution_options={"preserve_rowcount": True})
    return result.rowcount == 1


@functools.cache
def _insert_ignoring(dialect: str, table: sa.Table, key: tuple[str, ...]) -> Any:
    # Built once per table: hot paths (an event per state change) would otherwise pay
    # for constructing and cache-keying a new statement on every call.
    return _dialect_module(dialect).insert(table).on_conflict_do_nothing(index_elements=list(key))
