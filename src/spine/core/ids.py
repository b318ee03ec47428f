"""Identifiers: ULIDs for the `core_*` tables, UUIDs for the tables of spec 003 and 004.

A ULID is 26 characters of Crockford base32 whose first ten encode the creation time in
milliseconds, so ids sort in creation order and index well (unlike spec 002's 8-character
UUID prefixes, which collide after a few ten thousand runs).
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from ulid import ULID

_RANDOM_BITS = 80


class _MonotonicUlids:
    """Makes ULIDs that increase strictly within a process, whatever the thread.

    python-ulid's own generator reads the clock outside its lock, so two threads can
    interleave and a thread's next id can sort before its previous one. Here the clock is
    read under the lock, and an id made in the same millisecond as the last one (or after
    the clock stepped back) is the last one plus one, as the ULID spec's monotonic mode says.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms > self._last >> _RANDOM_BITS:
                value = (now_ms << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
            else:
                value = self._last + 1
            self._last = value
        return str(ULID.from_int(value))

    def forget(self) -> None:
        # A forked child must not count on from its parent's last id: both would make the
        # same "last + 1" in the same millisecond.
        self._lock = threading.Lock()
        self._last = 0


_ulids = _MonotonicUlids()
os.register_at_fork(after_in_child=_ulids.forget)


def new_id() -> str:
    """Return a new ULID as a 26-character string.

    Ids made by one process are strictly increasing, even within one millisecond and
    across threads.
    """
    return _ulids.next()


def new_uuid() -> uuid.UUID:
    """Return a new random UUID (version 4)."""
    return uuid.uuid4()
