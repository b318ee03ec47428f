"""Errors with a category that says whether trying again can help.

Every error spine raises on purpose is a :class:`SpineError`. Its :class:`ErrorCategory`
is recorded on runs, steps, fetches and alerts (`error_category` columns), and its
``retryable`` flag drives retry policies: a network blip is worth another attempt, a
malformed input is not.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCategory(StrEnum):
    """The kind of failure, as stored in the `error_category` columns."""

    NETWORK = "NETWORK"
    TIMEOUT = "TIMEOUT"
    DATABASE = "DATABASE"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"
    VALIDATION = "VALIDATION"
    CONFIGURATION = "CONFIGURATION"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    AUTHENTICATION = "AUTHENTICATION"
    PERMISSION = "PERMISSION"
    DATA_QUALITY = "DATA_QUALITY"
    CANCELLED = "CANCELLED"
    INTERNAL = "INTERNAL"

    @property
    def retryable(self) -> bool:
        """Whether a failure of this kind may succeed when tried again unchanged."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        ErrorCategory.NETWORK,
        ErrorCategory.TIMEOUT,
        ErrorCategory.DATABASE,
        ErrorCategory.RATE_LIMITED,
        ErrorCategory.UNAVAILABLE,
    }
)


class SpineError(Exception):
    """Base of every error spine raises on purpose.

    Attributes:
        category: What kind of failure this is.
        retryable: Whether trying again may help; defaults to the category's flag.
    """

    category: ErrorCategory = ErrorCategory.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if category is not None:
            self.category = category
        self.retryable = self.category.retryable if retryable is None else retryable

    def __str__(self) -> str:
        return self.message


class NotFound(SpineError, LookupError):
    """A named thing (run, schedule, channel, source ...) does not exist."""

    category = ErrorCategory.NOT_FOUND


class Conflict(SpineError):
    """The change collides with the current state (a duplicate name, a finished run)."""

    category = ErrorCategory.CONFLICT


class InvalidInput(SpineError, ValueError):
    """A value given by a user or a caller is malformed or out of range."""

    category = ErrorCategory.VALIDATION


class ConfigurationError(SpineError):
    """Settings are missing or contradictory (a bad database URL, an unknown tier)."""

    category = ErrorCategory.CONFIGURATION


class DatabaseUnavailable(SpineError):
    """The database server cannot be reached or refused the connection."""

    category = ErrorCategory.UNAVAILABLE


class CommitOutcomeUnknown(SpineError):
    """The connection was lost during COMMIT: the write may or may not be in the database.

    Not retryable as it stands: running the write again could apply it twice. Read the
    state back to learn whether it was applied, or make the write idempotent.
    """

    category = ErrorCategory.DATABASE

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class TierNotInstalled(SpineError):
    """A feature needs tables of a tier that has not been applied to the database."""

    category = ErrorCategory.CONFIGURATION

    def __init__(self, feature: str, tier: str) -> None:
        super().__init__(f"{feature} needs the {tier!r} tier: run `spine db upgrade --tier {tier}`")
        self.feature = feature
        self.tier = tier


def categorize(error: BaseException) -> ErrorCategory:
    """Return the category of any exception, guessing for ones spine did not raise."""
    if isinstance(error, SpineError):
        return error.category
    if isinstance(error, TimeoutError):
        return ErrorCategory.TIMEOUT
    # Local file errors are OSErrors too, but no retry brings a missing file back.
    if isinstance(error, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return ErrorCategory.NOT_FOUND
    if isinstance(error, PermissionError):
        return ErrorCategory.PERMISSION
    if isinstance(error, ConnectionError | OSError):
        return ErrorCategory.NETWORK
    if isinstance(error, ValueError | TypeError | KeyError):
        return ErrorCategory.VALIDATION
    return ErrorCategory.INTERNAL


def is_retryable(error: BaseException) -> bool:
    """Return whether an exception is worth another attempt."""
    if isinstance(error, SpineError):
        return error.retryable
    return categorize(error).retryable
