"""API keys and the audit log, under ``/api/v1/workspaces/{workspace_id}/``.

- ``GET /api-keys``, ``GET /api-keys/{key_id}``: the workspace's keys (prefixes, never a
  key or its digest), ``read``;
- ``POST /api-keys``: make a key, shown in the response only, ``admin``; a key cannot
  grant a scope it lacks (403);
- ``POST /api-keys/{key_id}/revoke`` and ``DELETE /api-keys/{key_id}``: revoke, ``admin``;
- ``GET /audit-log``: who changed what, newest first, ``read``.

Every route calls :class:`~spine.tenancy.TenancyService`, as ``spine keys`` and
``spine audit`` do, acting as the request's key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from spine.api.auth import WORKSPACE_PATH, AdminAccess, ReadAccess
from spine.api.pagination import Page, PageParams, PageRequest, invalid_cursor
from spine.api.problems import problem_responses
from spine.core.clock import ensure_utc
from spine.tenancy import ApiKey, ApiScope, AuditEntry, NewApiKey
from spine.tenancy.service import MAX_EXPIRY_DAYS

router = APIRouter(prefix=WORKSPACE_PATH, tags=["tenancy"])

_TIME = "ISO-8601 time in UTC."
# Every route: 401 (no usable key), 404 (another workspace), 429 (failed too often).
_COMMON = (401, 404, 429)


class ApiKeyResponse(BaseModel):
    """An ``api_keys`` row, without its digest."""

    id: str
    workspace_id: str
    name: str
    key_prefix: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[ApiScope]
    last_used_at: datetime | None = Field(
        description=_TIME + " Kept to within a minute, not written on every request."
    )
    expires_at: datetime | None = Field(description=_TIME)
    created_at: datetime = Field(description=_TIME)
    revoked_at: datetime | None = Field(description=_TIME)

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyResponse:
        """The response for ``key``."""
        return cls.model_validate(_text_ids(key.to_dict()))


class NewApiKeyResponse(ApiKeyResponse):
    """A key just made, with the key itself: shown this once, never again."""

    key: str = Field(description="The key: send it as `Authorization: Bearer <key>`.")

    @classmethod
    def made(cls, new: NewApiKey) -> NewApiKeyResponse:
        """The response for a key just made."""
        return cls.model_validate({**_text_ids(new.key.to_dict()), "key": new.secret})


class ApiKeyCreate(BaseModel):
    """What a new key is: its name, scopes and lifetime (the workspace is the path's)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255, description="What the key is for.")
    scopes: list[ApiScope] = Field(
        default=[ApiScope.READ],
        min_length=1,
        max_length=3,
        description="read, write, admin: none the creating key lacks.",
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=MAX_EXPIRY_DAYS, description="Expire after N days; null: never."
    )


class AuditEntryResponse(BaseModel):
    """An ``audit_log`` row."""

    id: int
    workspace_id: str
    entity_type: str = Field(description="schedule, alert_channel, api_key, source ...")
    entity_id: str = Field(description="The object's id as a UUID (a ULID in UUID form).")
    action: str = Field(description="create, update or delete.")
    api_key_id: str | None = Field(description="The key that made it; null for the CLI.")
    changes: dict[str, Any] | None = Field(
        description='{"field": {"old": ..., "new": ...}}; secrets only as "[secret]".'
    )
    created_at: datetime = Field(description=_TIME)

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryResponse:
        """The response for ``entry``."""
        return cls.model_validate(_text_ids(entry.to_dict()))


@router.get(
    "/api-keys",
    response_model=Page[ApiKeyResponse],
    responses=problem_responses(400, 403, 422, *_COMMON),
    summary="List the workspace's API keys",
)
def list_keys(access: ReadAccess, page: PageParams) -> Page[ApiKeyResponse]:
    """The workspace's keys, revoked ones too, newest first; never a key or its digest."""
    found = access.services.tenancy.keys(
        access.actor, after=_key_cursor(page), limit=page.limit + 1
    )
    kept, cursor = page.page(found, lambda k: [k.created_at.isoformat(), str(k.id)])
    return Page(items=[ApiKeyResponse.of(k) for k in kept], next_cursor=cursor)


@router.post(
    "/api-keys",
    status_code=201,
    response_model=NewApiKeyResponse,
    responses=problem_responses(403, 413, 415, 422, *_COMMON),
    summary="Make an API key (shown once)",
)
def create_key(access: AdminAccess, body: ApiKeyCreate) -> NewApiKeyResponse:
    """Make a key of this workspace; the response is the only place it is shown."""
    made = access.services.tenancy.create_key(
        access.actor,
        name=body.name,
        scopes=frozenset(body.scopes),
        expires_in_days=body.expires_in_days,
    )
    return NewApiKeyResponse.made(made)


@router.get(
    "/api-keys/{key_id}",
    response_model=ApiKeyResponse,
    responses=problem_responses(403, 422, *_COMMON),
    summary="Show an API key",
)
def get_key(access: ReadAccess, key_id: str) -> ApiKeyResponse:
    """One key of the workspace (404 for any other id)."""
    return ApiKeyResponse.of(access.services.tenancy.key(access.actor, key_id))


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyResponse,
    responses=problem_responses(403, 422, *_COMMON),
    summary="Revoke an API key",
)
def revoke_key(access: AdminAccess, key_id: str) -> ApiKeyResponse:
    """Revoke a key: it gets 401 from now on (revoking twice changes nothing)."""
    return ApiKeyResponse.of(access.services.tenancy.revoke_key(access.actor, key_id))


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(403, 422, *_COMMON),
    summary="Revoke an API key",
)
def delete_key(access: AdminAccess, key_id: str) -> Response:
    """Revoke a key, as ``POST .../revoke`` does; the row stays, for the audit log."""
    access.services.tenancy.revoke_key(access.actor, key_id)
    return Response(status_code=204)


@router.get(
    "/audit-log",
    response_model=Page[AuditEntryResponse],
    responses=problem_responses(400, 403, 422, *_COMMON),
    summary="List the workspace's audit log",
)
def audit_log(
    access: ReadAccess,
    page: PageParams,
    entity_type: Annotated[
        str | None, Query(max_length=50, description="schedule, api_key, source ...")
    ] = None,
    entity_id: Annotated[
        str | None, Query(max_length=64, description="The object's id (UUID or ULID).")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Only changes at or after this time (ISO-8601).")
    ] = None,
) -> Page[AuditEntryResponse]:
    """Changes in the workspace, newest first: who, what, and each field's old and new."""
    after = page.after
    if after is not None and not isinstance(after, int):
        raise invalid_cursor()
    entries = access.services.tenancy.audit_entries(
        access.actor,
        entity_type=entity_type,
        entity_id=entity_id,
        since=None if since is None else ensure_utc(since),
        before_id=after,
        limit=page.limit + 1,
    )
    kept, cursor = page.page(entries, lambda e: e.id)
    return Page(items=[AuditEntryResponse.of(e) for e in kept], next_cursor=cursor)


def _key_cursor(page: PageRequest) -> tuple[datetime, uuid.UUID] | None:
    """The ``(created_at, id)`` of the last key of the previous page."""
    if page.after is None:
        return None
    if not isinstance(page.after, list) or len(page.after) != 2:
        raise invalid_cursor()
    try:
        at, key_id = page.after
        return ensure_utc(datetime.fromisoformat(str(at))), uuid.UUID(str(key_id))
    except (TypeError, ValueError):
        raise invalid_cursor() from None


def _text_ids(row: dict[str, Any]) -> dict[str, Any]:
    """UUIDs as text: the response models declare ids as strings."""
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in row.items()}
