"""The dashboard application, mounted under ``/ui`` beside the API.

It is a FastAPI application of its own, so that its errors are pages (the API's are
problem details) and its authentication is a session cookie (the API's is a bearer key);
both read through the same :class:`~spine.bootstrap.Services`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from spine.bootstrap import Services
from spine.tenancy import DEFAULT_WORKSPACE_ID
from spine.tenancy.throttle import FailedAuthLimiter
from spine.web import login
from spine.web.access import PREFIX
from spine.web.errors import install_error_pages
from spine.web.pages import routers
from spine.web.rendering import environment
from spine.web.session import LoginToken, SessionCodec

_STATIC = Path(__file__).parent / "static"


def create_dashboard(
    services: Services,
    *,
    login_token: LoginToken | None = None,
    token_workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> FastAPI:
    """The dashboard over ``services``; mount it at ``/ui`` (:func:`mount_dashboard`).

    Args:
        services: Spine's services; the caller keeps ownership and closes them.
        login_token: The one-time token whose link logs in (``spine standalone``).
        token_workspace_id: The workspace a session started with the token sees.
    """
    app = FastAPI(title="spine dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = services
    app.state.codec = SessionCodec.from_settings(services.settings)
    app.state.templates = environment()
    app.state.login_token = login_token or LoginToken()
    app.state.token_workspace_id = token_workspace_id
    app.state.workspace_names = {}
    app.state.auth_limiter = FailedAuthLimiter(services.settings.api_auth_failures_per_minute)
    install_error_pages(app)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.include_router(login.router)
    for router in routers():
        app.include_router(router)
    return app


def mount_dashboard(
    api: FastAPI,
    services: Services,
    *,
    login_token: LoginToken | None = None,
    token_workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> FastAPI:
    """Mount the dashboard at ``/ui`` of ``api`` (and send ``/`` there); return the dashboard.

    ``login_token`` and ``token_workspace_id`` are :func:`create_dashboard`'s.
    """
    dashboard = create_dashboard(
        services, login_token=login_token, token_workspace_id=token_workspace_id
    )

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @api.get(PREFIX, include_in_schema=False)
    def ui_without_slash() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    api.mount(PREFIX, dashboard)
    return dashboard
