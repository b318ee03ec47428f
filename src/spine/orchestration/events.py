"""What orchestration publishes: the ``run.finished`` event (see :mod:`spine.core.events`)."""

from __future__ import annotations

from spine.core.events import Event, EventType
from spine.orchestration.history.types import WorkflowRun, WorkflowStatus


def run_finished(run: WorkflowRun) -> Event:
    """The ``run.finished`` event of ``run``, which reached COMPLETED, FAILED or CANCELLED.

    The subject is the run id. The payload holds the run's summary, not its params or
    outputs (which may be large): ``workflow_name``, ``status``, ``domain``,
    ``partition_key``, ``triggered_by``, ``schedule_id``, ``parent_run_id``, ``error``,
    ``error_category``, ``total_steps``, ``failed_steps``, ``created_at`` and
    ``completed_at`` (ISO-8601 UTC). The event's ``workspace_id`` is the run's.
    """
    completed = run.completed_at or run.created_at
    return Event(
        type=EventType.RUN_FINISHED,
        subject_id=run.run_id,
        at=completed,
        workspace_id=None if run.workspace_id is None else str(run.workspace_id),
        payload={
            "workflow_name": run.workflow_name,
            "status": WorkflowStatus(run.status).value,
            "domain": run.domain,
            "partition_key": run.partition_key,
            "triggered_by": run.triggered_by,
            "schedule_id": run.schedule_id,
            "parent_run_id": run.parent_run_id,
            "error": run.error,
            "error_category": run.error_category,
            "total_steps": run.total_steps,
            "failed_steps": run.failed_steps,
            "created_at": run.created_at.isoformat(),
            "completed_at": completed.isoformat(),
        },
    )
