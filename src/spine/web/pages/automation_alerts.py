"""My alerts: the alerts for people addressed to the session's user, to acknowledge or dismiss.

A session acts for a user when it logged in with a key made with ``spine keys create
--user EMAIL`` (as the API's ``alerts/mine``). A session of no user (the one-time token,
a key of no one) is told how to get one. Acting on an alert that is not the user's is
answered as if it did not exist (404), as the API does.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spine.automation.models import AlertStatus
from spine.core.errors import InvalidInput
from spine.web.access import PREFIX, Editor, Viewer, WebAccess
from spine.web.params import optional_choice
from spine.web.rendering import redirect, render

router = APIRouter()

_PAGE = 25
_MINE = f"{PREFIX}/automation/alerts"


@router.get("/automation/alerts", response_class=HTMLResponse)
def my_alerts(
    request: Request, access: Viewer, status: str | None = None, after: str | None = None
) -> HTMLResponse:
    """The session's user's alerts, newest first; filter by status."""
    user_id = access.actor.user_id
    wanted = optional_choice(AlertStatus, status, "status")
    alerts = []
    cursor = None
    if user_id is not None:
        found = access.services.automation.inbox.mine(
            user_id, status=wanted, limit=_PAGE + 1, after=after
        )
        alerts = found[:_PAGE]
        cursor = str(found[_PAGE - 1].id) if len(found) > _PAGE else None
    return render(
        request,
        "automation_alerts.html",
        {
            "title": "My alerts",
            "user_id": user_id,
            "alerts": alerts,
            "cursor": cursor,
            "status": wanted.value if wanted else "",
            "statuses": [s.value for s in AlertStatus],
        },
    )


def _user(access: WebAccess) -> uuid.UUID:
    user_id = access.actor.user_id
    if user_id is None:
        raise InvalidInput(
            "this session acts for no user: log in with a key made with "
            "`spine keys create --user EMAIL`"
        )
    return user_id


@router.post("/automation/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: str,
    access: Editor,
    notes: Annotated[str | None, Form(max_length=2000)] = None,
) -> RedirectResponse:
    """Acknowledge an alert as the session's user (a recipient)."""
    alert = access.services.automation.inbox.acknowledge(
        alert_id, user_id=_user(access), notes=notes or None
    )
    return redirect(_MINE, flash=f"Acknowledged: {alert.title}")


@router.post("/automation/alerts/{alert_id}/dismiss")
def dismiss(alert_id: str, access: Editor) -> RedirectResponse:
    """Dismiss an alert as the session's user (a recipient)."""
    alert = access.services.automation.inbox.dismiss(alert_id, user_id=_user(access))
    return redirect(_MINE, flash=f"Dismissed: {alert.title}")
