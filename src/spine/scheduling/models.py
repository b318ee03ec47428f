"""Records of the scheduling part: schedules, their fires, and what a fire came to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from spine.core.workspaces import DEFAULT_WORKSPACE_ID


class ScheduleType(StrEnum):
    """``core_schedules.schedule_type``."""

    CRON = "cron"
    INTERVAL = "interval"
    DATE = "date"


class CatchUp(StrEnum):
    """What happens to fires that fell due while no scheduler ran (``catchup``)."""

    COALESCE = "coalesce"  # one run, for the latest missed time
    ALL = "all"  # one run per missed time (up to a limit)
    NONE = "none"  # missed fires are recorded MISSED, not run


class ScheduleRunStatus(StrEnum):
    """``core_schedule_runs.status``, spec 000's values."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    MISSED = "MISSED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A row of ``core_schedules``; times are aware UTC."""

    id: str
    name: str
    target_type: str = "workflow"
    target_name: str
    params: dict[str, Any] = field(default_factory=dict)
    schedule_type: ScheduleType
    cron_expression: str | None = None
    interval_seconds: int | None = None
    run_at: datetime | None = None
    timezone: str = "UTC"
    enabled: bool = True
    max_instances: int = 1
    misfire_grace_seconds: int | None = None
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None
    last_run_status: str | None = None
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    version: int = 1
    catchup: CatchUp = CatchUp.COALESCE
    dst_policy: str | None = None
    #: The workspace that owns the schedule; its fires' runs belong there too.
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID

    def to_dict(self) -> dict[str, Any]:
        """The row under the specification's column names (times as ISO-8601)."""
        return {
            "id": self.id,
            "name": self.name,
            "target_type": self.target_type,
            "target_name": self.target_name,
            "params": self.params,
            "schedule_type": self.schedule_type.value,
            "cron_expression": self.cron_expression,
            "interval_seconds": self.interval_seconds,
            "run_at": _iso(self.run_at),
            "timezone": self.timezone,
            "enabled": self.enabled,
            "max_instances": self.max_instances,
            "misfire_grace_seconds": self.misfire_grace_seconds,
            "last_run_at": _iso(self.last_run_at),
            "next_run_at": _iso(self.next_run_at),
            "last_run_status": self.last_run_status,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "created_by": self.created_by,
            "version": self.version,
            "catchup": self.catchup.value,
            "dst_policy": self.dst_policy,
            "workspace_id": str(self.workspace_id),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRun:
    """A row of ``core_schedule_runs``: one fire of a schedule."""

    id: str
    schedule_id: str
    schedule_name: str
    scheduled_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    status: ScheduleRunStatus
    run_id: str | None = None
    execution_id: str | None = None
    error: str | None = None
    skip_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row under the specification's column names."""
        return {
            "id": self.id,
            "schedule_id": self.schedule_id,
            "schedule_name": self.schedule_name,
            "scheduled_at": _iso(self.scheduled_at),
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "status": self.status.value,
            "run_id": self.run_id,
            "execution_id": self.execution_id,
            "error": self.error,
            "skip_reason": self.skip_reason,
        }


@dataclass(frozen=True, slots=True)
class ScheduleRunOutcome:
    """What one recorded fire came to (published as ``schedule.fire``, ``events.py``).

    ``status`` is ``"FAILED"``, ``"MISSED"``, ``"SKIPPED"`` or ``"COMPLETED"``;
    ``scheduled_at`` is aware UTC; ``reason`` says why it did not run or failed;
    ``workspace_id`` is the schedule's workspace (text), carried by ``schedule.fire``.
    """

    schedule_id: str
    schedule_name: str
    target_name: str
    scheduled_at: datetime
    status: str
    reason: str | None
    run_id: str | None
    workspace_id: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
