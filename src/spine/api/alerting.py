"""Alert channels, alerts, dead letters and breakers of a workspace.

Every route calls :meth:`spine.bootstrap.Services.alerting` of the request's key (the
service the CLI calls), which reads and writes only the key's workspace and audits its
changes as the key. Channel configs are shown without their secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from spine.alerting import AlertService, Channel, Severity
from spine.alerting.channels import DeliveryError
from spine.api.auth import WORKSPACE_PATH, AdminAccess, ReadAccess, WriteAccess
from spine.api.pagination import Page, PageParams
from spine.api.problems import problem_responses
from spine.core.clock import ensure_utc

router = APIRouter(prefix=WORKSPACE_PATH, tags=["alerting"])

_READ = problem_responses(400, 401, 404, 422, 429)
_CHANGE = problem_responses(401, 403, 404, 409, 422, 429)


class ChannelResponse(BaseModel):
    """A channel (``core_alert_channels``), its config's credentials masked."""

    id: str
    name: str
    channel_type: str
    config_json: dict[str, Any]
    min_severity: str
    domains: list[str]
    enabled: bool
    throttle_minutes: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    consecutive_failures: int
    created_at: datetime | None
    updated_at: datetime | None
    created_by: str | None
    breaker: str = Field(description="Its circuit breaker's name (`GET .../breakers`).")


class ChannelCreate(BaseModel):
    """A new channel; ``config_json`` as ``spine alerts channels add --config`` takes it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    channel_type: str = Field(max_length=50)
    config_json: dict[str, Any]
    min_severity: str = "INFO"
    domains: list[str] | None = None
    throttle_minutes: int = Field(default=0, ge=0, le=10_000_000)


class ChannelUpdate(BaseModel):
    """What to change of a channel.

    ``config_json`` keys replace the stored ones (``null`` removes one).
    """

    model_config = ConfigDict(extra="ignore")

    config_json: dict[str, Any] | None = None
    min_severity: str | None = None
    domains: list[str] | None = None
    throttle_minutes: int | None = Field(default=None, ge=0, le=10_000_000)
    enabled: bool | None = None


class DeliveryResponse(BaseModel):
    """One delivery attempt (``core_alert_deliveries``)."""

    id: str
    alert_id: str
    channel_id: str | None
    channel_name: str
    status: str
    attempt: int
    attempted_at: datetime | None
    delivered_at: datetime | None
    error: str | None
    next_retry_at: datetime | None


class AlertResponse(BaseModel):
    """An alert (``core_alerts``)."""

    id: str
    severity: str
    title: str
    message: str
    source: str
    domain: str | None
    execution_id: str | None
    run_id: str | None
    metadata_json: dict[str, Any] | None
    error_category: str | None
    created_at: datetime
    dedup_key: str | None
    capture_id: str | None


class SentAlert(AlertResponse):
    """An alert just recorded, with its deliveries (PENDING or THROTTLED)."""

    deliveries: list[DeliveryResponse]


class AlertCreate(BaseModel):
    """An alert to send to the workspace's matching channels."""

    model_config = ConfigDict(extra="ignore")

    severity: str = Field(max_length=20)
    title: str = Field(max_length=500)
    message: str = Field(max_length=100_000)
    source: str = Field(default="api", max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    dedup_key: str | None = Field(
        default=None,
        max_length=128,
        description="Repeats with one key are throttled; default: from source, title, severity.",
    )


class DeadLetterResponse(BaseModel):
    """A dead-lettered delivery (``dead_letter_queue``)."""

    dlq_id: str
    source_type: str
    source_id: str
    payload: dict[str, Any]
    error: str
    error_category: str | None
    retry_count: int | None
    max_retries: int | None
    first_failed_at: datetime
    last_failed_at: datetime
    next_retry_at: datetime | None
    status: str | None
    resolved_at: datetime | None
    metadata: dict[str, Any] | None


class RetriedResponse(BaseModel):
    """A dead letter queued again, and its channel's breaker."""

    dlq_id: str
    delivery_id: str
    channel_name: str
    breaker: str
    probe_from: datetime | None


class BreakerResponse(BaseModel):
    """A channel's circuit breaker (``circuit_breakers``)."""

    breaker_id: str
    name: str
    channel_id: str
    channel_name: str
    state: str
    failure_count: int | None
    success_count: int | None
    last_failure_at: datetime | None
    last_success_at: datetime | None
    opened_at: datetime | None
    half_opened_at: datetime | None
    updated_at: datetime


def _view(alerting: AlertService, channel: Channel) -> ChannelResponse:
    return ChannelResponse.model_validate(alerting.channel_view(channel))


def _timed_key(key: object) -> tuple[datetime, str] | None:
    """A (time, id) cursor key back as values; ``None`` at the first page."""
    if key is None:
        return None
    if isinstance(key, list) and len(key) == 2 and all(isinstance(v, str) for v in key):
        try:
            return ensure_utc(datetime.fromisoformat(str(key[0]))), str(key[1])
        except ValueError:
            pass
    raise HTTPException(400, "this cursor does not belong to this listing; start again without one")


@router.get(
    "/alert-channels",
    response_model=Page[ChannelResponse],
    responses=_READ,
    summary="List the workspace's alert channels",
)
def list_channels(access: ReadAccess, page: PageParams) -> Page[ChannelResponse]:
    """List the workspace's alert channels."""
    alerting = access.services.alerting()
    after = page.after if isinstance(page.after, str) else None
    channels = alerting.store.list_channels(after=after, limit=page.limit + 1)
    kept, cursor = page.page(channels, lambda c: c.name)
    return Page(items=[_view(alerting, c) for c in kept], next_cursor=cursor)


@router.post(
    "/alert-channels",
    response_model=ChannelResponse,
    status_code=201,
    responses=_CHANGE,
    summary="Add an alert channel",
)
def add_channel(access: AdminAccess, body: ChannelCreate) -> ChannelResponse:
    """Add an alert channel."""
    alerting = access.services.alerting()
    channel = alerting.add_channel(
        body.name,
        body.channel_type,
        body.config_json,
        min_severity=body.min_severity,
        domains=body.domains,
        throttle_minutes=body.throttle_minutes,
    )
    return _view(alerting, channel)


@router.get(
    "/alert-channels/{channel_id}",
    response_model=ChannelResponse,
    responses=_READ,
    summary="Show an alert channel",
)
def get_channel(access: ReadAccess, channel_id: str) -> ChannelResponse:
    """Show an alert channel."""
    alerting = access.services.alerting()
    return _view(alerting, alerting.store.get_channel_by_id(channel_id))


@router.patch(
    "/alert-channels/{channel_id}",
    response_model=ChannelResponse,
    responses=_CHANGE,
    summary="Change an alert channel",
)
def update_channel(access: AdminAccess, channel_id: str, body: ChannelUpdate) -> ChannelResponse:
    """Change an alert channel."""
    alerting = access.services.alerting()
    channel = alerting.update_channel_by_id(
        channel_id,
        config=body.config_json,
        min_severity=body.min_severity,
        domains=body.domains,
        throttle_minutes=body.throttle_minutes,
        enabled=body.enabled,
    )
    return _view(alerting, channel)


@router.delete(
    "/alert-channels/{channel_id}",
    status_code=204,
    response_model=None,
    responses=_CHANGE,
    summary="Remove an alert channel (its deliveries stay as history)",
)
def remove_channel(access: AdminAccess, channel_id: str) -> None:
    """Remove an alert channel (its deliveries stay as history)."""
    alerting = access.services.alerting()
    channel = alerting.store.get_channel_by_id(channel_id)
    alerting.store.remove_channel(channel.name)


@router.post(
    "/alert-channels/{channel_id}/test",
    response_model=dict[str, Any],
    responses={**_CHANGE, **problem_responses(502)},
    summary="Send a test message through a channel now (nothing is recorded)",
)
def test_channel(access: AdminAccess, channel_id: str) -> dict[str, Any]:
    """Send a test message through a channel now (nothing is recorded)."""
    alerting = access.services.alerting()
    channel = alerting.store.get_channel_by_id(channel_id)
    try:
        return alerting.test_channel(channel.name, channel=channel)
    except DeliveryError as error:
        # The channel's endpoint failed, not this API: a bad gateway, whatever category
        # the failure has (the message is the one the CLI prints, without credentials).
        raise HTTPException(502, f"the test message was not delivered: {error}") from None


@router.get(
    "/alerts",
    response_model=Page[AlertResponse],
    responses=_READ,
    summary="List the workspace's alerts, newest first",
)
def list_alerts(
    access: ReadAccess,
    page: PageParams,
    severity: Annotated[str | None, Query(max_length=20)] = None,
    domain: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="ISO-8601 time.")] = None,
) -> Page[AlertResponse]:
    """List the workspace's alerts, newest first."""
    level = Severity.parse(severity) if severity else None
    rows = access.services.alerting().store.list_alerts(
        severity=level,
        since=ensure_utc(since) if since else None,
        domain=domain,
        before=_timed_key(page.after),
        limit=page.limit + 1,
    )
    kept, cursor = page.page(rows, lambda r: [r["created_at"].isoformat(), r["id"]])
    return Page(items=[AlertResponse.model_validate(r) for r in kept], next_cursor=cursor)


@router.post(
    "/alerts",
    response_model=SentAlert,
    status_code=201,
    responses=_CHANGE,
    summary="Send an alert to the workspace's matching channels",
)
def send_alert(access: WriteAccess, body: AlertCreate) -> SentAlert:
    """Send an alert to the workspace's matching channels."""
    alerting = access.services.alerting()
    alert_id = alerting.send(
        body.severity,
        body.title,
        body.message,
        source=body.source,
        domain=body.domain,
        dedup_key=body.dedup_key,
    )
    row, deliveries = alerting.store.show_alert(alert_id)
    return SentAlert.model_validate(
        {**row, "deliveries": [DeliveryResponse.model_validate(d) for d in deliveries]}
    )


@router.get(
    "/dlq",
    response_model=Page[DeadLetterResponse],
    responses=_READ,
    summary="List the workspace's dead-lettered deliveries, newest failure first",
)
def list_dead_letters(
    access: ReadAccess,
    page: PageParams,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[DeadLetterResponse]:
    """List the workspace's dead-lettered deliveries, newest failure first."""
    rows = access.services.alerting().store.list_dead_letters(
        status.strip().lower() if status else None,
        before=_timed_key(page.after),
        limit=page.limit + 1,
    )
    kept, cursor = page.page(rows, lambda r: [r["last_failed_at"].isoformat(), r["dlq_id"]])
    return Page(items=[DeadLetterResponse.model_validate(r) for r in kept], next_cursor=cursor)


@router.post(
    "/dlq/{dlq_id}/retry",
    response_model=RetriedResponse,
    responses=_CHANGE,
    summary="Queue a dead letter again",
)
def retry_dead_letter(access: WriteAccess, dlq_id: str) -> RetriedResponse:
    """Queue a dead letter again."""
    requeued = access.services.alerting().store.retry_dead_letter(dlq_id)
    return RetriedResponse(
        dlq_id=dlq_id,
        delivery_id=requeued.delivery_id,
        channel_name=requeued.channel_name,
        breaker=requeued.breaker.value,
        probe_from=requeued.probe_from,
    )


@router.post(
    "/dlq/{dlq_id}/resolve",
    response_model=DeadLetterResponse,
    responses=_CHANGE,
    summary="Mark a dead letter resolved (handled by hand)",
)
def resolve_dead_letter(access: WriteAccess, dlq_id: str) -> DeadLetterResponse:
    """Mark a dead letter resolved (handled by hand)."""
    store = access.services.alerting().store
    store.resolve_dead_letter(dlq_id)
    return DeadLetterResponse.model_validate(store.get_dead_letter(dlq_id))


@router.get(
    "/breakers",
    response_model=Page[BreakerResponse],
    responses=_READ,
    summary="List the circuit breakers of the workspace's channels",
)
def list_breakers(access: ReadAccess, page: PageParams) -> Page[BreakerResponse]:
    """List the circuit breakers of the workspace's channels."""
    after = page.after if isinstance(page.after, str) else None
    rows = access.services.alerting().store.list_breakers(after=after, limit=page.limit + 1)
    kept, cursor = page.page(rows, lambda r: r["channel_name"])
    return Page(items=[BreakerResponse.model_validate(r) for r in kept], next_cursor=cursor)
