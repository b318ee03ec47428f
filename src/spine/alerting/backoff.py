"""When a failed delivery is tried again: exponential backoff with jitter.

Jitter spreads the retries of many deliveries that failed together (a receiver that
was down for everyone), so that they do not all come back in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Longest ``Retry-After`` value read (an HTTP date is 29 characters).
RETRY_AFTER_MAX_CHARS = 64


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


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait from ``now``; None if unusable.

    Accepts delta-seconds (``120``) and an HTTP date (``Wed, 21 Oct 2015 07:28:00
    GMT``), as RFC 9110 defines them; a date in the past means 0. Anything else,
    or a value longer than :data:`RETRY_AFTER_MAX_CHARS`, is ignored.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > RETRY_AFTER_MAX_CHARS:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def wait_seconds(
    attempt: int,
    retry_after: float | None,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait after failed attempt ``attempt``: the back-off, or longer if asked.

    A receiver's ``Retry-After`` is honoured up to ``cap``; it never shortens the
    back-off (the jitter still spreads retries of many deliveries).
    """
    backoff = backoff_seconds(attempt, base=base, cap=cap, rand=rand)
    if retry_after is None:
        return backoff
    return max(backoff, min(float(cap), retry_after))
