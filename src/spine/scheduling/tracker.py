"""Keeps a fire's status in step with the workflow run it started.

:class:`ScheduleRunTracker` is a run listener (``spine.orchestration.store``): inside
the transaction that finishes a run started by a schedule, it records the fire
COMPLETED or FAILED (a CANCELLED run is a FAILED fire, error ``cancelled``), sets the
schedule's ``last_run_status``, and calls the hooks for a FAILED one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spine.orchestration.history.types import WorkflowRun, WorkflowStatus
from spine.scheduling.models import ScheduleRunHook, ScheduleRunStatus
from spine.scheduling.store import ScheduleStore, call_hooks

if TYPE_CHECKING:
    import sqlalchemy as sa


class ScheduleRunTracker:
    """A :class:`~spine.orchestration.store.RunListener` for runs that schedules started.

    Args:
        hooks: Called, in the same transaction, for each fire recorded FAILED.
    """

    def __init__(self, hooks: Sequence[ScheduleRunHook] = ()) -> None:
        self.hooks = tuple(hooks)

    def wants(self, run: WorkflowRun) -> bool:
        """Only runs that a schedule started."""
        return run.schedule_id is not None

    def run_finished(self, conn: sa.Connection, run: WorkflowRun) -> None:
        """Record the end of the fire that started ``run``."""
        if run.status is WorkflowStatus.COMPLETED:
            status, error = ScheduleRunStatus.COMPLETED, None
        elif run.status is WorkflowStatus.CANCELLED:
            status, error = ScheduleRunStatus.FAILED, "cancelled"
        else:
            status, error = ScheduleRunStatus.FAILED, run.error or "failed"
        completed_at = run.completed_at or run.created_at
        outcome = ScheduleStore.finish_for_run(conn, run.run_id, status, error, completed_at)
        if outcome is not None and status is ScheduleRunStatus.FAILED:
            call_hooks(conn, outcome, self.hooks)
