"""Errors of the sources part; each names what it is about."""

from __future__ import annotations

from spine.core.errors import Conflict, ErrorCategory, NotFound, SpineError


def _named(ref: object, what: str) -> str:
    """``named 'x'`` for a name, ``with id 'x'`` for a ``Ref`` by id."""
    if getattr(ref, "by_id", False):
        return f"no {what} with id {str(ref)!r}"
    return f"no {what} named {str(ref)!r}"


class SourceNotFound(NotFound):
    """No source of the workspace has this name (or id)."""

    def __init__(self, name: object) -> None:
        super().__init__(f"{_named(name, 'source')}: see `spine sources list`")
        self.name = str(name)


class ConnectionNotFound(NotFound):
    """No database connection of the workspace has this name (or id)."""

    category = ErrorCategory.CONFIGURATION

    def __init__(self, name: object) -> None:
        super().__init__(f"{_named(name, 'database connection')}: see `spine connections list`")
        self.name = str(name)


class ContentNotFound(NotFound):
    """The source exists, but what it points at does not (no file, HTTP 404, no key)."""


class SourceDisabled(Conflict):
    """The source is disabled; enable it to fetch (the API answers 409)."""

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
