"""Alerting reacting to other parts' events, in the transaction that publishes them.

Two adapters (``spine.core.events`` listeners) that :mod:`spine.bootstrap` wires: a
FAILED run raises an ERROR alert, and a schedule fire that was MISSED or whose run
FAILED raises a WARNING. They read only the event's payload: scheduling sits on
alerting's layer, and parts on one layer do not import each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from spine.alerting.store import record_alert
from spine.core.clock import Clock
from spine.core.events import Connection, Event, EventType, Listener, Publisher
from spine.orchestration.errors import WorkflowNotFound
from spine.orchestration.registry import WorkflowRegistry
from spine.tenancy import Actor


def workspace_of(event: Event) -> uuid.UUID:
    """The workspace an event's alert is recorded in: the event's, else the default.

    Spine itself acts there, so nothing is audited.
    """
    return Actor.system_in(event.workspace_id).workspace_id


class FailedRunAlerts:
    """Reacts to ``run.finished``: a FAILED run raises an ERROR alert.

    The alert's source is the workflow's name, with the run's domain, id and error
    category, so that channels route it by domain and throttle repeats of one failure.

    Args:
        clock: When the alert is recorded.
        listeners: Get ``alert.recorded`` for the alert, in the same transaction.
    """

    event_types = frozenset({EventType.RUN_FINISHED})

    def __init__(self, clock: Clock, listeners: Sequence[Listener] = ()) -> None:
        self.clock = clock
        self.listeners = Publisher(listeners)

    def wants(self, event: Event) -> bool:
        """Only FAILED runs raise an alert."""
        return event.payload.get("status") == "FAILED"

    def handle(self, conn: Connection, event: Event) -> None:
        """Record the ERROR alert and its deliveries on ``conn``."""
        run = event.payload
        metadata = {
            "partition_key": run.get("partition_key"),
            "triggered_by": run.get("triggered_by"),
            "schedule_id": run.get("schedule_id"),
            "failed_steps": run.get("failed_steps"),
            "total_steps": run.get("total_steps"),
        }
        workflow = run["workflow_name"]
        record_alert(
            conn,
            self.clock.now(),
            workspace_id=workspace_of(event),
            severity="ERROR",
            title=f"Workflow {workflow} failed",
            message=run.get("error") or f"run {event.subject_id} of {workflow} failed",
            source=workflow,
            domain=run.get("domain"),
            run_id=event.subject_id,
            error_category=run.get("error_category"),
            metadata={k: v for k, v in metadata.items() if v is not None},
            listeners=self.listeners,
        )


class ScheduleFireAlerts:
    """Reacts to ``schedule.fire``: a fire MISSED, or whose run FAILED, raises a WARNING.

    The alert's source is the schedule's name and its domain the target workflow's (from
    ``registry``), so that channels route it like the workflow's own alerts; a FAILED
    run also raises its ERROR alert (:class:`FailedRunAlerts`).

    Args:
        clock: When the alert is recorded.
        registry: The registered workflows, for the target's domain.
        listeners: Get ``alert.recorded`` for the alert, in the same transaction.
    """

    event_types = frozenset({EventType.SCHEDULE_FIRE})

    def __init__(
        self, clock: Clock, registry: WorkflowRegistry, listeners: Sequence[Listener] = ()
    ) -> None:
        self.clock = clock
        self.registry = registry
        self.listeners = Publisher(listeners)

    def wants(self, event: Event) -> bool:
        """Only MISSED and FAILED fires raise an alert."""
        return event.payload.get("status") in ("MISSED", "FAILED")

    def handle(self, conn: Connection, event: Event) -> None:
        """Record the WARNING alert and its deliveries on ``conn``."""
        fire = event.payload
        status: str = fire["status"]
        target: str = fire["target_name"]
        try:
            domain = self.registry.get(target).domain
        except WorkflowNotFound:
            domain = None
        when: str = fire["scheduled_at"]
        record_alert(
            conn,
            self.clock.now(),
            workspace_id=workspace_of(event),
            severity="WARNING",
            title=f"Schedule {fire['schedule_name']} {status.lower()}",
            message=fire.get("reason") or f"the fire of {when} was {status.lower()}",
            source=fire["schedule_name"],
            domain=domain,
            run_id=fire.get("run_id"),
            metadata={
                "schedule_id": event.subject_id,
                "workflow": target,
                "scheduled_at": when,
                "status": status,
            },
            listeners=self.listeners,
        )
