"""Spec 003 ``notification_deliveries``: one row per recipient and channel, and its sends.

The ``send_notification`` and ``send_email`` actions insert rows on the transaction that
keeps their result (:func:`insert_deliveries`); ``in_app`` rows are delivered at once,
the others wait (``pending``) for :class:`spine.automation.notifications.NotificationSender`,
which claims due rows (:meth:`DeliveryStore.claim`), sends them and records each outcome
(:meth:`DeliveryStore.record`). A claim moves ``next_attempt_at`` past a lease, so that
a sender that dies mid-send leaves the row to be claimed again, not lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import Channel
from spine.alerting.store.channels import get_channel
from spine.alerting.store.rows import channel_from_row
from spine.alerting.store.webhook_rows import channel_of, get_webhook
from spine.automation.models import DeliveryChannel, DeliveryStatus, NotificationDelivery
from spine.core.errors import NotFound
from spine.core.events import Connection as EventConnection
from spine.core.storage import Database, sql_connection
from spine.core.storage.schema.alerting import core_alert_channels as channels_t
from spine.core.storage.schema.automation import notification_deliveries as deliveries_t
from spine.core.storage.schema.automation import roles as roles_t
from spine.core.storage.schema.automation import user_roles as members_t
from spine.core.storage.schema.automation import users as users_t

__all__ = [
    "Claimed",
    "DeliveryStore",
    "NewDelivery",
    "channel_named",
    "first_channel_of_type",
    "insert_deliveries",
    "role_members",
    "webhook_channel",
]

#: Statuses the sender takes up.
DUE = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDelivery:
    """A delivery to insert: to whom, over what, and what to send (``payload``)."""

    recipient_id: str
    channel: DeliveryChannel
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """A delivery taken up for one attempt, with its payload."""

    delivery: NotificationDelivery
    payload: Mapping[str, Any]
    attempt: int


def role_members(conn: EventConnection, role_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """The users who hold ``role_id``: ``(id, email)`` by email."""
    sql = sql_connection(conn)
    rows = sql.execute(
        sa.select(users_t.c.id, users_t.c.email)
        .select_from(users_t.join(members_t, members_t.c.user_id == users_t.c.id))
        .join(roles_t, roles_t.c.id == members_t.c.role_id)
        .where(members_t.c.role_id == role_id)
        .order_by(users_t.c.email)
    )
    return [(uuid.UUID(str(r.id)), r.email) for r in rows]


def channel_named(conn: EventConnection, workspace_id: uuid.UUID, name: str) -> Channel:
    """The workspace's alert channel ``name`` (raises ``ChannelNotFound``)."""
    return get_channel(sql_connection(conn), workspace_id, name)


def first_channel_of_type(
    conn: EventConnection, workspace_id: uuid.UUID, channel_type: str
) -> Channel | None:
    """The workspace's first enabled channel of ``channel_type`` by name (not a webhook's)."""
    row = (
        sql_connection(conn)
        .execute(
            sa.select(channels_t)
            .where(
                channels_t.c.workspace_id == workspace_id,
                channels_t.c.channel_type == channel_type,
                channels_t.c.enabled.is_(True),
                channels_t.c.events.is_(None),
            )
            .order_by(channels_t.c.name)
            .limit(1)
        )
        .first()
    )
    return None if row is None else channel_from_row(row)


def webhook_channel(conn: EventConnection, workspace_id: uuid.UUID, name: str) -> Channel:
    """The alert channel that delivers the workspace's webhook ``name``.

    Raises:
        NotFound: If there is no such webhook, or it is disabled.
    """
    sql = sql_connection(conn)
    hook = get_webhook(sql, workspace_id, name)
    if not hook.enabled:
        raise NotFound(f"webhook {name!r} is disabled: `spine webhooks enable {name}`")
    return channel_of(sql, hook.channel_id)


def insert_deliveries(
    conn: EventConnection,
    *,
    workspace_id: uuid.UUID,
    notification_id: uuid.UUID,
    deliveries: Sequence[NewDelivery],
    now: datetime,
    execution_id: uuid.UUID | None,
    rule_id: uuid.UUID | None,
    action_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """Insert one row per delivery; ``in_app`` ones delivered at once. Returns their ids."""
    rows: list[dict[str, Any]] = []
    ids: list[uuid.UUID] = []
    for new in deliveries:
        ids.append(uuid.uuid4())
        in_app = new.channel is DeliveryChannel.IN_APP
        rows.append(
            {
                "id": ids[-1],
                "notification_id": notification_id,
                "automation_execution_id": execution_id,
                "rule_id": rule_id,
                "action_id": action_id,
                "recipient_id": new.recipient_id,
                "channel": new.channel.value,
                "status": (DeliveryStatus.DELIVERED if in_app else DeliveryStatus.PENDING).value,
                # Attempts made: an in-app notification is delivered by being written.
                "attempts": 1 if in_app else 0,
                "sent_at": now if in_app else None,
                "delivered_at": now if in_app else None,
                "created_date": now,
                "updated_date": now,
                "workspace_id": workspace_id,
                "payload": dict(new.payload),
                "next_attempt_at": None if in_app else now,
            }
        )
    if rows:
        sql_connection(conn).execute(sa.insert(deliveries_t), rows)
    return ids


class DeliveryStore:
    """Deliveries of every workspace, for the notification sender and for reading.

    Args:
        database: Spine's database.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """Take up to ``limit`` due deliveries, oldest first, for one attempt each.

        Each claimed row's ``next_attempt_at`` moves to ``now + lease`` and its
        ``attempts`` grows by one, in the claiming transaction: another sender skips it
        (PostgreSQL: ``FOR UPDATE SKIP LOCKED``), and one that died is retried later.
        """

        def work(conn: sa.Connection) -> list[Claimed]:
            d = deliveries_t
            query = (
                sa.select(d)
                .where(d.c.status.in_(DUE), d.c.next_attempt_at <= now)
                .order_by(d.c.next_attempt_at, d.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).mappings().all()
            claimed = []
            for row in rows:
                attempt = int(row["attempts"] or 0) + 1
                conn.execute(
                    sa.update(d)
                    .where(d.c.id == row["id"])
                    .values(attempts=attempt, next_attempt_at=now + lease, updated_date=now)
                )
                delivery = delivery_from_row({**row, "attempts": attempt, "updated_date": now})
                claimed.append(
                    Claimed(delivery=delivery, payload=dict(row["payload"] or {}), attempt=attempt)
                )
            return claimed

        return self.database.run_write(work)

    def record(
        self,
        delivery_id: uuid.UUID,
        attempt: int,
        *,
        status: DeliveryStatus,
        now: datetime,
        provider_response: Mapping[str, Any] | None = None,
        error_message: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record the outcome of attempt ``attempt``; ``False`` if the claim was lost."""
        values: dict[str, Any] = {
            "status": status.value,
            "updated_date": now,
            "provider_response": None if provider_response is None else dict(provider_response),
            "error_message": error_message,
            "next_attempt_at": next_attempt_at,
        }
        if status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
            values["sent_at"] = now
        if status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = now
        if status in (DeliveryStatus.FAILED, DeliveryStatus.BOUNCED):
            values["failed_at"] = now

        def work(conn: sa.Connection) -> bool:
            d = deliveries_t
            result = conn.execute(
                sa.update(d)
                .where(d.c.id == delivery_id, d.c.attempts == attempt, d.c.status.in_(DUE))
                .values(values)
            )
            return bool(result.rowcount)

        return self.database.run_write(work)

    def deliveries(
        self,
        *,
        workspace_id: uuid.UUID | None = None,
        execution_id: uuid.UUID | None = None,
        notification_id: uuid.UUID | None = None,
    ) -> list[NotificationDelivery]:
        """Deliveries, oldest first, filtered by workspace, execution or notification."""
        d = deliveries_t
        query = sa.select(d).order_by(d.c.created_date, d.c.recipient_id, d.c.channel)
        if workspace_id is not None:
            query = query.where(d.c.workspace_id == workspace_id)
        if execution_id is not None:
            query = query.where(d.c.automation_execution_id == execution_id)
        if notification_id is not None:
            query = query.where(d.c.notification_id == notification_id)
        rows = self.database.run_read(lambda conn: conn.execute(query).mappings().all())
        return [delivery_from_row(row) for row in rows]


def delivery_from_row(row: Mapping[Any, Any]) -> NotificationDelivery:
    """A :class:`NotificationDelivery` from its row."""
    return NotificationDelivery(
        id=row["id"],
        workspace_id=row["workspace_id"],
        notification_id=row["notification_id"],
        automation_execution_id=row["automation_execution_id"],
        rule_id=row["rule_id"],
        action_id=row["action_id"],
        recipient_id=row["recipient_id"],
        channel=DeliveryChannel(row["channel"]),
        status=DeliveryStatus(row["status"]),
        attempts=int(row["attempts"] or 0),
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        failed_at=row["failed_at"],
        error_message=row["error_message"],
        provider_response=row["provider_response"],
        created_date=row["created_date"],
        updated_date=row["updated_date"],
    )
