"""Who a dashboard request is, and what it may do: the dependencies of every page.

Every page depends on :data:`Viewer` (any logged-in session: the ``read`` scope), and
every action on :data:`Editor` (``write``) or :data:`Admin` (``admin``), as the API's
routes do. A request that changes something (any method but GET and HEAD) must carry
the session's CSRF token, in the ``csrf_token`` form field or the ``X-CSRF-Token``
header (which the base template makes htmx send).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request

from spine.bootstrap import Services
from spine.core.errors import NotFound
from spine.tenancy import ALL_SCOPES, Actor, ApiScope, PermissionDenied
from spine.web.session import COOKIE, SessionCodec, WebSession

#: Where the dashboard is mounted.
PREFIX = "/ui"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No usable session: the browser is sent to the login page.

    Args:
        reason: Shown on the login page (why the session ended), if any.
    """

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "log in")
        self.reason = reason


class StartSession(Exception):
    """The one-time token was redeemed: set the session cookie and go to ``location``."""

    def __init__(self, session: WebSession, location: str) -> None:
        super().__init__(location)
        self.session = session
        self.location = location


class CsrfRejected(PermissionDenied):
    """A request that changes something came without the session's CSRF token."""

    def __init__(self) -> None:
        super().__init__(
            "this form has expired or did not come from this dashboard; reload the page and "
            "try again"
        )


@dataclass(frozen=True, slots=True)
class WebAccess:
    """A logged-in dashboard request.

    Attributes:
        session: The session from the cookie.
        services: Spine's services acting as the session, confined to its workspace:
            the same services the API's routes use.
        scopes: What the session may do (its key's scopes; every scope for the token).
        workspace_name: The workspace's name, for the page header.
    """

    session: WebSession
    services: Services
    scopes: frozenset[ApiScope]
    workspace_name: str

    @property
    def actor(self) -> Actor:
        """Who acts."""
        return self.services.actor

    @property
    def can_write(self) -> bool:
        """Whether the session may act (cancel, retry, acknowledge ...)."""
        return ApiScope.WRITE in self.scopes

    @property
    def can_admin(self) -> bool:
        """Whether the session may manage API keys."""
        return ApiScope.ADMIN in self.scopes


def services_of(request: Request) -> Services:
    """The process's services (acting as the operator: pages use :class:`WebAccess`)."""
    services: Services = request.app.state.services
    return services


def codec_of(request: Request) -> SessionCodec:
    """The session cookie codec of the dashboard."""
    codec: SessionCodec = request.app.state.codec
    return codec


def current_access(request: Request) -> WebAccess:
    """The request's session, checked; raises :class:`LoginRequired` without a usable one."""
    token = request.query_params.get("token")
    if token is not None:
        _redeem(request, token)
    session = codec_of(request).loads(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequired()
    services = services_of(request)
    if session.key_id is None:
        actor = Actor(workspace_id=session.workspace_id)
        scopes = ALL_SCOPES
    else:
        try:
            key = services.tenancy.key(Actor(workspace_id=session.workspace_id), session.key_id)
        except NotFound:
            raise LoginRequired("the API key of this session was removed") from None
        if not key.usable_at(services.clock.now()):
            raise LoginRequired("the API key of this session has expired or was revoked")
        actor = key.actor()
        scopes = key.scopes
    access = WebAccess(
        session=session,
        services=services.for_actor(actor),
        scopes=scopes,
        workspace_name=_workspace_name(request, session.workspace_id),
    )
    # Error pages render inside the layout of the session that met them.
    request.state.access = access
    return access


def _redeem(request: Request, token: str) -> None:
    redeemed = request.app.state.login_token.redeem(token)
    if not redeemed:
        raise LoginRequired(
            "this login link was used already or is not valid: log in with an API key "
            "(`spine keys create`), or restart `spine standalone` for a new link"
        )
    workspace_id: uuid.UUID = request.app.state.token_workspace_id
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
    location = request.url.path + (f"?{query}" if query else "")
    raise StartSession(WebSession.start(workspace_id, key_id=None), location)


def _workspace_name(request: Request, workspace_id: uuid.UUID) -> str:
    names: dict[uuid.UUID, str] = request.app.state.workspace_names
    name = names.get(workspace_id)
    if name is None:
        try:
            name = services_of(request).tenancy.workspace(str(workspace_id)).name
        except NotFound:
            raise LoginRequired("the workspace of this session no longer exists") from None
        names[workspace_id] = name
    return name


def _needing(scope: ApiScope) -> Callable[..., Awaitable[WebAccess]]:
    async def dependency(
        request: Request, access: Annotated[WebAccess, Depends(current_access)]
    ) -> WebAccess:
        if request.method not in _SAFE_METHODS:
            offered = request.headers.get("x-csrf-token")
            if offered is None:
                form = await request.form()
                field = form.get("csrf_token")
                offered = field if isinstance(field, str) else None
            if not access.session.csrf_matches(offered):
                raise CsrfRejected()
        if scope not in access.scopes:
            raise PermissionDenied(f"this needs an API key with the {scope.value!r} scope")
        return access

    return dependency


Viewer = Annotated[WebAccess, Depends(_needing(ApiScope.READ))]
Editor = Annotated[WebAccess, Depends(_needing(ApiScope.WRITE))]
Admin = Annotated[WebAccess, Depends(_needing(ApiScope.ADMIN))]
