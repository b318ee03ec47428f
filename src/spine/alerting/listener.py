"""Alerts raised by finished runs, written in the transaction that finishes the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spine.alerting.store import record_alert
from spine.core.clock import Clock
from spine.orchestration.history.types import WorkflowRun, WorkflowStatus

if TYPE_CHECKING:
    import sqlalchemy as sa


class FailedRunAlerts:
    """A :class:`~spine.orchestration.store.RunListener`: a FAILED run raises an ERROR alert.

    The alert's source is the workflow's name, with the run's domain, id and error
    category, so that channels route it by domain and throttle repeats of one failure.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def wants(self, run: WorkflowRun) -> bool:
        """Only FAILED runs raise an alert."""
        return WorkflowStatus(run.status) is WorkflowStatus.FAILED

    def run_finished(self, conn: sa.Connection, run: WorkflowRun) -> None:
        """Record the ERROR alert and its deliveries on ``conn``."""
        metadata = {
            "partition_key": run.partition_key,
            "triggered_by": run.triggered_by,
            "schedule_id": run.schedule_id,
            "failed_steps": run.failed_steps,
            "total_steps": run.total_steps,
        }
        record_alert(
            conn,
            self.clock.now(),
            severity="ERROR",
            title=f"Workflow {run.workflow_name} failed",
            message=run.error or f"run {run.run_id} of {run.workflow_name} failed",
            source=run.workflow_name,
            domain=run.domain,
            run_id=run.run_id,
            error_category=run.error_category,
            metadata={k: v for k, v in metadata.items() if v is not None},
        )
