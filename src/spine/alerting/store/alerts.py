"""Recording an alert: the alert, its throttle bookkeeping and one delivery per channel.

Everything is written on the caller's connection, in the caller's transaction (an
outbox): a run that ends FAILED commits with its alert and pending deliveries, or not
at all.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import WEBHOOK_SOURCE, Alert, Channel, DeliveryStatus, Severity
from spine.alerting.routing import dedup_key, route
from spine.alerting.store.rows import alert_from_row, channel_from_row, is_ulid
from spine.core.errors import InvalidInput
from spine.core.events import Connection as EventConnection
from spine.core.events import Event, EventType, Publisher
from spine.core.ids import new_id
from spine.core.storage import sql_connection
from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.alerting import (
    core_alert_channels,
    core_alert_deliveries,
    core_alert_throttle,
    core_alerts,
)
from spine.core.workspaces import DEFAULT_WORKSPACE_ID


def _check_text(name: str, value: str | None, *, required: bool) -> None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"an alert needs a non-empty {name}")
        return
    check_lengths(core_alerts, {name: value}, what="alert")


# Statements built once: record_alert is a hot path (every alert, every failed run).
_INSERT_ALERT = sa.insert(core_alerts)
_INSERT_DELIVERY = sa.insert(core_alert_deliveries)
_ENABLED_CHANNELS = (
    sa.select(core_alert_channels)
    .where(
        core_alert_channels.c.enabled.is_(True),
        core_alert_channels.c.workspace_id == sa.bindparam("b_workspace"),
        # A webhook's channel takes its events only, never routing by severity.
        core_alert_channels.c.events.is_(None),
    )
    .order_by(core_alert_channels.c.name)
)


def enabled_channels(conn: sa.Connection, workspace_id: uuid.UUID) -> list[Channel]:
    """The workspace's enabled channels, by name: an alert goes to its own workspace's.

    The channels of spec 004 webhooks are not among them: they take their events only.
    """
    rows = conn.execute(_ENABLED_CHANNELS, {"b_workspace": workspace_id})
    return [channel_from_row(row) for row in rows]


def _recently_sent(
    conn: sa.Connection, key: str, channel: Channel, since: datetime, alert_id: str
) -> bool:
    d, a = core_alert_deliveries, core_alerts
    query = (
        sa.select(sa.literal(1))
        .select_from(d.join(a, a.c.id == d.c.alert_id))
        .where(
            a.c.dedup_key == key,
            d.c.channel_id == channel.id,
            d.c.status != DeliveryStatus.THROTTLED.value,
            a.c.created_at >= since,
            a.c.id != alert_id,
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


@functools.cache
def _throttle_upsert(dialect: str, sent: bool) -> Any:
    # Built once per dialect: constructing this statement costs more than running it.
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql as module
    else:
        from sqlalchemy.dialects import sqlite as module  # type: ignore[no-redef]
    t = core_alert_throttle
    statement: Any = module.insert(t)
    statement = statement.values(
        dedup_key=sa.bindparam("key"),
        last_sent_at=sa.bindparam("now", type_=t.c.last_sent_at.type),
        send_count=1,
        expires_at=sa.bindparam("until", type_=t.c.expires_at.type),
    )
    new = statement.excluded
    expired = t.c.expires_at <= new.last_sent_at
    later = sa.case((new.expires_at > t.c.expires_at, new.expires_at), else_=t.c.expires_at)
    update = {
        "send_count": sa.case((expired, 1), else_=t.c.send_count + 1),
        "last_sent_at": new.last_sent_at
        if sent
        else sa.case((expired, new.last_sent_at), else_=t.c.last_sent_at),
        "expires_at": sa.case((expired, new.expires_at), else_=later if sent else t.c.expires_at),
    }
    return statement.on_conflict_do_update(index_elements=["dedup_key"], set_=update)


def _count_in_window(
    conn: sa.Connection, key: str, now: datetime, window: timedelta, sent: bool
) -> None:
    """Count this alert in ``core_alert_throttle`` (see docs/alerting.md, "Throttling").

    One upsert: a window that has expired starts again at 1; otherwise the count grows,
    and an alert that was queued (not throttled everywhere) moves ``last_sent_at`` and
    may extend the window.
    """
    conn.execute(
        _throttle_upsert(conn.dialect.name, sent),
        {"key": key, "now": now, "until": now + window},
    )


def record_alert(
    events_conn: EventConnection,
    now: datetime,
    *,
    workspace_id: uuid.UUID,
    severity: str,
    title: str,
    message: str,
    source: str,
    domain: str | None = None,
    run_id: str | None = None,
    execution_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    error_category: str | None = None,
    channels: Sequence[Channel] | None = None,
    listeners: Publisher | None = None,
    dedup: str | None = None,
) -> str:
    """Write an alert and one PENDING (or THROTTLED) delivery per matching channel.

    The alert is of ``workspace_id``; only that workspace's channels are matched.

    Runs on ``events_conn`` (a SQL connection, or the one a listener is handed) and
    does not commit. ``channels`` restricts routing to the given channels (``spine
    alerts channels test``); by default every enabled channel of the workspace is
    considered.
    ``listeners`` get ``alert.recorded`` in the same transaction. ``dedup``: the
    caller's own dedup key (default: :func:`~spine.alerting.routing.dedup_key`);
    outside the default workspace it is qualified by the workspace in
    ``core_alert_throttle``, keyed by the dedup key alone.

    Returns:
        The new alert's id.

    Raises:
        InvalidInput: If the severity is unknown, title, message or source is empty, or
            title, source or domain is longer than its column.
    """
    level = Severity.parse(severity)
    _check_text("title", title, required=True)
    _check_text("source", source, required=True)
    _check_text("domain", domain, required=False)
    if message is None:
        raise InvalidInput("an alert needs a message")
    conn = sql_connection(events_conn)
    if dedup is not None and not dedup.strip():
        raise InvalidInput("an alert's dedup_key may not be blank")
    check_lengths(core_alerts, {"dedup_key": dedup}, what="alert")
    key = dedup if dedup is not None else dedup_key(source, title, level, workspace_id)
    window_key = (
        dedup_key(dedup, "", "", workspace_id)
        if dedup is not None and workspace_id != DEFAULT_WORKSPACE_ID
        else key
    )
    alert_id = new_id()
    conn.execute(
        _INSERT_ALERT,
        {
            "id": alert_id,
            "severity": level.value,
            "title": title,
            "message": message,
            "source": source,
            "domain": domain,
            "execution_id": execution_id,
            "run_id": run_id,
            "metadata_json": dict(metadata) if metadata else None,
            "error_category": error_category,
            "created_at": now,
            "dedup_key": key,
            "capture_id": None,
            "workspace_id": workspace_id,
        },
    )
    candidates = channels if channels is not None else enabled_channels(conn, workspace_id)
    matched = route([c for c in candidates if c.workspace_id == workspace_id], level, domain)
    if listeners is not None and listeners.wanted(EventType.ALERT_RECORDED):
        # Published before the deliveries are written: a listener sees the alert, and
        # which channels it was routed to, not the throttle's verdict.
        event = Event(
            type=EventType.ALERT_RECORDED,
            subject_id=alert_id,
            at=now,
            payload={
                "severity": level.value,
                "title": title,
                "source": source,
                "domain": domain,
                "run_id": run_id,
                "execution_id": execution_id,
                "error_category": error_category,
                "dedup_key": key,
                "channels": [channel.name for channel in matched],
            },
            workspace_id=str(workspace_id),
        )
        listeners.publish(conn, event)
    if not matched:
        return alert_id
    rows = []
    any_sent = False
    for channel in matched:
        window = timedelta(minutes=channel.throttle_minutes)
        throttled = channel.throttle_minutes > 0 and _recently_sent(
            conn, key, channel, now - window, alert_id
        )
        any_sent = any_sent or not throttled
        rows.append(
            {
                "id": new_id(),
                "alert_id": alert_id,
                "channel_id": channel.id,
                "channel_name": channel.name,
                "status": (DeliveryStatus.THROTTLED if throttled else DeliveryStatus.PENDING).value,
                "attempt": 1,
                "next_retry_at": None if throttled else now,
                "error": "throttled: sent within the channel's throttle_minutes"
                if throttled
                else None,
            }
        )
    conn.execute(_INSERT_DELIVERY, rows)
    longest = timedelta(minutes=max(c.throttle_minutes for c in matched))
    _count_in_window(conn, window_key, now, longest, any_sent)
    return alert_id


def get_alert(conn: sa.Connection, workspace_id: uuid.UUID, alert_id: str) -> Alert | None:
    """The workspace's alert ``alert_id``, or ``None``."""
    if not is_ulid(alert_id):
        return None
    a = core_alerts
    row = conn.execute(
        sa.select(a).where(a.c.id == alert_id, a.c.workspace_id == workspace_id)
    ).first()
    return alert_from_row(row) if row else None


def alerts_by_id(conn: sa.Connection, ids: Sequence[str]) -> dict[str, Alert]:
    """The alerts with these ids."""
    if not ids:
        return {}
    rows = conn.execute(sa.select(core_alerts).where(core_alerts.c.id.in_(list(set(ids)))))
    return {row.id: alert_from_row(row) for row in rows}


def list_alerts(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    severity: Severity | None = None,
    since: datetime | None = None,
    source: str | None = None,
    domain: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The workspace's alerts newest first, as rows keyed by column name.

    ``severity``: that one only; ``before``: those after the (created_at, id) of a
    previous page.
    """
    a = core_alerts
    query = (
        sa.select(a)
        .where(a.c.workspace_id == workspace_id)
        .order_by(a.c.created_at.desc(), a.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        at, last_id = before
        query = query.where(
            sa.or_(a.c.created_at < at, sa.and_(a.c.created_at == at, a.c.id < last_id))
        )
    if domain is not None:
        query = query.where(a.c.domain == domain)
    if severity is not None:
        query = query.where(a.c.severity == severity.value)
    if since is not None:
        query = query.where(a.c.created_at >= since)
    if source is not None:
        query = query.where(a.c.source == source)
    else:
        # The messages that only carry webhook events are not alerts.
        query = query.where(a.c.source != WEBHOOK_SOURCE)
    return [dict(row._mapping) for row in conn.execute(query)]
