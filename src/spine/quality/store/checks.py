"""Check definitions and their schedules (one ``schedules`` row per scheduled check).

Functions on the connection of a transaction the store opened; ``workspace_id`` confines
every read and write to the actor's workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.quality.models import CheckDefinition
from spine.quality.store.rows import (
    check_from_row,
    check_query,
    checks_t,
    connections_t,
    jobs_t,
    parse_uuid,
    schedules_t,
)

#: ``next_fire(cron, zone, after)``: the first fire strictly after ``after`` (aware).
NextFire = Callable[[str, str, datetime], datetime]


def find(
    conn: sa.Connection, workspace_id: uuid.UUID, ref: str, *, lock: bool = False
) -> CheckDefinition | None:
    """The workspace's check whose id is ``ref``, else whose name is ``ref``."""
    if "\x00" in ref:  # no stored name holds NUL, and PostgreSQL refuses it in SQL
        return None
    as_id = parse_uuid(ref)
    keys: list[sa.ColumnElement[bool]] = []
    if as_id is not None:
        keys.append(checks_t.c.id == as_id)
    keys.append(checks_t.c.name == ref)
    for key in keys:
        query = check_query().where(checks_t.c.workspace_id == workspace_id, key)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update(of=checks_t)
        row = conn.execute(query).mappings().first()
        if row is not None:
            return check_from_row(row)
    return None


def listing(
    conn: sa.Connection,
    workspace_id: uuid.UUID,
    *,
    table: str | None = None,
    connection: str | None = None,
    tag: str | None = None,
    enabled: bool | None = None,
    after: str | None = None,
    limit: int | None = None,
    ids: list[uuid.UUID] | None = None,
) -> list[CheckDefinition]:
    """The workspace's checks, by name, filtered as asked.

    ``table`` matches ``TABLE`` or ``SCHEMA.TABLE``; ``tag`` is filtered in Python (tags
    are a JSON array on every database).
    """
    query = check_query().where(checks_t.c.workspace_id == workspace_id)
    if table is not None:
        schema, _, name = table.rpartition(".")
        query = query.where(checks_t.c.target_table == name)
        if schema:
            query = query.where(checks_t.c.target_schema == schema)
    if connection is not None:
        query = query.where(connections_t.c.name == connection)
    if enabled is not None:
        query = query.where(checks_t.c.enabled == enabled)
    if after is not None:
        query = query.where(checks_t.c.name > after)
    if ids is not None:
        query = query.where(checks_t.c.id.in_(ids))
    query = query.order_by(checks_t.c.name)
    if limit is not None and tag is None:
        query = query.limit(limit)
    found = [check_from_row(row) for row in conn.execute(query).mappings()]
    if tag is not None:
        found = [c for c in found if tag in c.tags]
        if limit is not None:
            found = found[:limit]
    return found


def name_taken(
    conn: sa.Connection, workspace_id: uuid.UUID, name: str, but: uuid.UUID | None = None
) -> bool:
    """Whether a check of the workspace (other than ``but``) is named ``name``."""
    query = sa.select(checks_t.c.id).where(
        checks_t.c.workspace_id == workspace_id, checks_t.c.name == name
    )
    if but is not None:
        query = query.where(checks_t.c.id != but)
    return conn.execute(query).first() is not None


def write_schedule(
    conn: sa.Connection,
    check: CheckDefinition,
    old: CheckDefinition | None,
    now: datetime,
    next_fire: NextFire,
) -> None:
    """Make the check's ``schedules`` row agree with its cron and zone.

    No cron: the row goes (its jobs keep their result, without the schedule link). A
    new or changed cron or zone: ``next_run_at`` is computed again from now.
    """
    had = old is not None and old.cron_expression is not None
    if check.cron_expression is None:
        if had:
            sid = sa.select(schedules_t.c.id).where(schedules_t.c.check_id == check.id)
            conn.execute(
                sa.update(jobs_t).where(jobs_t.c.schedule_id.in_(sid)).values(schedule_id=None)
            )
            conn.execute(sa.delete(schedules_t).where(schedules_t.c.check_id == check.id))
        return
    zone = check.timezone or "UTC"
    if (
        had
        and old is not None
        and (old.cron_expression, old.timezone)
        == (
            check.cron_expression,
            zone,
        )
    ):
        return
    values: dict[str, Any] = {
        "cron_expression": check.cron_expression,
        "timezone": zone,
        "enabled": True,
        "next_run_at": next_fire(check.cron_expression, zone, now),
        "updated_at": now,
    }
    if had:
        conn.execute(
            sa.update(schedules_t).where(schedules_t.c.check_id == check.id).values(values)
        )
    else:
        conn.execute(
            sa.insert(schedules_t).values(
                id=uuid.uuid4(), check_id=check.id, created_at=now, **values
            )
        )


def cancel_queued(conn: sa.Connection, check_id: uuid.UUID, now: datetime, why: str) -> int:
    """Cancel the check's queued jobs (it was disabled); return how many."""
    result = conn.execute(
        sa.update(jobs_t)
        .where(jobs_t.c.check_id == check_id, jobs_t.c.status == "queued")
        .values(status="cancelled", completed_at=now, error_message=why)
    )
    return result.rowcount
