"""Errors as RFC 9457 problem details (``application/problem+json``).

HTTP statuses are assigned here, not in the domain: :class:`~spine.core.errors.SpineError`
subclasses map to 404, 409, 422, 500 and 503. A response never carries a traceback, a
database URL or a driver message: errors whose text is not meant for users (configuration,
an unreachable database, anything unexpected) get a fixed message, and the real one goes to
the server's log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spine.core.errors import (
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    ErrorCategory,
    InvalidInput,
    NotFound,
    SpineError,
)

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_UNAVAILABLE = frozenset(
    {
        ErrorCategory.UNAVAILABLE,
        ErrorCategory.DATABASE,
        ErrorCategory.NETWORK,
        ErrorCategory.TIMEOUT,
    }
)
_STATUS_BY_CATEGORY = {
    ErrorCategory.AUTHENTICATION: 401,
    ErrorCategory.PERMISSION: 403,
    ErrorCategory.NOT_FOUND: 404,
    ErrorCategory.CONFLICT: 409,
    ErrorCategory.VALIDATION: 422,
    ErrorCategory.RATE_LIMITED: 429,
}
_SAFE_DETAIL = {
    500: "the server cannot handle this request; its log says why",
    503: "the database is unavailable; try again later",
}


class InvalidParam(BaseModel):
    """One rejected request value (the ``errors`` member of a 422 problem)."""

    loc: list[str | int] = Field(description="Where the value is: ['query', 'limit'].")
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="Pydantic's error type, e.g. 'less_than_equal'.")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(default="about:blank", description="URI of the problem type.")
    title: str = Field(description="Short summary of the problem type (the HTTP reason).")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong this time.")
    instance: str | None = Field(default=None, description="The path of the request.")
    category: str | None = Field(
        default=None, description="spine's error category (NOT_FOUND, VALIDATION, ...)."
    )
    errors: list[InvalidParam] | None = Field(
        default=None, description="The rejected values, on 422 validation problems."
    )


class ProblemResponse(JSONResponse):
    """A JSON response with the ``application/problem+json`` media type."""

    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    headers: Mapping[str, str] | None = None,
    **members: Any,
) -> ProblemResponse:
    """Build a problem details response for ``request``; ``None`` members are left out."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:  # a status Python does not name
        title = "Error"
    problem = Problem(
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        **members,
    )
    return ProblemResponse(
        problem.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem details for ``statuses``."""
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses
    }


def status_of(error: SpineError) -> int:
    """The HTTP status of a spine error: by class first, then by category."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, DatabaseUnavailable):
        return 503
    if isinstance(error, ConfigurationError):
        return 500
    if error.category in _UNAVAILABLE:
        return 503
    return _STATUS_BY_CATEGORY.get(error.category, 500)


def _spine_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, SpineError)
    status = status_of(error)
    if status in _SAFE_DETAIL:
        # Configuration and connection messages name hosts, files and drivers.
        log.error("%s %s failed: %s", request.method, request.url.path, error)
        detail = _SAFE_DETAIL[status]
    else:
        detail = str(error)
    headers = {"Retry-After": "5"} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return problem_response(request, status, detail, headers=headers, category=error.category.value)


def _validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    # The rejected input itself is not echoed: it may be long, or something pasted by mistake.
    issues = [
        InvalidParam(loc=list(e.get("loc", ())), msg=str(e.get("msg", "")), type=str(e["type"]))
        for e in error.errors()
    ]
    summary = "; ".join(
        f"{'.'.join(str(p) for p in issue.loc[1:]) or issue.loc[0]}: {issue.msg}"
        for issue in issues
    )
    return problem_response(
        request,
        422,
        summary or "the request is not valid",
        category=ErrorCategory.VALIDATION.value,
        errors=issues,
    )


def _http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else None
    return problem_response(request, error.status_code, detail, headers=error.headers)


def _unexpected_error(request: Request, error: Exception) -> ProblemResponse:
    return problem_response(request, 500, _SAFE_DETAIL[500])


class UnexpectedErrors:
    """ASGI middleware: an unexpected exception becomes a 500 problem, logged once.

    Starlette's own last-resort handler answers too, but then re-raises, and uvicorn closes
    the connection: a client that keeps connections alive gets its next request reset.
    Here the error stops, with its traceback in the log and none in the response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application; answer a 500 problem if it fails before responding."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            request = Request(scope)
            log.error("%s %s failed", request.method, request.url.path, exc_info=error)
            if started:
                raise
            await _unexpected_error(request, error)(scope, receive, send)


def install_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem details response."""
    app.add_exception_handler(SpineError, _spine_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(UnexpectedErrors)
    # Errors raised outside the middleware above still get a problem, from Starlette.
    app.add_exception_handler(Exception, _unexpected_error)
