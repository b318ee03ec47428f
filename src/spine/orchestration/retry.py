"""Retry policies: how many attempts a step gets, how long to wait, which errors retry."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spine.core.errors import ErrorCategory, InvalidInput, SpineError, categorize


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Attempts, exponential back-off with jitter, and the error categories that retry.

    The delay before attempt ``n + 1`` is ``backoff_seconds * multiplier ** (n - 1)``,
    capped at ``max_backoff_seconds``, then spread by ``jitter`` (0.2 = ±20 %) so that
    many runs failing together do not retry together.

    Args:
        max_attempts: Attempts in all, the first included (1 = no retry).
        backoff_seconds: Delay before the second attempt.
        multiplier: Growth of the delay per attempt.
        max_backoff_seconds: Cap on one delay.
        jitter: Fraction of random spread around each delay, from 0 to 1.
        retry_on: Categories that retry; ``None`` means every category. Narrows the
            rule below, never widens it.
        no_retry_on: Exception types that never retry (subclasses included).

    Which failures retry, while attempts remain: every exception except those marked not
    retryable, that is a :class:`SpineError` with ``retryable=False`` (an
    :class:`~spine.core.errors.InvalidInput`, say) or an instance of a type in
    ``no_retry_on``; and, when ``retry_on`` is set, only errors whose category is in it.
    The category (``categorize``) is what is recorded on the attempt either way.
    """

    max_attempts: int = 1
    backoff_seconds: float = 1.0
    multiplier: float = 2.0
    max_backoff_seconds: float = 300.0
    jitter: float = 0.2
    retry_on: frozenset[ErrorCategory] | None = field(default=None)
    no_retry_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        types: Any = self.no_retry_on
        types = (types,) if isinstance(types, type) else tuple(types)  # one type, or a list
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise InvalidInput("no_retry_on takes exception types, e.g. (KeyError, ValueError)")
        object.__setattr__(self, "no_retry_on", types)
        if self.max_attempts < 1:
            raise InvalidInput("max_attempts must be at least 1")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise InvalidInput("back-off delays cannot be negative")
        if self.multiplier < 1:
            raise InvalidInput("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise InvalidInput("jitter must be between 0 and 1")

    @classmethod
    def retrying(
        cls,
        max_attempts: int,
        *,
        on: Iterable[ErrorCategory] | None = None,
        never_on: Iterable[type[BaseException]] = (),
        **kwargs: float,
    ) -> RetryPolicy:
        """``max_attempts`` attempts, retrying only categories ``on``, never types ``never_on``."""
        categories = frozenset(on) if on is not None else None
        return cls(
            max_attempts=max_attempts, retry_on=categories, no_retry_on=tuple(never_on), **kwargs
        )

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether attempt number ``attempt`` failing with ``error`` gets another attempt.

        Any exception retries, except a :class:`SpineError` with ``retryable=False`` and
        an instance of a type in ``no_retry_on``; ``retry_on`` (when set) limits retries
        to errors of those categories. The category of an exception spine did not raise
        is a guess from its type: it is recorded, and narrows through ``retry_on``, but
        does not on its own stop a retry (a ``ValueError`` from a flaky parser retries).
        """
        if isinstance(error, self.no_retry_on):
            return False
        marked_final = isinstance(error, SpineError) and not error.retryable
        return self.should_retry_category(categorize(error), not marked_final, attempt)

    def should_retry_category(self, category: ErrorCategory, retryable: bool, attempt: int) -> bool:
        """Like :meth:`should_retry`, for a failure known by its category and flag."""
        if attempt >= self.max_attempts or not retryable:
            return False
        return self.retry_on is None or category in self.retry_on

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``attempt`` failed (``attempt`` >= 1).

        Never negative and never above ``max_backoff_seconds``, however large ``attempt``.
        """
        if not self.backoff_seconds:
            return 0.0
        try:
            grown = self.backoff_seconds * self.multiplier ** max(0, attempt - 1)
        except OverflowError:  # a float power past 1e308 raises instead of giving inf
            grown = math.inf
        base = min(self.max_backoff_seconds, grown)
        if not self.jitter or not base:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.max_backoff_seconds, base * (1 + spread)))


NO_RETRY = RetryPolicy()
