"""What scheduling publishes: the ``schedule.fire`` event (see :mod:`spine.core.events`)."""

from __future__ import annotations

from datetime import datetime

from spine.core.events import Event, EventType
from spine.scheduling.models import ScheduleRunOutcome

#: The fire statuses published: a fire that will not run (MISSED, FAILED when recorded)
#: or whose run ended (COMPLETED, FAILED). RUNNING and SKIPPED fires are not published.
PUBLISHED = frozenset({"MISSED", "FAILED", "COMPLETED"})


def fire_event(outcome: ScheduleRunOutcome, at: datetime) -> Event:
    """The ``schedule.fire`` event of ``outcome``, recorded at ``at``.

    The subject is the schedule id. The payload: ``schedule_name``, ``target_name`` (the
    workflow), ``scheduled_at`` (ISO-8601 UTC), ``status`` (MISSED, FAILED or COMPLETED),
    ``reason`` (why it did not run or failed, or ``None``) and ``run_id`` (or ``None``).
    The event's ``workspace_id`` is the schedule's.
    """
    return Event(
        type=EventType.SCHEDULE_FIRE,
        subject_id=outcome.schedule_id,
        at=at,
        payload={
            "schedule_name": outcome.schedule_name,
            "target_name": outcome.target_name,
            "scheduled_at": outcome.scheduled_at.isoformat(),
            "status": outcome.status,
            "reason": outcome.reason,
            "run_id": outcome.run_id,
        },
        workspace_id=outcome.workspace_id,
    )


def fire_outcome(event: Event) -> ScheduleRunOutcome:
    """The outcome a ``schedule.fire`` event carries (the inverse of :func:`fire_event`)."""
    payload = event.payload
    return ScheduleRunOutcome(
        schedule_id=event.subject_id,
        schedule_name=payload["schedule_name"],
        target_name=payload["target_name"],
        scheduled_at=datetime.fromisoformat(payload["scheduled_at"]),
        status=payload["status"],
        reason=payload["reason"],
        run_id=payload["run_id"],
        workspace_id=event.workspace_id,
    )
