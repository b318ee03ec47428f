"""Waiting out an outage of spine's database, for the processes that run for days.

``spine worker``, ``spine scheduler`` and ``spine alerts deliver`` must outlive the
database: a PostgreSQL server restarting, a network cut, or, on SQLite, another program
holding the write lock longer than the busy timeout. :meth:`Database.run_write` already
retries such errors for a few seconds; past that they reach the loop, which asks
:func:`is_outage` whether the error means "the database is unavailable or locked for now"
and, if so, waits with :class:`DatabaseWait` and tries again instead of exiting.

One :class:`DatabaseWait` per process part (the worker, the scheduler, the delivery
worker) is shared by its threads, so that an outage is logged once when it starts and
once when it ends (with how long it lasted), never once per retry.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc

from spine.core.errors import CommitOutcomeUnknown, DatabaseUnavailable
from spine.core.storage.engine import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that look like a connection failure but will not heal by waiting: a wrong
# password, a database or role that does not exist, a SQLite path that cannot be opened.
_PERMANENT = (
    "password authentication failed",
    "no password supplied",
    "does not exist",
    "unable to open database file",
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means spine's database is unreachable or locked for now.

    True for :class:`DatabaseUnavailable` (the server cannot be reached), for
    :class:`CommitOutcomeUnknown` (the connection dropped at COMMIT: the state is read
    back on the next attempt), and for the driver errors :func:`is_transient` names (a
    SQLite lock held past the busy timeout, a dropped PostgreSQL connection, a lock
    timeout) once :meth:`Database.run_write` has given up retrying them. False for a
    misconfiguration (wrong password, missing database), which waiting does not mend.
    """
    if isinstance(error, CommitOutcomeUnknown):
        return True
    if isinstance(error, DatabaseUnavailable):
        text = str(error).lower()
        return not any(marker in text for marker in _PERMANENT)
    if isinstance(error, exc.DBAPIError):
        text = str(error.orig if error.orig is not None else error).lower()
        return is_transient(error) and not any(marker in text for marker in _PERMANENT)
    # The pool gave up waiting for a connection (every one stuck on the outage).
    return isinstance(error, exc.TimeoutError)


class DatabaseWait:
    """Capped exponential back-off while the database is away, logged once per change.

    Args:
        who: Names the process part in the log lines (``"worker"``, ``"scheduler"``).
        first_seconds: The first wait after a failure.
        max_seconds: The longest wait between two attempts.
        logger: Where the two log lines go.

    Thread-safe: the threads of one part share one instance, and the first thread to fail
    logs the outage, the first to succeed logs the recovery.
    """

    def __init__(
        self,
        who: str,
        *,
        first_seconds: float = 0.5,
        max_seconds: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.who = who
        self.first_seconds = first_seconds
        self.max_seconds = max_seconds
        self.log = logger or log
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        """Whether the last attempt failed for an outage and none has succeeded since."""
        return self._down_since is not None

    def failed(self, error: BaseException) -> float:
        """Note a failure caused by an outage; return how long to wait before retrying.

        Logs a warning when the database was thought to be up.
        """
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                self.log.warning(
                    "%s: the database is unavailable (%s); waiting for it",
                    self.who,
                    _one_line(error),
                )
            self._failures += 1
            delay: float = min(self.max_seconds, self.first_seconds * 2.0 ** (self._failures - 1))
        # Jitter, so that the processes of a fleet do not come back in step.
        return delay * (0.5 + random.random() / 2)

    def succeeded(self) -> None:
        """Note that the database answered; logs once if it was unavailable."""
        if self._down_since is None:  # the common case, without taking the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
            self._failures = 0
        self.log.warning("%s: the database is back after %.1f s", self.who, seconds)

    def pause(self, error: BaseException, stop: threading.Event) -> None:
        """Note the failure and wait its back-off, or until ``stop`` is set."""
        stop.wait(self.failed(error))

    def call(self, work: Callable[[], T], stop: threading.Event) -> T | None:
        """Run ``work`` until it gets through an outage; ``None`` if ``stop`` came first.

        Errors that are not an outage are raised as they are.
        """
        while not stop.is_set():
            try:
                result = work()
            except Exception as error:
                if not is_outage(error):
                    raise
                self.pause(error, stop)
                continue
            self.succeeded()
            return result
        return None


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
