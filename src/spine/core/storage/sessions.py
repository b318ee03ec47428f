"""Session settings that keep a stalled process from holding others up.

PostgreSQL: ``lock_timeout`` and ``idle_in_transaction_session_timeout`` on spine's own
sessions, so that a process frozen inside a transaction (SIGSTOP, a debugger, a
swapped-out VM) does not hold its row locks for ever while every other worker or
scheduler waits behind it. SQLite: a WAL that a long reader made grow is truncated by a
checkpoint once the reader has gone, instead of keeping its size for ever.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: Bytes a SQLite WAL file keeps once emptied (``PRAGMA journal_size_limit``).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def set_session_limits(
    engine: Engine, *, lock_timeout_ms: int, idle_in_transaction_timeout_ms: int
) -> None:
    """Set both timeouts on every new connection of a PostgreSQL ``engine`` (0: none).

    Set per session, not on the server: other programs sharing the server keep its
    defaults.
    """
    limits = (
        f"SELECT set_config('lock_timeout', '{int(lock_timeout_ms)}', false), "
        "set_config('idle_in_transaction_session_timeout', "
        f"'{int(idle_in_transaction_timeout_ms)}', false)"
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True  # not inside the transaction SQLAlchemy rolls back
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute(limits)
        finally:
            dbapi_conn.autocommit = autocommit


def checkpoint_wal(engine: Engine) -> bool:
    """Run ``PRAGMA wal_checkpoint(TRUNCATE)`` on a SQLite ``engine`` without waiting.

    The busy timeout is 0 meanwhile: with a reader still on an old snapshot (or a writer
    at work) it copies what it can and returns ``False``; a later one finishes the job.
    Returns ``True`` when the WAL was emptied and truncated.
    """
    with engine.connect() as conn:
        # Straight to the driver: SQLAlchemy would open a transaction first.
        driver = conn.connection.driver_connection
        assert driver is not None
        busy = driver.execute("PRAGMA busy_timeout").fetchone()[0]
        driver.execute("PRAGMA busy_timeout=0")
        try:
            blocked = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            driver.execute(f"PRAGMA busy_timeout={int(busy)}")
    return not blocked
