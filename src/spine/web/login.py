"""Logging in with an API key (or the one-time link of ``spine standalone``), and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from spine.tenancy import Unauthenticated
from spine.tenancy.throttle import FailedAuthLimiter
from spine.web.access import PREFIX, Viewer, services_of
from spine.web.errors import set_session_cookie
from spine.web.rendering import redirect, render
from spine.web.session import COOKIE, WebSession

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path, never another site."""
    if not target or not target.startswith(PREFIX + "/") or target.startswith("//"):
        return PREFIX + "/"
    if "\\" in target or "://" in target:
        return PREFIX + "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    """The login form."""
    return render(request, "login.html", {"next": safe_next(next), "reason": reason, "error": None})


@router.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Start a session for the workspace of ``api_key``."""
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    address = request.client.host if request.client else "unknown"
    target = safe_next(next)
    wait = limiter.retry_after(address)
    if wait is not None:
        return _refused(request, target, f"too many failed logins; try again in {wait} s", 429)
    try:
        key = services_of(request).tenancy.authenticate(api_key.strip())
    except Unauthenticated:
        limiter.failed(address)
        return _refused(request, target, "that API key is not valid (or has expired)", 401)
    response = redirect(target)
    set_session_cookie(request, response, WebSession.start(key.workspace_id, key_id=key.id))
    return response


@router.post("/logout")
def log_out(access: Viewer) -> Response:
    """End the session."""
    response = redirect(f"{PREFIX}/login", flash="logged out")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def _refused(request: Request, target: str, message: str, status: int) -> Response:
    return render(
        request,
        "login.html",
        {"next": target, "reason": None, "error": message},
        status_code=status,
    )
