"""Errors of the sources part; each names what it is about."""

from __future__ import annotations

from spine.core.errors import ErrorCategory, NotFound, SpineError


class SourceNotFound(NotFound):
    """No source is registered under this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no source named {name!r}: see `spine sources list`")
        self.name = name


class ConnectionNotFound(NotFound):
    """No database connection is registered under this name."""

    category = ErrorCategory.CONFIGURATION

    def __init__(self, name: str) -> None:
        super().__init__(f"no database connection named {name!r}: see `spine connections list`")
        self.name = name


class ContentNotFound(NotFound):
    """The source exists, but what it points at does not (no file, HTTP 404, no key)."""


class SourceDisabled(SpineError):
    """The source is disabled; enable it to fetch."""

    category = ErrorCategory.CONFIGURATION

    def __init__(self, name: str) -> None:
        super().__init__(f"source {name!r} is disabled: `spine sources enable {name}`")
        self.name = name


class FetchFailed(SpineError):
    """A fetch ended FAILED or NOT_FOUND; the fetch row holds the details."""

    def __init__(self, source: str, status: str, error: str, category: ErrorCategory) -> None:
        super().__init__(f"fetch of {source!r} {status}: {error}", category=category)
        self.source = source
        self.status = status
