"""Host clocks that are wrong on purpose: a process whose machine's clock is off.

:class:`SkewedClock` is the real clock moved by a fixed offset, which a test may change
while the process runs (a clock that jumps). Its monotonic time can be moved too, to
show what a clock that carries time forward on it does between two readings.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from spine.core.storage import Database


class SkewedClock:
    """This host's clock, off by ``offset`` (a float is seconds); sleeps are real.

    Args:
        offset: How far the wall clock is ahead (negative: behind).
    """

    def __init__(self, offset: float | timedelta = 0.0) -> None:
        self.offset = offset if isinstance(offset, timedelta) else timedelta(seconds=offset)
        self.monotonic_offset = 0.0

    def now(self) -> datetime:
        """The real time plus the offset."""
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        """The real monotonic time plus :attr:`monotonic_offset`."""
        return time.monotonic() + self.monotonic_offset

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)


def database_time(db: Database) -> datetime:
    """The database's own time, read in a transaction of its own (SQLite's is this host's)."""
    with db.read() as conn:
        if db.is_sqlite:
            text = conn.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar()
            return datetime.fromisoformat(str(text)).replace(tzinfo=UTC)
        value: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(UTC)
