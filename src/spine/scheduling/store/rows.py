"""Schedule rows and the lock predicates that the store's queries share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.errors import NotFound
from spine.core.storage.schema.scheduler import core_schedule_locks as locks_t
from spine.core.storage.schema.scheduler import core_schedules as schedules_t
from spine.scheduling.models import (
    CatchUp,
    Schedule,
    ScheduleRun,
    ScheduleRunStatus,
    ScheduleType,
)

ACTIVE = (ScheduleRunStatus.PENDING.value, ScheduleRunStatus.RUNNING.value)

#: ``audit_log.entity_type`` of schedules.
ENTITY = "schedule"
#: Fields kept by the engine, not by users: left out of audit entries.
_BOOKKEEPING = frozenset(
    {"id", "workspace_id", "created_at", "updated_at", "version", "last_run_at",
     "last_run_status"}
)  # fmt: skip


class ScheduleNotFound(NotFound):
    """No schedule of the workspace has this name (or id).

    A schedule of another workspace is not found either, with the same message.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown schedule {name!r}")
        self.name = name


def lock_join() -> sa.ColumnElement[bool]:
    """Join a schedule to its lock row."""
    return locks_t.c.schedule_id == schedules_t.c.id


def free_for(owner: str, now: datetime) -> sa.ColumnElement[bool]:
    """A schedule ``owner`` may lock: no lock, an expired one, or its own."""
    return sa.or_(
        locks_t.c.schedule_id.is_(None), locks_t.c.expires_at < now, locks_t.c.locked_by == owner
    )


def schedule_values(schedule: Schedule) -> dict[str, Any]:
    """The ``core_schedules`` values of ``schedule`` (datetimes and ids kept as such)."""
    values = schedule.to_dict()
    for name in ("run_at", "last_run_at", "next_run_at", "created_at", "updated_at"):
        values[name] = getattr(schedule, name)
    values["workspace_id"] = schedule.workspace_id
    return values


def audited(schedule: Schedule | None) -> dict[str, Any] | None:
    """The fields of ``schedule`` an audit entry compares (its definition)."""
    if schedule is None:
        return None
    return {k: v for k, v in schedule.to_dict().items() if k not in _BOOKKEEPING}


def schedule_from_row(row: Any) -> Schedule:
    """A :class:`Schedule` from a ``core_schedules`` row mapping."""
    return Schedule(
        id=row["id"],
        name=row["name"],
        target_type=row["target_type"],
        target_name=row["target_name"],
        params=dict(row["params"] or {}),
        schedule_type=ScheduleType(row["schedule_type"]),
        cron_expression=row["cron_expression"],
        interval_seconds=row["interval_seconds"],
        run_at=row["run_at"],
        timezone=row["timezone"],
        enabled=bool(row["enabled"]),
        max_instances=row["max_instances"],
        misfire_grace_seconds=row["misfire_grace_seconds"],
        last_run_at=row["last_run_at"],
        next_run_at=row["next_run_at"],
        last_run_status=row["last_run_status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_by=row["created_by"],
        version=row["version"],
        catchup=CatchUp(row["catchup"]),
        dst_policy=row["dst_policy"],
        workspace_id=row["workspace_id"],
    )


def schedule_run_from_row(row: Any) -> ScheduleRun:
    """A :class:`ScheduleRun` from a ``core_schedule_runs`` row mapping."""
    return ScheduleRun(
        id=row["id"],
        schedule_id=row["schedule_id"],
        schedule_name=row["schedule_name"],
        scheduled_at=row["scheduled_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        status=ScheduleRunStatus(row["status"]),
        run_id=row["run_id"],
        execution_id=row["execution_id"],
        error=row["error"],
        skip_reason=row["skip_reason"],
    )
