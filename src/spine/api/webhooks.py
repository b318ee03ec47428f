"""Spec 004 webhooks of a workspace: data-quality events, signed, through the outbox.

Every route calls the service ``spine webhooks`` calls
(:attr:`spine.alerting.AlertService.webhooks`), in the key's workspace; changes need
``admin`` (as alert channels do) and are audited (entity ``webhook``). A secret given
is never returned; one spine generates is returned once, by the POST that made it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from spine.alerting.channels import DeliveryError
from spine.alerting.models import WEBHOOK_EVENTS, Webhook
from spine.alerting.store.webhook_rows import WebhookNotFound
from spine.alerting.webhooks import WebhookService, response_code
from spine.api.auth import WORKSPACE_PATH, AdminAccess, ReadAccess
from spine.api.pagination import Page, PageParams
from spine.api.problems import problem_responses

router = APIRouter(prefix=WORKSPACE_PATH, tags=["webhooks"])

_READ = problem_responses(400, 401, 404, 422, 429)
_CHANGE = problem_responses(401, 403, 404, 409, 422, 429)
_EVENTS = f"Any of {', '.join(WEBHOOK_EVENTS)}."
_SECRET = "`whsec_...`, or `env:VAR` / `file:PATH`; never returned."


class WebhookResponse(BaseModel):
    """A webhook (spec 004 ``webhooks``), without its secret."""

    id: str
    workspace_id: str
    name: str
    url: str
    events: list[str] = Field(description=_EVENTS)
    enabled: bool
    last_triggered_at: datetime | None
    last_response_code: int | None
    failure_count: int = Field(description="Failed attempts since the last successful one.")
    channel_id: str | None = Field(description="The alert channel that delivers it.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, hook: Webhook) -> WebhookResponse:
        """The response for ``hook``."""
        values = hook.to_dict()
        values.pop("secret", None)
        return cls.model_validate(values)


class WebhookCreated(WebhookResponse):
    """A new webhook; ``generated_secret`` only when spine made its secret (shown once)."""

    generated_secret: str | None = None


class WebhookCreate(BaseModel):
    """A webhook to add: what ``spine webhooks add`` takes."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=191)
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=10, description=_EVENTS)
    secret: str | None = Field(default=None, max_length=500, description=_SECRET)


class WebhookPatch(BaseModel):
    """What to change of a webhook; absent fields stay (the name cannot change)."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=10)
    enabled: bool | None = None
    secret: str | None = Field(default=None, max_length=500, description=_SECRET)


class WebhookTestResponse(BaseModel):
    """What the receiver answered to a signed ``webhook.test`` event."""

    response_code: int | None
    response: dict[str, Any]


def _service(access: ReadAccess | AdminAccess) -> WebhookService:
    return access.services.alerting().webhooks


def _id(webhook_id: str) -> str:
    """The id's canonical text (an id that is no UUID names no webhook)."""
    try:
        return str(uuid.UUID(webhook_id))
    except ValueError:
        raise WebhookNotFound(webhook_id) from None


@router.get("/webhooks", response_model=Page[WebhookResponse], responses=_READ)
def list_webhooks(access: ReadAccess, page: PageParams) -> Page[WebhookResponse]:
    """The workspace's webhooks, by name."""
    after = page.after if isinstance(page.after, str) else None
    found = _service(access).list_webhooks(after=after, limit=page.limit + 1)
    items, cursor = page.page(found, lambda hook: hook.name)
    return Page[WebhookResponse](items=[WebhookResponse.of(h) for h in items], next_cursor=cursor)


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, responses=_CHANGE)
def create_webhook(access: AdminAccess, body: WebhookCreate) -> WebhookCreated:
    """Add a webhook (as `spine webhooks add`); without `secret` one is generated."""
    hook, generated = _service(access).add(
        body.name, url=body.url, events=body.events, secret=body.secret
    )
    values = WebhookResponse.of(hook).model_dump()
    return WebhookCreated(**values, generated_secret=generated)


@router.get("/webhooks/{webhook_id}", response_model=WebhookResponse, responses=_READ)
def get_webhook(webhook_id: str, access: ReadAccess) -> WebhookResponse:
    """One webhook of the workspace."""
    return WebhookResponse.of(_service(access).get(_id(webhook_id)))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookResponse, responses=_CHANGE)
def update_webhook(webhook_id: str, access: AdminAccess, body: WebhookPatch) -> WebhookResponse:
    """Change a webhook's URL, events, secret, or enable/disable it."""
    hook = _service(access).update(
        _id(webhook_id), url=body.url, events=body.events, enabled=body.enabled, secret=body.secret
    )
    return WebhookResponse.of(hook)


@router.delete(
    "/webhooks/{webhook_id}", status_code=204, response_class=Response, responses=_CHANGE
)
def delete_webhook(webhook_id: str, access: AdminAccess) -> Response:
    """Remove a webhook; its waiting deliveries are closed, its history stays."""
    _service(access).remove(_id(webhook_id))
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/test",
    response_model=WebhookTestResponse,
    responses={**_CHANGE, **problem_responses(502)},
)
def test_webhook(webhook_id: str, access: AdminAccess) -> WebhookTestResponse:
    """Send a signed `webhook.test` event now (nothing is recorded); 502 if not 2xx."""
    try:
        response = _service(access).test(_id(webhook_id))
    except DeliveryError as error:
        raise HTTPException(502, f"the test event was not delivered: {error}") from None
    return WebhookTestResponse(response_code=response_code(response), response=response)
