"""Spec 004 ``webhooks`` rows and their alert channels, on the caller's connection.

Each webhook has one alert channel (``core_alert_channels``, type ``webhook``, named
``webhook:<name>``, ``events`` set) that carries its deliveries through the outbox:
retries with back-off, dead letters and the channel's circuit breaker. The channel holds
the URL and the sealed secret; the webhook row its name, events and tracking columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import (
    WEBHOOK_CHANNEL_PREFIX,
    Channel,
    DeliveryPolicy,
    Severity,
    Webhook,
)
from spine.alerting.store import channels
from spine.alerting.store.rows import channel_from_row
from spine.core.errors import Conflict, NotFound
from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.alerting import core_alert_channels
from spine.core.storage.schema.dq_platform import webhooks

w = webhooks
ch = core_alert_channels


class WebhookNotFound(NotFound):
    """No webhook of the workspace has this name or id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no webhook named {ref!r} (see `spine webhooks list`)")


def channel_name(name: str) -> str:
    """The name of the alert channel that delivers webhook ``name``."""
    return WEBHOOK_CHANNEL_PREFIX + name


def webhook_from_row(row: Any) -> Webhook:
    """A :class:`Webhook` from a ``webhooks`` row."""
    m = row._mapping
    return Webhook(
        id=m["id"],
        workspace_id=m["workspace_id"],
        name=m["name"],
        url=m["url"],
        events=tuple(m["events"] or ()),
        enabled=bool(m["enabled"]),
        last_triggered_at=m["last_triggered_at"],
        last_response_code=m["last_response_code"],
        failure_count=int(m["failure_count"] or 0),
        channel_id=m["channel_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _where(workspace_id: uuid.UUID, ref: str) -> sa.ColumnElement[bool]:
    try:
        by_id: sa.ColumnElement[bool] = w.c.id == uuid.UUID(ref)
    except ValueError:
        return sa.and_(w.c.workspace_id == workspace_id, w.c.name == ref)
    return sa.and_(w.c.workspace_id == workspace_id, sa.or_(by_id, w.c.name == ref))


def get_webhook(
    conn: sa.Connection, workspace_id: uuid.UUID, ref: str, *, for_update: bool = False
) -> Webhook:
    """The workspace's webhook named ``ref`` (or whose id it is).

    Raises:
        WebhookNotFound: If the workspace has none.
    """
    if "\x00" in ref or len(ref) > 255:
        raise WebhookNotFound(ref)
    query = sa.select(w).where(_where(workspace_id, ref))
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise WebhookNotFound(ref)
    return webhook_from_row(row)


def list_webhooks(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[Webhook]:
    """The workspace's webhooks, by name (after name ``after``, at most ``limit``)."""
    query = sa.select(w).where(w.c.workspace_id == workspace_id).order_by(w.c.name)
    if after is not None:
        query = query.where(w.c.name > after)
    if limit is not None:
        query = query.limit(limit)
    return [webhook_from_row(r) for r in conn.execute(query)]


def add_webhook(
    conn: sa.Connection,
    now: datetime,
    *,
    workspace_id: uuid.UUID,
    name: str,
    url: str,
    events: Sequence[str],
    config: dict[str, Any],
    policy: DeliveryPolicy,
    created_by: str | None,
) -> tuple[Webhook, Channel]:
    """Insert a webhook and its alert channel (``config`` validated and sealed).

    Raises:
        Conflict: If the workspace has a webhook of this name, or a channel of its
            channel's name.
        InvalidInput: If a text is longer than its column.
    """
    check_lengths(w, {"name": name}, what="webhook")
    taken = sa.select(w.c.id).where(w.c.workspace_id == workspace_id, w.c.name == name)
    if conn.execute(taken).first() is not None:
        raise Conflict(f"a webhook named {name!r} already exists")
    channel = channels.add_channel(
        conn,
        now,
        workspace_id=workspace_id,
        name=channel_name(name),
        channel_type="webhook",
        config=config,
        min_severity=Severity.INFO,
        domains=(),
        throttle_minutes=0,
        created_by=created_by,
        policy=policy,
    )
    conn.execute(sa.update(ch).where(ch.c.id == channel.id).values(events=list(events)))
    webhook_id = uuid.uuid4()
    conn.execute(
        sa.insert(w).values(
            id=webhook_id,
            workspace_id=workspace_id,
            name=name,
            url=url,
            # The secret is kept once, sealed, in the channel's config: a second copy here
            # would be a second place for `spine secret-key rotate` to re-seal.
            secret=None,
            events=list(events),
            enabled=True,
            failure_count=0,
            channel_id=channel.id,
            created_at=now,
            updated_at=now,
        )
    )
    return get_webhook(conn, workspace_id, str(webhook_id)), channel_of(conn, channel.id)


def channel_of(conn: sa.Connection, channel_id: str | None) -> Channel:
    """A webhook's alert channel.

    Raises:
        NotFound: If it is gone (removed by hand from the database).
    """
    row = conn.execute(sa.select(ch).where(ch.c.id == channel_id)).first() if channel_id else None
    if row is None:
        raise NotFound("the webhook's alert channel is missing: remove the webhook, add it again")
    return channel_from_row(row)


def update_webhook(
    conn: sa.Connection,
    now: datetime,
    webhook: Webhook,
    values: Mapping[str, Any],
    config: dict[str, Any] | None,
) -> Webhook:
    """Write a webhook's new ``url``, ``events`` or ``enabled``, and its channel's in step."""
    row = {k: list(v) if k == "events" else v for k, v in values.items()}
    conn.execute(sa.update(w).where(w.c.id == webhook.id).values(**row, updated_at=now))
    channel: dict[str, Any] = {"updated_at": now}
    if "events" in row:
        channel["events"] = row["events"]
    if "enabled" in row:
        channel["enabled"] = row["enabled"]
    if config is not None:
        channel["config_json"] = config
    conn.execute(sa.update(ch).where(ch.c.id == webhook.channel_id).values(**channel))
    return get_webhook(conn, webhook.workspace_id, str(webhook.id))


def remove_webhook(conn: sa.Connection, now: datetime, webhook: Webhook) -> int:
    """Delete a webhook and its channel; return how many waiting deliveries were closed."""
    closed = 0
    if webhook.channel_id is not None:
        found = conn.execute(sa.select(ch.c.name).where(ch.c.id == webhook.channel_id)).first()
        if found is not None:
            _, closed = channels.remove_channel(conn, now, webhook.workspace_id, found.name)
    conn.execute(sa.delete(w).where(w.c.id == webhook.id))
    return closed


def channels_for(conn: sa.Connection, workspace_id: uuid.UUID, event: str) -> list[Channel]:
    """The channels of the workspace's enabled webhooks that ask for ``event``, by name."""
    query = (
        sa.select(ch)
        .select_from(ch.join(w, w.c.channel_id == ch.c.id))
        .where(
            w.c.workspace_id == workspace_id,
            w.c.enabled.is_(True),
            ch.c.enabled.is_(True),
            ch.c.events.is_not(None),
        )
        .order_by(ch.c.name)
    )
    found = [channel_from_row(row) for row in conn.execute(query)]
    return [c for c in found if event in (c.events or ())]


def note_attempt(
    conn: sa.Connection, channel_id: str, now: datetime, code: int | None, *, ok: bool
) -> None:
    """Track an attempt on the webhook that ``channel_id`` delivers (if it is one's).

    ``last_triggered_at`` and ``last_response_code`` (``None``: no answer); a success
    sets ``failure_count`` to 0, a failure adds one.
    """
    count = sa.literal(0) if ok else w.c.failure_count + 1
    conn.execute(
        sa.update(w)
        .where(w.c.channel_id == channel_id)
        .values(last_triggered_at=now, last_response_code=code, failure_count=count)
    )


def disable_for_channel(conn: sa.Connection, channel_id: str, now: datetime) -> None:
    """Disable the webhook that ``channel_id`` delivers (its endpoint answered 410 Gone)."""
    conn.execute(
        sa.update(w).where(w.c.channel_id == channel_id).values(enabled=False, updated_at=now)
    )
