"""Leadership among dispatchers: one works at a time, the others stand by.

PostgreSQL: a session-level advisory lock held on a connection kept for that purpose;
SQLite: an exclusive ``flock`` on a file beside the database. Both are released by the
server or the OS when the process dies, so a killed dispatcher never blocks its
successor. Correctness never depends on this lock (each action's result is kept under an
idempotency key and an execution is unique per rule and change): it only keeps two
dispatchers from doing the same work twice over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import zlib
from typing import IO

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.storage import Database

__all__ = ["LEADER_LOCK", "Leadership"]

#: The advisory lock key of the dispatcher (any fixed 64-bit number: "spine-ad").
LEADER_LOCK = 0x7370696E652D6164


class Leadership:
    """The dispatcher's leader lock on ``database``.

    Args:
        database: Spine's database.
        name: Tells leaders of different loops apart (one lock per name).
    """

    def __init__(self, database: Database, name: str = "dispatcher") -> None:
        self.database = database
        self.name = name
        self._conn: sa.Connection | None = None
        self._file: IO[bytes] | None = None
        # A stable number per name (``hash`` differs between processes).
        self._key = LEADER_LOCK if name == "dispatcher" else LEADER_LOCK + zlib.crc32(name.encode())

    @property
    def held(self) -> bool:
        """Whether this process holds the lock (as far as it knows)."""
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; return whether this process holds it now."""
        if self.held:
            return True
        if self.database.dialect == "postgresql":
            return self._acquire_postgres()
        return self._acquire_file()

    def release(self) -> None:
        """Give the lock up (closing its connection or file)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            # After an outage the connection is broken (or waits for a rollback): the
            # server has already released the lock with the session.
            with contextlib.suppress(exc.SQLAlchemyError):
                conn.execute(sa.select(sa.func.pg_advisory_unlock(self._key)))
            with contextlib.suppress(exc.SQLAlchemyError):
                conn.invalidate()
            with contextlib.suppress(exc.SQLAlchemyError):
                conn.close()
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def check(self) -> bool:
        """Whether the lock is still held (PostgreSQL: its session is alive)."""
        if self._conn is None:
            return self.held
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except exc.SQLAlchemyError:
            # The session ended (an outage, a restart): the server released the lock.
            self.release()
            return False
        return True

    def _acquire_postgres(self) -> bool:
        conn = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(self._key))).scalar())
        except exc.DBAPIError:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _acquire_file(self) -> bool:
        path = self.database.url.database
        if not path or path == ":memory:":
            # One process owns an in-memory database: nobody to stand by for.
            self._file = open(os.devnull, "rb")  # noqa: SIM115 - kept open while leading
            return True
        handle = open(f"{path}.{self.name}.lock", "ab")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True
