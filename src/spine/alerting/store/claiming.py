"""Which due deliveries a claim takes: fairly across channels, a few at a time per channel.

A channel whose endpoint never answers keeps each of its claimed deliveries in flight
until the send timeout. If a claim took due rows oldest first, such a channel's backlog
would fill every sending thread of every worker and hold up the deliveries to every
other channel. So a channel has at most ``DeliveryPolicy.channel_concurrency``
deliveries in flight at once (rows claimed, lease running, result not recorded yet),
counted in the database so that the cap holds across threads and processes, and a claim
hands out the free slots round-robin: first one delivery of each channel (the least
busy channels first), then a second of each, and so on.

Busy counts and candidates come from one statement (one snapshot), and the candidates
are then locked with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; on SQLite the write
transaction is the lock) with the due condition checked again: claims racing take
different rows among the same free slots of a channel, so they do not push it past its
cap.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.models import DeliveryStatus
from spine.core.storage.schema.alerting import core_alert_channels, core_alert_deliveries

d = core_alert_deliveries
ch = core_alert_channels
#: Due rows looked at per claim, at least: a claim ranks the oldest due rows of the
#: channels that have a free slot, not the whole backlog.
LOOKAHEAD = 200
#: Free slots offered to a claim beyond the ``limit`` it takes: claims racing for the
#: same first slot skip the rows the others locked and take the next free ones.
SPARE = 16


def _busy(now: datetime) -> Any:
    """Deliveries in flight per channel: claimed, lease running, not recorded yet."""
    return (
        sa.select(d.c.channel_id, sa.func.count().label("busy"))
        .where(
            d.c.status == DeliveryStatus.PENDING.value,
            d.c.attempted_at.is_not(None),
            d.c.next_retry_at > now,
        )
        .group_by(d.c.channel_id)
        .cte("busy")
    )


def fair_due_rows(
    conn: sa.Connection,
    now: datetime,
    *,
    limit: int,
    per_channel: int,
    blocked: Collection[str],
) -> list[Any]:
    """Lock and return up to ``limit`` due rows, at most ``per_channel`` in flight per channel.

    Rows are of enabled channels whose id is not in ``blocked`` (breakers), in slot order:
    a channel's first free slot before any channel's second. Rows another claim holds
    are skipped.
    """
    busy = _busy(now)
    used = sa.func.coalesce(busy.c.busy, 0)
    conditions = [
        d.c.status == DeliveryStatus.PENDING.value,
        d.c.next_retry_at <= now,
        ch.c.enabled.is_(True),
        used < per_channel,
    ]
    if blocked:
        conditions.append(ch.c.id.not_in(sorted(blocked)))
    due = (
        sa.select(d.c.id, d.c.channel_id, d.c.next_retry_at, used.label("used"))
        .join(ch, ch.c.id == d.c.channel_id)
        .outerjoin(busy, busy.c.channel_id == d.c.channel_id)
        .where(*conditions)
        .order_by(d.c.next_retry_at, d.c.id)
        .limit(max(LOOKAHEAD, limit * per_channel))
        .subquery("due")
    )
    rank = sa.func.row_number().over(
        partition_by=due.c.channel_id, order_by=(due.c.next_retry_at, due.c.id)
    )
    ranked = sa.select(due.c.id, due.c.next_retry_at, (rank + due.c.used).label("slot")).subquery(
        "ranked"
    )
    ids = [
        row.id
        for row in conn.execute(
            sa.select(ranked.c.id)
            .where(ranked.c.slot <= per_channel)
            .order_by(ranked.c.slot, ranked.c.next_retry_at, ranked.c.id)
            .limit(limit + SPARE)
        )
    ]
    if not ids:
        return []
    order = {delivery_id: i for i, delivery_id in enumerate(ids)}
    # Any of these rows keeps its channel within the cap (each is one of the channel's
    # free slots in one snapshot); LIMIT after SKIP LOCKED takes the first ones free.
    locked = conn.execute(
        sa.select(d)
        .join(ch, ch.c.id == d.c.channel_id)
        .where(
            d.c.id.in_(ids),
            d.c.status == DeliveryStatus.PENDING.value,
            d.c.next_retry_at <= now,
            ch.c.enabled.is_(True),
        )
        .order_by(sa.case(order, value=d.c.id))
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    ).all()
    return sorted(locked, key=lambda row: order[row.id])
