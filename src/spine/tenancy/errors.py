"""Tenancy's errors: who may not come in, and who may not do this."""

from __future__ import annotations

from spine.core.errors import ErrorCategory, SpineError


class Unauthenticated(SpineError):
    """No usable API key: missing, malformed, unknown, expired or revoked.

    The message never says which, so that a caller learns nothing about keys it does
    not hold.
    """

    def __init__(self, message: str = "a valid API key is required") -> None:
        super().__init__(message, category=ErrorCategory.AUTHENTICATION)


class PermissionDenied(SpineError):
    """The actor's key lacks the scope this needs."""

    def __init__(self, message: str) -> None:
        super().__init__(message, category=ErrorCategory.PERMISSION)
