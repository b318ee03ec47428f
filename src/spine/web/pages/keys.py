"""API keys of the workspace: list, create (the secret shown once), revoke (``spine keys``).

Listing is for any session; creating and revoking need the ``admin`` scope, as the
API's key routes do. A new key's secret is on the page that answers the creation and
nowhere else: spine keeps only its digest. Another workspace's key is not found (404),
whether shown or revoked.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spine.core.errors import InvalidInput
from spine.tenancy import ALL_SCOPES, ApiKey
from spine.tenancy.service import MAX_EXPIRY_DAYS, parse_scopes
from spine.web.access import PREFIX, Admin, Viewer, WebAccess
from spine.web.rendering import redirect, render

router = APIRouter()

_PAGE = 50


def key_state(key: ApiKey, now: datetime) -> str:
    """``revoked``, ``expired`` or ``usable``: what a request with the key gets."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and now >= key.expires_at:
        return "expired"
    return "usable"


def user_email(access: WebAccess, user_id: uuid.UUID | None) -> str:
    """The email of the user a key acts for ("no one" for a key of none)."""
    if user_id is None:
        return "no one"
    found = next((u for u in access.services.tenancy.users() if u.id == user_id), None)
    return found.email if found is not None else str(user_id)


def key_cursor(key: ApiKey) -> str:
    """The cursor of the page after ``key``: its creation time and id."""
    return f"{key.created_at.isoformat()}_{key.id}"


def parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """``(created_at, id)`` from :func:`key_cursor`'s text.

    Raises:
        InvalidInput: If ``cursor`` is not one.
    """
    at, _, key_id = cursor.rpartition("_")
    try:
        return datetime.fromisoformat(at), uuid.UUID(key_id)
    except ValueError:
        raise InvalidInput("this page link is not valid: start from the first page") from None


@router.get("/keys", response_class=HTMLResponse)
def keys(request: Request, access: Viewer, after: str | None = None) -> HTMLResponse:
    """The workspace's keys, newest first, revoked ones too."""
    tenancy = access.services.tenancy
    found = tenancy.keys(
        access.actor, after=None if after is None else parse_cursor(after), limit=_PAGE + 1
    )
    shown = found[:_PAGE]
    now = access.services.clock.now()
    return render(
        request,
        "keys.html",
        {
            "title": "API keys",
            "keys": [(k, key_state(k, now)) for k in shown],
            "cursor": key_cursor(shown[-1]) if len(found) > _PAGE else None,
            "session_key": access.session.key_id,
            "scopes": sorted(s.value for s in ALL_SCOPES),
            "max_days": MAX_EXPIRY_DAYS,
        },
    )


@router.get("/keys/{key_id}", response_class=HTMLResponse)
def key(request: Request, key_id: str, access: Viewer) -> HTMLResponse:
    """One key of the workspace (never its secret)."""
    found = access.services.tenancy.key(access.actor, key_id)
    return render(
        request,
        "key.html",
        {
            "title": f"API key {found.name}",
            "key": found,
            "state": key_state(found, access.services.clock.now()),
            "user": user_email(access, found.user_id),
            "session_key": access.session.key_id,
        },
    )


@router.post("/keys", response_class=HTMLResponse)
def create_key(
    request: Request,
    access: Admin,
    name: Annotated[str, Form(max_length=255)],
    scopes: Annotated[list[str] | None, Form()] = None,
    expires_in_days: Annotated[str | None, Form(max_length=10)] = None,
    user: Annotated[str | None, Form(max_length=320)] = None,
) -> HTMLResponse:
    """Make a key; the page that answers shows its secret, this once."""
    days = None
    if expires_in_days and expires_in_days.strip():
        try:
            days = int(expires_in_days)
        except ValueError:
            raise InvalidInput(f"expires in days: {expires_in_days!r} is not a number") from None
    made = access.services.tenancy.create_key(
        access.actor,
        name=name,
        scopes=parse_scopes(list(scopes or [])),
        expires_in_days=days,
        user=(user or "").strip() or None,
    )
    response = render(
        request,
        "key_created.html",
        {"title": "API key created", "made": made, "user": user_email(access, made.key.user_id)},
    )
    # The secret must not stay in a cache or be shown by the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: str, access: Admin) -> RedirectResponse:
    """Revoke a key of the workspace: requests (and sessions) with it end now."""
    revoked = access.services.tenancy.revoke_key(access.actor, key_id)
    return redirect(f"{PREFIX}/keys", flash=f"Key {revoked.name} is revoked.")
