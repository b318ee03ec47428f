"""Errors as pages: a message a person can act on, never a stack trace.

HTTP statuses of the dashboard are assigned here (as ``spine.api.problems`` does for the
API). An htmx request that fails gets the same page; ``static/spine.js`` shows its
message in the flash area instead of swapping it in.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spine.core.errors import (
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    NotFound,
    SpineError,
)
from spine.tenancy import PermissionDenied, Unauthenticated
from spine.web.access import PREFIX, LoginRequired, StartSession, codec_of
from spine.web.rendering import render
from spine.web.session import COOKIE, WebSession

log = logging.getLogger(__name__)

_TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    503: "The database is not reachable",
    500: "Something went wrong",
}


def status_of(error: SpineError) -> int:
    """The HTTP status of a spine error met by a page."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, DatabaseUnavailable):
        return 503
    if isinstance(error, ConfigurationError):
        return 500
    # Invalid input, and every other refusal of what the page asked for.
    return 400


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page (inside the layout when the request had a session)."""
    return render(
        request,
        "error.html",
        {"status": status, "title": _TITLES.get(status, "Error"), "message": message},
        status_code=status,
    )


def _login_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, LoginRequired)
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = f"{PREFIX}/login?next={quote(target, safe='')}"
    if error.reason:
        location += f"&reason={quote(error.reason, safe='')}"
    if request.headers.get("hx-request"):
        # htmx follows a redirect inside the page; this sends the whole page there.
        return Response(status_code=204, headers={"HX-Redirect": location})
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def _start_session(request: Request, error: Exception) -> Response:
    assert isinstance(error, StartSession)
    response = RedirectResponse(error.location, status_code=303)
    set_session_cookie(request, response, error.session)
    return response


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    """Put ``session`` in ``response``'s cookie (HttpOnly, SameSite=Lax, for ``/ui``)."""
    codec = codec_of(request)
    response.set_cookie(
        COOKIE,
        codec.dumps(session),
        max_age=codec.max_age_seconds,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _spine_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, SpineError)
    if isinstance(error, Unauthenticated):
        return _login_required(request, LoginRequired(str(error)))
    status = status_of(error)
    if status >= 500:
        # Configuration and connection messages name hosts, files and drivers.
        log.error("%s %s failed: %s", request.method, request.url.path, error)
        message = (
            "spine cannot reach its database right now; try again in a moment"
            if status == 503
            else "spine is not configured to do this; the server log says why"
        )
    else:
        message = str(error)
    return error_page(request, status, message)


def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'input'}: {e.get('msg', '')}"
        for e in error.errors()
    ]
    return error_page(request, 400, "; ".join(parts) or "the request is not valid")


def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return error_page(request, 404, "there is no such page")
    detail = error.detail if isinstance(error.detail, str) else _TITLES.get(error.status_code, "")
    return error_page(request, error.status_code, detail)


def _unexpected(request: Request, error: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return error_page(
        request, 500, "spine could not show this page; the server log has the details"
    )


class UnexpectedErrorPages:
    """ASGI middleware: an unexpected exception becomes the 500 page, logged once.

    Starlette's last-resort handler would answer too, but then re-raise, and the server
    would close the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the dashboard; answer the 500 page if it fails before responding."""
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
            if started:
                raise
            await _unexpected(Request(scope), error)(scope, receive, send)


def install_error_pages(app: FastAPI) -> None:
    """Make every error of the dashboard a page (or a redirect to the login)."""
    app.add_middleware(UnexpectedErrorPages)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(StartSession, _start_session)
    app.add_exception_handler(SpineError, _spine_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
