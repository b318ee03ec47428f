"""``audit_log``: one row per change, written on the connection of the change itself.

Every part's store calls :func:`record` inside the transaction that creates, updates or
deletes a workspace object, so that the change and its audit row commit or roll back
together (a refused or failed change writes nothing).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.storage.schema.dq_platform import audit_log as audit_t
from spine.tenancy.audit import Change, entity_uuid
from spine.tenancy.models import Actor, AuditAction, AuditEntry


def record(conn: sa.Connection, actor: Actor, change: Change, at: datetime) -> None:
    """Insert the audit row of ``change``, made by ``actor`` at ``at``, on ``conn``.

    Nothing is written for spine itself (:attr:`Actor.system`): its changes are
    recorded as history (run events, fires, deliveries), not as users' edits; nor for an
    update that changed no field.
    """
    if actor.system:
        return
    if change.action is AuditAction.UPDATE and not change.changes:
        return  # an update that changed no field (pausing a paused schedule) is no change
    conn.execute(
        sa.insert(audit_t).values(
            workspace_id=actor.workspace_id,
            entity_type=change.entity_type,
            entity_id=entity_uuid(change.entity_id),
            action=change.action.value,
            api_key_id=actor.api_key_id,
            changes=dict(change.changes),
            created_at=at,
        )
    )


def entries(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """The workspace's audit entries, newest first, filtered as asked.

    ``before_id`` continues a listing after its last entry (a cursor).
    """
    query = sa.select(audit_t).where(audit_t.c.workspace_id == workspace_id)
    if entity_type is not None:
        query = query.where(audit_t.c.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(audit_t.c.entity_id == entity_id)
    if action is not None:
        query = query.where(audit_t.c.action == action.value)
    if since is not None:
        query = query.where(audit_t.c.created_at >= since)
    if before_id is not None:
        query = query.where(audit_t.c.id < before_id)
    rows = conn.execute(query.order_by(audit_t.c.id.desc()).limit(limit)).mappings()
    return [_entry(row) for row in rows]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        workspace_id=row["workspace_id"],
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        action=AuditAction(row["action"]),
        api_key_id=row["api_key_id"],
        changes=row["changes"],
        created_at=row["created_at"],
    )
