"""The database's clock: the one time every process that shares a database agrees on.

Leases, schedule locks, due times and back-offs are stamped by one process and compared
by another. If each used its own host's wall clock, a host 90 s fast would fire schedules
90 s early, and one an hour ahead would take over runs whose leases are being renewed.
:class:`DatabaseClock` reads the database's time instead (PostgreSQL's
``clock_timestamp()``; on SQLite, the time SQLite itself stamps, which is the one host's
clock) and carries it forward on the host's *monotonic* clock, so that neither a skewed
nor a jumping host wall clock changes what it says. It reads the database once every
``resync_seconds`` (a minute), not on every call: the hot path costs no round trip.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from spine.core.clock import Clock, SystemClock, ensure_utc
from spine.core.storage.engine import Database

log = logging.getLogger(__name__)

# SQLite's own "now", to the millisecond, as its date functions give it.
_SQLITE_NOW = "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
_POSTGRES_NOW = sa.text("SELECT clock_timestamp()")


class DatabaseClock:
    """A :class:`~spine.core.clock.Clock` whose ``now()`` is the database's time.

    Each sync reads the database's time once and notes the host's monotonic reading at
    the middle of that round trip; ``now()`` is that time plus the monotonic seconds
    since. A sync is due every ``resync_seconds``, and ``retry_seconds`` after a failed
    one. A failed sync never raises: the last offset is kept (a monotonic clock drifts by
    milliseconds an hour), or, before the first success, the host's wall clock stands in
    (logged once) until the database answers. ``monotonic()`` and ``sleep()`` are the
    host's.

    Args:
        database: Spine's database.
        host: The host's clock: its monotonic time carries the database's forward, and
            its wall clock is the stand-in before a first successful sync.
        resync_seconds: How long one reading of the database's time is carried forward.
        retry_seconds: How soon a failed sync is tried again.
    """

    def __init__(
        self,
        database: Database,
        *,
        host: Clock | None = None,
        resync_seconds: float = 60.0,
        retry_seconds: float = 5.0,
    ) -> None:
        self.database = database
        self.host: Clock = host or SystemClock()
        self.resync_seconds = resync_seconds
        self.retry_seconds = retry_seconds
        self._read: Callable[[], datetime] = (
            _sqlite_now if database.is_sqlite else self._postgres_now
        )
        # (database time, host monotonic reading at that time): replaced whole, so a
        # reader never sees half of a sync.
        self._anchor: tuple[datetime, float] | None = None
        self._next_sync = float("-inf")
        self._failing = False
        self._lock = threading.Lock()

    @property
    def synced(self) -> bool:
        """Whether the time comes from the database (and not the stand-in host clock)."""
        return self._anchor is not None

    def now(self) -> datetime:
        """Return the database's current time, timezone-aware in UTC."""
        mono = self.host.monotonic()
        if mono >= self._next_sync:
            self._sync(mono)
        anchor = self._anchor
        if anchor is None:  # the database has not answered yet
            return self.host.now()
        at, at_mono = anchor
        return at + timedelta(seconds=self.host.monotonic() - at_mono)

    def monotonic(self) -> float:
        """Return the host's monotonic seconds."""
        return self.host.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep on the host's clock."""
        self.host.sleep(seconds)

    def resync(self) -> None:
        """Read the database's time at the next :meth:`now`."""
        self._next_sync = float("-inf")

    def _sync(self, mono: float) -> None:
        # One thread syncs; the others go on with the current anchor meanwhile, except
        # before the first sync, when they wait for it.
        if not self._lock.acquire(blocking=self._anchor is None):
            return
        try:
            if mono < self._next_sync:  # another thread has just synced
                return
            if self._anchor is not None and not self._connection_idle():
                # Every pooled connection is busy: a sync would queue behind them, or
                # open one more. The current anchor is good for a while yet.
                self._next_sync = self.host.monotonic() + 1.0
                return
            try:
                before = self.host.monotonic()
                at = self._read()
                after = self.host.monotonic()
            except Exception as error:  # an unreachable database must not stop a loop
                self._next_sync = self.host.monotonic() + self.retry_seconds
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "cannot read the database's time (%s); %s",
                        _first_line(error),
                        "keeping the last reading"
                        if self._anchor is not None
                        else "using this host's clock until it answers",
                    )
                return
            self._anchor = (at, (before + after) / 2)
            self._next_sync = after + self.resync_seconds
            if self._failing:
                self._failing = False
                log.info("reading the database's time again")
        finally:
            self._lock.release()

    def _connection_idle(self) -> bool:
        pool = self.database.engine.pool
        if not isinstance(pool, sa.QueuePool):
            return True
        return pool.checkedin() > 0 or pool.checkedout() < pool.size()

    def _postgres_now(self) -> datetime:
        with self.database.engine.connect() as conn:
            value = conn.execute(_POSTGRES_NOW).scalar_one()
        return ensure_utc(value)


def _sqlite_now() -> datetime:
    """SQLite's ``'now'``: this host's clock, the one every process on the database shares.

    Asked of a private in-memory database: the time is the same, and the query neither
    waits for spine's database's locks nor takes a connection from its pool.
    """
    conn = sqlite3.connect(":memory:")
    try:
        text = conn.execute(_SQLITE_NOW).fetchone()[0]
    finally:
        conn.close()
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
