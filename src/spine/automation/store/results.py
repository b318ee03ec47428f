"""Idempotent results (spec 003 ``allocation_results``): an action's work done once per key.

Every action the executor runs is wrapped in :func:`run_once` under the key
``"{rule id}:{change position}:{action id}"``: the action's writes and the record of its
result commit together, so that a replayed change, a second dispatcher or a dispatcher
restarted after a kill finds the result and does not do the work again. A failed action
rolls back and keeps nothing: it is tried again on the next pass over its change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from spine.core.storage import Database
from spine.core.storage.schema.automation import allocation_results as results_t

__all__ = ["MAX_KEY_LENGTH", "KeyRace", "once_on", "run_once", "stored_result"]

#: ``allocation_results.idempotency_key`` is VARCHAR(255).
MAX_KEY_LENGTH = 255

Work = Callable[[sa.Connection], Mapping[str, Any]]


def run_once(
    database: Database, key: str, work: Work, *, at: datetime
) -> tuple[Mapping[str, Any], bool]:
    """Do ``work`` once for ``key``: its writes and its result commit together.

    In one write transaction: when a result is kept under ``key``, it is returned with
    ``True`` and ``work`` is not called; otherwise the key is claimed first (an insert
    that a concurrent claimer of the same key waits on, on PostgreSQL), ``work(conn)``
    runs on the transaction and its result is kept under ``key``, returned with
    ``False``. When another transaction kept the key meanwhile (the insert conflicts),
    this one rolls back and the kept result is returned with ``True``.

    Raises:
        ValueError: If ``key`` is longer than :data:`MAX_KEY_LENGTH`.
        Exception: Whatever ``work`` raises; the transaction is rolled back and nothing
            is kept under ``key``.
    """
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key longer than {MAX_KEY_LENGTH} characters: {key!r}")

    def transaction(conn: sa.Connection) -> tuple[Mapping[str, Any], bool]:
        return once_on(conn, key, work, at=at)

    try:
        # Idempotent by construction: a transaction retried after a lost COMMIT finds the
        # key it kept and returns the result without working again.
        return database.run_write(transaction, idempotent=True)
    except (exc.IntegrityError, KeyRace):
        kept = stored_result(database, key)
        if kept is None:
            raise
        return kept, True


def once_on(
    conn: sa.Connection, key: str, work: Work, *, at: datetime
) -> tuple[Mapping[str, Any], bool]:
    """:func:`run_once`'s work on ``conn``, a write transaction the caller commits.

    For a caller that does more in the same transaction (the executor opens and
    finishes a one-action execution with it). An insert that conflicts raises
    ``IntegrityError`` on SQLite only if the key was kept by another writer, which
    ``BEGIN IMMEDIATE`` rules out.
    """
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key longer than {MAX_KEY_LENGTH} characters: {key!r}")
    kept = _kept(conn, key)
    if kept is not None:
        return kept, True
    # Claim the key before the work: on PostgreSQL a second transaction with the same key
    # blocks on the unique index here until this one ends, then sees its row.
    if not _claim(conn, key, at):
        kept = _kept(conn, key)
        if kept is not None:
            return kept, True
        raise KeyRace(key)
    result = dict(work(conn))
    conn.execute(
        results_t.update().where(results_t.c.idempotency_key == key).values(allocation_data=result)
    )
    return result, False


def stored_result(database: Database, key: str) -> Mapping[str, Any] | None:
    """The result kept under ``key``, or ``None``."""
    with database.read() as conn:
        return _kept(conn, key)


class KeyRace(Exception):
    """The key was claimed by a transaction that is not visible yet (retried as a read)."""


def _kept(conn: sa.Connection, key: str) -> Mapping[str, Any] | None:
    value = conn.execute(
        sa.select(results_t.c.allocation_data).where(results_t.c.idempotency_key == key)
    ).scalar_one_or_none()
    if value is None:
        return None
    return dict(value) if isinstance(value, Mapping) else {"value": value}


def _claim(conn: sa.Connection, key: str, at: datetime) -> bool:
    values = {"id": uuid.uuid4(), "idempotency_key": key, "allocation_data": {}, "created_date": at}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(results_t)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[results_t.c.idempotency_key])
        .returning(results_t.c.id)
    )
    return conn.execute(statement).first() is not None
