"""Executions and alerts for people, under ``.../workspaces/{workspace_id}/automation/``.

Executions record what each rule did for each change (``spine automation
executions``). Alerts for people are spec 003's ``alerts``: ``alerts/mine`` lists those
addressed to the user the API key acts for (a key made with ``spine keys create --user
EMAIL``), directly or through one of their roles; acknowledging or dismissing needs that
user to be a recipient, and anyone else gets 404, as if the alert did not exist. A key
that acts for no user names the recipient in the body (``user``), as the CLI's
``--user`` does.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from spine.api.auth import WORKSPACE_PATH, Access, ReadAccess, WriteAccess
from spine.api.automation_ops_models import (
    AlertAcknowledgeBody,
    AlertDismissBody,
    AlertResponse,
    AlertStatusName,
    ExecutionResponse,
    ExecutionStatusName,
)
from spine.api.pagination import Page, PageParams, invalid_cursor
from spine.api.problems import problem_responses
from spine.automation.errors import AlertNotFound
from spine.automation.models import AlertStatus, ExecutionStatus
from spine.core.errors import InvalidInput, NotFound

router = APIRouter(prefix=f"{WORKSPACE_PATH}/automation", tags=["automation"])

_AUTH = (401, 404, 429, 503)
_LIST = (400, 403, 422, *_AUTH)


class NoUser(NotFound):
    """The request's API key acts for no user."""

    def __init__(self) -> None:
        super().__init__(
            "this API key acts for no user: make one with `spine keys create --user EMAIL`"
        )


def _alert_id(ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        raise AlertNotFound(ref) from None


def _after(page: PageParams) -> str | None:
    if page.after is not None and not isinstance(page.after, str):
        raise invalid_cursor()
    return page.after


# --- executions -----------------------------------------------------------------------


@router.get(
    "/executions",
    response_model=Page[ExecutionResponse],
    description="What the rules did, newest first; filter by `rule` (id or name) and "
    "`status` (as `spine automation executions`).",
    responses=problem_responses(*_LIST),
)
def list_executions(
    access: ReadAccess,
    page: PageParams,
    rule: Annotated[str | None, Query(max_length=255, description="A rule's id or name.")] = None,
    status: ExecutionStatusName | None = None,
) -> Page[ExecutionResponse]:
    """List executions, newest first."""
    found = access.services.automation.executions.executions(
        rule=rule,
        status=None if status is None else ExecutionStatus(status),
        limit=page.limit + 1,
        after=_after(page),
    )
    items, cursor = page.page(found, lambda execution: str(execution.id))
    return Page(items=[ExecutionResponse.of(e) for e in items], next_cursor=cursor)


@router.get(
    "/executions/{execution_id}",
    response_model=ExecutionResponse,
    description="One execution: its change, each action's status, result and time.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_execution(execution_id: str, access: ReadAccess) -> ExecutionResponse:
    """Show an execution."""
    return ExecutionResponse.of(access.services.automation.executions.execution(execution_id))


# --- alerts for people ----------------------------------------------------------------


@router.get(
    "/alerts",
    response_model=Page[AlertResponse],
    description="Alerts for people, newest first; with `user` (an email), those "
    "addressed to that user or to one of their roles; filter by `status`.",
    responses=problem_responses(*_LIST),
)
def list_alerts(
    access: ReadAccess,
    page: PageParams,
    user: Annotated[str | None, Query(max_length=320, description="A user's email.")] = None,
    status: AlertStatusName | None = None,
) -> Page[AlertResponse]:
    """List alerts for people, newest first."""
    found = access.services.automation.inbox.alerts(
        user=user,
        status=None if status is None else AlertStatus(status),
        limit=page.limit + 1,
        after=_after(page),
    )
    items, cursor = page.page(found, lambda alert: str(alert.id))
    return Page(items=[AlertResponse.of(a) for a in items], next_cursor=cursor)


@router.get(
    "/alerts/mine",
    response_model=Page[AlertResponse],
    description="The alerts addressed to the user this API key acts for, directly or "
    "through one of their roles, newest first; filter by `status`. 404 for a key that "
    "acts for no user.",
    responses=problem_responses(*_LIST),
)
def my_alerts(
    access: ReadAccess, page: PageParams, status: AlertStatusName | None = None
) -> Page[AlertResponse]:
    """List the key's user's alerts."""
    user_id = access.actor.user_id
    if user_id is None:
        raise NoUser()
    found = access.services.automation.inbox.mine(
        user_id,
        status=None if status is None else AlertStatus(status),
        limit=page.limit + 1,
        after=_after(page),
    )
    items, cursor = page.page(found, lambda alert: str(alert.id))
    return Page(items=[AlertResponse.of(a) for a in items], next_cursor=cursor)


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertResponse,
    description="One alert for people, with its recipients.",
    responses=problem_responses(403, 422, *_AUTH),
)
def get_alert(alert_id: str, access: ReadAccess) -> AlertResponse:
    """Show an alert for people."""
    return AlertResponse.of(access.services.automation.inbox.alert(_alert_id(alert_id)))


def _acting_user(access: Access, user: str | None) -> dict[str, Any]:
    """Who acts on an alert: the key's user, or the body's ``user`` for a key of none."""
    user_id = access.actor.user_id
    if user_id is not None:
        if user is not None:
            raise InvalidInput("this API key acts for its own user: leave `user` out")
        return {"user_id": user_id}
    if user is None:
        raise InvalidInput(
            "this API key acts for no user: give `user` (a recipient's email), "
            "or use a key made with `spine keys create --user EMAIL`"
        )
    return {"user": user}


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertResponse,
    description="Acknowledge an alert (spec 003 `alert_acknowledgments`, with `notes`) as "
    "the key's user, who must be a recipient (directly or through a role): anyone else "
    "gets 404. A key that acts for no user names the recipient in `user`.",
    responses=problem_responses(403, 409, 422, *_AUTH),
)
def acknowledge_alert(
    alert_id: str, access: WriteAccess, body: AlertAcknowledgeBody | None = None
) -> AlertResponse:
    """Acknowledge an alert for people."""
    body = body or AlertAcknowledgeBody()
    inbox = access.services.automation.inbox
    wanted = inbox.alert(_alert_id(alert_id)).id
    who = _acting_user(access, body.user)
    return AlertResponse.of(inbox.acknowledge(wanted, notes=body.notes, **who))


@router.post(
    "/alerts/{alert_id}/dismiss",
    response_model=AlertResponse,
    description="Dismiss an alert as the key's user, who must be a recipient: anyone "
    "else gets 404. A key that acts for no user names the recipient in `user`.",
    responses=problem_responses(403, 409, 422, *_AUTH),
)
def dismiss_alert(
    alert_id: str, access: WriteAccess, body: AlertDismissBody | None = None
) -> AlertResponse:
    """Dismiss an alert for people."""
    body = body or AlertDismissBody()
    inbox = access.services.automation.inbox
    wanted = inbox.alert(_alert_id(alert_id)).id
    who = _acting_user(access, body.user)
    return AlertResponse.of(inbox.dismiss(wanted, **who))
