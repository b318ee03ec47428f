"""How often one client address may fail to authenticate: shared by the API and the dashboard."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class FailedAuthLimiter:
    """Counts failed authentications per client address over a sliding window.

    Process-local: several API processes each allow ``limit`` per window.

    Args:
        limit: Failures allowed per address within ``window_seconds``.
        window_seconds: The window.
    """

    def __init__(self, limit: int = 20, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or ``None`` if it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(address)
            if failures is None:
                return None
            self._expire(address, failures, now)
            if len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.setdefault(address, deque())
            # Expired entries go; the address stays, as it holds this failure now.
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            failures.append(now)
            if len(self._failures) > 100_000:
                # Bounded memory under a spray of addresses: forget the idlest half.
                for stale in sorted(self._failures, key=lambda a: self._failures[a][-1])[
                    : len(self._failures) // 2
                ]:
                    del self._failures[stale]

    def _expire(self, address: str, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
