"""An injectable clock, so tests advance time instead of sleeping.

Every service that reads the time takes a :class:`Clock`. Production code uses
:class:`SystemClock`; tests use :class:`FrozenClock` and move it with ``advance``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where services read the current time and wait for a later one."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait for ``seconds`` (a frozen clock advances instead)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)


class FrozenClock:
    """A clock that stands still until told to move; safe to share between threads.

    Args:
        start: The initial time; naive datetimes are taken as UTC.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
        self._now = ensure_utc(start)
        self._origin = self._now
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the frozen time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Return seconds since the clock was created, in frozen time."""
        with self._lock:
            return (self._now - self._origin).total_seconds()

    def sleep(self, seconds: float) -> None:
        """Advance instead of waiting."""
        self.advance(seconds)

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the clock forward and return the new time.

        Raises:
            ValueError: If asked to move backwards.
        """
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, which must not be earlier than now."""
        when = ensure_utc(when)
        with self._lock:
            if when < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = when


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
