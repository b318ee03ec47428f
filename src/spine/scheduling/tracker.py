"""Keeps a fire's status in step with the workflow run it started.

:class:`ScheduleRunTracker` is scheduling's listener for ``run.finished``
(``spine.core.events``): inside the transaction that finishes a run started by a
schedule, it records the fire COMPLETED or FAILED (a CANCELLED run is a FAILED fire,
error ``cancelled``), sets the schedule's ``last_run_status``, and publishes
``schedule.fire`` for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from spine.core.events import Connection, Event, EventType, Listener, Publisher
from spine.orchestration.history.types import WorkflowStatus
from spine.scheduling.events import fire_event
from spine.scheduling.models import ScheduleRunStatus
from spine.scheduling.store import ScheduleStore


class ScheduleRunTracker:
    """Scheduling reacting to ``run.finished`` for runs that schedules started.

    Args:
        listeners: Get ``schedule.fire`` for each fire recorded COMPLETED or FAILED, in
            the same transaction.
    """

    event_types = frozenset({EventType.RUN_FINISHED})

    def __init__(self, listeners: Sequence[Listener] = ()) -> None:
        self.listeners = Publisher(listeners)

    def wants(self, event: Event) -> bool:
        """Only runs that a schedule started."""
        return event.payload.get("schedule_id") is not None

    def handle(self, conn: Connection, event: Event) -> None:
        """Record the end of the fire that started the run, and publish it."""
        run_status = event.payload["status"]
        if run_status == WorkflowStatus.COMPLETED:
            status, error = ScheduleRunStatus.COMPLETED, None
        elif run_status == WorkflowStatus.CANCELLED:
            status, error = ScheduleRunStatus.FAILED, "cancelled"
        else:
            status, error = ScheduleRunStatus.FAILED, event.payload.get("error") or "failed"
        completed_at = datetime.fromisoformat(event.payload["completed_at"])
        outcome = ScheduleStore.finish_for_run(conn, event.subject_id, status, error, completed_at)
        if outcome is not None and self.listeners.wanted(EventType.SCHEDULE_FIRE):
            self.listeners.publish(conn, fire_event(outcome, completed_at))
