"""Waking an idle dispatcher: PostgreSQL ``LISTEN spine_automation``, else a plain wait.

The capture trigger ends with ``pg_notify('spine_automation', '')``; a notification only
wakes the dispatcher, which then reads the change log from its durable position: a lost
notification delays a change by at most the poll interval, it never loses one.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import sqlalchemy as sa

from spine.core.storage import Database

__all__ = ["CHANNEL", "Wakeup"]

#: The channel the capture trigger notifies.
CHANNEL = "spine_automation"


class Wakeup:
    """Waits up to a poll interval, returning early on a notification (PostgreSQL).

    Args:
        database: Spine's database.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._conn: sa.Connection | None = None

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds``, or less when notified or when ``stop`` is set."""
        if stop.is_set():
            return
        if self.database.dialect != "postgresql":
            stop.wait(seconds)
            return
        try:
            driver = self._listening()
            # Short slices, so that ``stop`` is seen promptly.
            remaining = seconds
            while remaining > 0 and not stop.is_set():
                step = min(remaining, 0.25)
                for _notify in driver.notifies(timeout=step, stop_after=1):
                    return
                remaining -= step
        except Exception:  # a wake-up is best effort: a lost listener falls back to polling
            self.close()
            stop.wait(seconds)

    def close(self) -> None:
        """Stop listening."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _listening(self) -> Any:
        if self._conn is None:
            conn = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text(f"LISTEN {CHANNEL}"))
            self._conn = conn
        driver = self._conn.connection.driver_connection
        assert driver is not None
        return driver
