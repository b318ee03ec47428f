"""Error categories, and whether trying again can help."""

from __future__ import annotations

import pytest

from spine.core.errors import (
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    ErrorCategory,
    InvalidInput,
    NotFound,
    SpineError,
    TierNotInstalled,
    categorize,
    is_retryable,
)

TRANSIENT = [
    ErrorCategory.NETWORK,
    ErrorCategory.TIMEOUT,
    ErrorCategory.DATABASE,
    ErrorCategory.RATE_LIMITED,
    ErrorCategory.UNAVAILABLE,
]
PERMANENT = [
    ErrorCategory.VALIDATION,
    ErrorCategory.CONFIGURATION,
    ErrorCategory.NOT_FOUND,
    ErrorCategory.CONFLICT,
    ErrorCategory.AUTHENTICATION,
    ErrorCategory.PERMISSION,
    ErrorCategory.DATA_QUALITY,
    ErrorCategory.CANCELLED,
    ErrorCategory.INTERNAL,
]


def test_every_category_is_either_transient_or_permanent() -> None:
    assert set(TRANSIENT) | set(PERMANENT) == set(ErrorCategory)
    assert [c for c in ErrorCategory if c.retryable] == TRANSIENT


def test_category_is_stored_as_its_name() -> None:
    assert ErrorCategory("RATE_LIMITED") is ErrorCategory.RATE_LIMITED
    assert f"{ErrorCategory.DATA_QUALITY}" == "DATA_QUALITY"


def test_spine_error_takes_retryable_from_its_category() -> None:
    error = SpineError("FINRA answered 503", category=ErrorCategory.UNAVAILABLE)

    assert (error.category, error.retryable, str(error)) == (
        ErrorCategory.UNAVAILABLE,
        True,
        "FINRA answered 503",
    )
    assert is_retryable(error)


def test_spine_error_retryable_can_be_overridden() -> None:
    error = SpineError(
        "quota gone for the day", category=ErrorCategory.RATE_LIMITED, retryable=False
    )

    assert error.category is ErrorCategory.RATE_LIMITED
    assert not is_retryable(error)
    assert is_retryable(SpineError("bad row", category=ErrorCategory.VALIDATION, retryable=True))


def test_a_spine_error_without_a_category_is_internal_and_final() -> None:
    error = SpineError("bug")

    assert (categorize(error), is_retryable(error)) == (ErrorCategory.INTERNAL, False)


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (NotFound("no run 01J"), ErrorCategory.NOT_FOUND),
        (Conflict("schedule exists"), ErrorCategory.CONFLICT),
        (InvalidInput("bad cron"), ErrorCategory.VALIDATION),
        (ConfigurationError("bad URL"), ErrorCategory.CONFIGURATION),
        (DatabaseUnavailable("refused"), ErrorCategory.UNAVAILABLE),
        (TierNotInstalled("alerting", "intermediate"), ErrorCategory.CONFIGURATION),
    ],
)
def test_subclasses_carry_their_category(error: SpineError, category: ErrorCategory) -> None:
    assert categorize(error) is category
    assert is_retryable(error) is category.retryable


def test_subclasses_are_also_the_matching_builtin_errors() -> None:
    assert isinstance(NotFound("x"), LookupError)
    assert isinstance(InvalidInput("x"), ValueError)


def test_tier_not_installed_names_the_tier_and_the_command() -> None:
    error = TierNotInstalled("alerting", "intermediate")

    assert "'intermediate'" in str(error)
    assert "spine db upgrade --tier intermediate" in str(error)
    assert (error.feature, error.tier) == ("alerting", "intermediate")


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (TimeoutError("read timed out"), ErrorCategory.TIMEOUT),
        (ConnectionResetError("peer reset"), ErrorCategory.NETWORK),
        (ConnectionRefusedError("refused"), ErrorCategory.NETWORK),
        (ValueError("not a number"), ErrorCategory.VALIDATION),
        (KeyError("week_ending"), ErrorCategory.VALIDATION),
        (TypeError("None is not a str"), ErrorCategory.VALIDATION),
        (RuntimeError("boom"), ErrorCategory.INTERNAL),
        (ZeroDivisionError(), ErrorCategory.INTERNAL),
    ],
)
def test_foreign_exceptions_are_categorized(error: Exception, category: ErrorCategory) -> None:
    assert categorize(error) is category
    assert is_retryable(error) is category.retryable


def test_local_file_errors_are_not_retried_as_network_errors() -> None:
    from spine.core.errors import ErrorCategory, categorize, is_retryable

    assert categorize(FileNotFoundError("gone.psv")) is ErrorCategory.NOT_FOUND
    assert categorize(PermissionError("locked")) is ErrorCategory.PERMISSION
    assert not is_retryable(FileNotFoundError("gone.psv"))
    assert categorize(ConnectionResetError()) is ErrorCategory.NETWORK
