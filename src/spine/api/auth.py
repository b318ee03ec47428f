"""Who a request is: its API key, checked once here for every router.

Every route but ``/health``, ``/openapi.json`` and ``/docs`` depends on one of
:data:`ReadAccess`, :data:`WriteAccess` or :data:`AdminAccess`. The order of the checks
is what a caller may learn:

1. too many failed authentications from this address lately: 429 with ``Retry-After``;
2. no key, or not a usable one (unknown, expired, revoked): 401;
3. the path's workspace is not the key's (or is not an id at all): 404, as if it did
   not exist, so that a key learns nothing about other workspaces;
4. the key lacks the scope: 403.

The routes then use :attr:`Access.services`, which read and write only the key's
workspace and audit changes with the key's id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from spine.api.dependencies import get_services
from spine.bootstrap import Services
from spine.core.errors import NotFound
from spine.tenancy import Actor, ApiKey, ApiScope, PermissionDenied, Unauthenticated
from spine.tenancy.throttle import FailedAuthLimiter

#: Where every workspace resource lives.
WORKSPACE_PATH = "/api/v1/workspaces/{workspace_id}"

# `auto_error=False`: a missing header is answered by this module (a 401 problem), not by
# FastAPI's 403.
_bearer = HTTPBearer(
    auto_error=False,
    description="A workspace API key: `Authorization: Bearer spk_...` (`spine keys create`).",
)


@dataclass(frozen=True, slots=True)
class Access:
    """An authenticated request in its workspace.

    Attributes:
        key: The request's API key.
        services: Spine's services acting as the key, confined to its workspace.
    """

    key: ApiKey
    services: Services

    @property
    def actor(self) -> Actor:
        """Who acts: the key, in its workspace."""
        return self.services.actor


class WorkspaceNotFound(NotFound):
    """The path names a workspace the key does not belong to."""

    def __init__(self) -> None:
        super().__init__("unknown workspace")


def _limiter(request: Request) -> FailedAuthLimiter:
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    return limiter


def authenticated_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The request's usable API key.

    Raises:
        HTTPException: 429 when the client failed too often lately.
        Unauthenticated: 401 when there is no usable key.
    """
    limiter = _limiter(request)
    address = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(address)
    if wait is not None:
        raise HTTPException(
            429,
            "too many failed authentications from this address; try again later",
            headers={"Retry-After": str(wait)},
        )
    if credentials is None:
        limiter.failed(address)
        raise Unauthenticated("an API key is required: `Authorization: Bearer <key>`")
    try:
        return get_services(request).tenancy.authenticate(credentials.credentials)
    except Unauthenticated:
        limiter.failed(address)
        raise


def require(scope: ApiScope) -> Callable[..., Access]:
    """A dependency: the request's access to the path's workspace, with ``scope``."""

    def access(
        request: Request,
        workspace_id: str,
        key: Annotated[ApiKey, Depends(authenticated_key)],
    ) -> Access:
        try:
            wanted = uuid.UUID(workspace_id)
        except ValueError:
            raise WorkspaceNotFound() from None
        if wanted != key.workspace_id:
            raise WorkspaceNotFound()
        if scope not in key.scopes:
            raise PermissionDenied(f"this needs an API key with the {scope.value!r} scope")
        return Access(key=key, services=get_services(request).for_actor(key.actor()))

    return access


def key_access(request: Request, key: Annotated[ApiKey, Depends(authenticated_key)]) -> Access:
    """Access to the key's own workspace, for routes whose path names none (``/history``)."""
    return Access(key=key, services=get_services(request).for_actor(key.actor()))


def key_scope(scope: ApiScope) -> Callable[..., Access]:
    """Like :func:`key_access`, requiring ``scope``."""

    def access(access: Annotated[Access, Depends(key_access)]) -> Access:
        if scope not in access.key.scopes:
            raise PermissionDenied(f"this needs an API key with the {scope.value!r} scope")
        return access

    return access


ReadAccess = Annotated[Access, Depends(require(ApiScope.READ))]
WriteAccess = Annotated[Access, Depends(require(ApiScope.WRITE))]
AdminAccess = Annotated[Access, Depends(require(ApiScope.ADMIN))]
KeyReadAccess = Annotated[Access, Depends(key_scope(ApiScope.READ))]
KeyWriteAccess = Annotated[Access, Depends(key_scope(ApiScope.WRITE))]
