"""The workspace's delivery attempts, newest first: what the dashboard's alerts page lists.

Every attempt is its own ``core_alert_deliveries`` row (ULID ids, so id order is the
order they were made); they have no workspace column and are reached through their
alert. The listing walks the primary key backwards and stops at ``limit``.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts


def list_deliveries(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    channel_id: str | None,
    before: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Delivery attempts of the workspace's alerts, newest first, with their alert's title.

    Args:
        conn: A connection.
        workspace_id: Whose alerts.
        channel_id: Only this channel's attempts, if given.
        before: Continue after the attempt of this id.
        limit: At most this many rows.
    """
    d, a = core_alert_deliveries, core_alerts
    query = (
        sa.select(
            d,
            a.c.title.label("alert_title"),
            a.c.severity.label("alert_severity"),
        )
        .join(a, a.c.id == d.c.alert_id)
        .where(a.c.workspace_id == workspace_id)
    )
    if channel_id is not None:
        query = query.where(d.c.channel_id == channel_id)
    if before is not None:
        query = query.where(d.c.id < before)
    rows = conn.execute(query.order_by(d.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
