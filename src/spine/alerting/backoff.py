"""When a failed delivery is tried again: exponential backoff with jitter.

Jitter spreads the retries of many deliveries that failed together (a receiver that
was down for everyone), so that they do not all come back in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_seconds(
    attempt: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The delay doubles with each attempt up to ``cap``; the wait is uniformly drawn from
    the upper half of it ("equal jitter"), so it never collapses to zero.
    """
    ceiling = float(min(cap, base * (2.0 ** max(0, attempt - 1))))
    return ceiling / 2 + float(rand()) * ceiling / 2
