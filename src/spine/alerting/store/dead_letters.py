"""Dead letters of alert deliveries: a delivery whose attempts are used up.

A dead letter (``dead_letter_queue``, ``source_type`` :data:`DLQ_SOURCE_TYPE`) names its
delivery by ``source_id`` ``<alert id>:<channel id>`` (:func:`source_id`). It has no
workspace of its own: it is its alert's. ``spine alerts dlq retry`` starts a new round of
attempts (:func:`spine.alerting.store.deliveries.retry_dead_letter`), which
:func:`round_start` counts from; ``resolve`` closes it by hand.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.alerting.bounds import ERROR_STORED
from spine.alerting.models import DLQ_SOURCE_TYPE, DeliveryPolicy, DlqStatus
from spine.alerting.store.rows import is_ulid
from spine.core.errors import Conflict, NotFound
from spine.core.ids import new_id
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.core.storage.schema.resilience import dead_letter_queue

d = core_alert_deliveries
dlq = dead_letter_queue


def source_id(alert_id: str, channel_id: str) -> str:
    """``dead_letter_queue.source_id`` of an alert's delivery to a channel."""
    return f"{alert_id}:{channel_id}"


def round_start(conn: sa.Connection, alert_id: str, channel_id: str) -> int:
    """The first attempt of the current round (after a ``dlq retry``, its new attempt)."""
    row = conn.execute(
        sa.select(dlq.c.metadata).where(
            dlq.c.source_type == DLQ_SOURCE_TYPE,
            dlq.c.source_id == source_id(alert_id, channel_id),
            dlq.c.status == DlqStatus.RETRYING.value,
        )
    ).first()
    if row is None or not row.metadata:
        return 1
    return int(row.metadata.get("resume_attempt", 1))


def dead_letter_delivery(
    conn: sa.Connection,
    now: datetime,
    row: Any,
    error: str,
    category: str,
    policy: DeliveryPolicy,
) -> None:
    """Put the delivery of ``row`` (its last failed attempt) in ``dead_letter_queue``.

    A dead letter of the delivery that is not resolved yet is updated (PENDING again, or
    EXHAUSTED once its retries are used up); otherwise a new one is inserted.
    """
    key = source_id(row.alert_id, row.channel_id)
    payload = {
        "alert_id": row.alert_id,
        "channel_id": row.channel_id,
        "channel_name": row.channel_name,
        "delivery_id": row.id,
        "attempt": int(row.attempt),
    }
    existing = conn.execute(
        sa.select(dlq).where(
            dlq.c.source_type == DLQ_SOURCE_TYPE,
            dlq.c.source_id == key,
            dlq.c.status != DlqStatus.RESOLVED.value,
        )
    ).first()
    if existing is not None:
        exhausted = int(existing.retry_count or 0) >= int(existing.max_retries or 0)
        conn.execute(
            sa.update(dlq)
            .where(dlq.c.dlq_id == existing.dlq_id)
            .values(
                payload=payload,
                error=error[:ERROR_STORED],
                error_category=category,
                last_failed_at=now,
                next_retry_at=None,
                status=(DlqStatus.EXHAUSTED if exhausted else DlqStatus.PENDING).value,
            )
        )
        return
    first = conn.execute(
        sa.select(sa.func.min(d.c.attempted_at)).where(
            d.c.alert_id == row.alert_id, d.c.channel_id == row.channel_id
        )
    ).scalar()
    conn.execute(
        sa.insert(dlq).values(
            dlq_id=new_id(),
            source_type=DLQ_SOURCE_TYPE,
            source_id=key,
            payload=payload,
            error=error[:ERROR_STORED],
            error_category=category,
            retry_count=0,
            max_retries=3,
            first_failed_at=first or now,
            last_failed_at=now,
            status=DlqStatus.PENDING.value,
            metadata={"attempts": int(row.attempt), "max_attempts": policy.max_attempts},
        )
    )


def _of_workspace(workspace_id: uuid.UUID) -> Any:
    """Dead letters of alert deliveries whose alert is of ``workspace_id``.

    A dead letter has no workspace of its own: its ``source_id`` starts with its
    alert's id (:func:`source_id`), and the alert has one.
    """
    a = core_alerts
    alert_ids = sa.select(a.c.id).where(a.c.workspace_id == workspace_id)
    return sa.and_(
        dlq.c.source_type == DLQ_SOURCE_TYPE,
        sa.func.substr(dlq.c.source_id, 1, 26).in_(alert_ids),
    )


def dead_letter(
    conn: sa.Connection, workspace_id: uuid.UUID, dlq_id: str, *, for_update: bool = False
) -> Any:
    """The workspace's dead letter ``dlq_id`` (a row).

    Raises:
        NotFound: If the workspace has none (another workspace's is none either).
    """
    entry = None
    if is_ulid(dlq_id):
        query = sa.select(dlq).where(dlq.c.dlq_id == dlq_id, _of_workspace(workspace_id))
        entry = conn.execute(query.with_for_update(of=dlq) if for_update else query).first()
    if entry is None:
        raise NotFound(f"no dead letter {dlq_id!r}")
    return entry


def resolve_dead_letter(
    conn: sa.Connection, now: datetime, workspace_id: uuid.UUID, dlq_id: str
) -> None:
    """Mark a dead letter resolved (handled by hand; it is not retried).

    Raises:
        NotFound: If the workspace has no such dead letter.
        Conflict: If it is already resolved.
    """
    entry = dead_letter(conn, workspace_id, dlq_id, for_update=True)
    if entry.status == DlqStatus.RESOLVED.value:
        raise Conflict(f"dead letter {dlq_id} is already resolved")
    conn.execute(
        sa.update(dlq)
        .where(dlq.c.dlq_id == dlq_id)
        .values(status=DlqStatus.RESOLVED.value, resolved_at=now, next_retry_at=None)
    )


def list_dead_letters(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    status: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The workspace's dead letters of alert deliveries, newest failure first.

    ``before``: those after the (last_failed_at, dlq_id) of a previous page.
    """
    query = (
        sa.select(dlq)
        .where(_of_workspace(workspace_id))
        .order_by(dlq.c.last_failed_at.desc(), dlq.c.dlq_id.desc())
    )
    if before is not None:
        at, last_id = before
        query = query.where(
            sa.or_(
                dlq.c.last_failed_at < at,
                sa.and_(dlq.c.last_failed_at == at, dlq.c.dlq_id < last_id),
            )
        )
    if limit is not None:
        query = query.limit(limit)
    if status is not None:
        query = query.where(dlq.c.status == status)
    return [dict(r._mapping) for r in conn.execute(query)]
