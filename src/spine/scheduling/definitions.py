"""Checking and building schedule definitions: what ``spine schedules add`` saves.

Everything is checked before anything is written: a bad expression, an unknown zone, a
one-off time in the past or an unknown workflow raise :class:`InvalidInput` (or
``WorkflowNotFound``) and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import Any

from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.core.ids import new_id
from spine.orchestration.registry import WorkflowRegistry
from spine.scheduling.cron import CronExpression, DstPolicy, zone
from spine.scheduling.models import CatchUp, Schedule, ScheduleType
from spine.scheduling.templates import compile_params
from spine.scheduling.triggers import trigger_for


def new_schedule(
    name: str,
    *,
    workflow: str,
    now: datetime,
    registry: WorkflowRegistry,
    cron: str | None = None,
    every: int | None = None,
    at: datetime | None = None,
    timezone: str = "UTC",
    params: Mapping[str, Any] | None = None,
    max_instances: int = 1,
    misfire_grace_seconds: int | None = None,
    catchup: str = "coalesce",
    dst_policy: DstPolicy | None = None,
    created_by: str | None = None,
) -> Schedule:
    """A checked, enabled schedule with its first ``next_run_at``.

    Exactly one of ``cron``, ``every`` (seconds) and ``at`` (a one-off time) is given.

    String params may be templates of the fire's logical time
    (``spine.scheduling.templates``), rendered for each fire.

    Raises:
        InvalidInput: If a value is malformed, the expression can never fire, the zone
            is unknown, ``at`` is not in the future, or a param template is malformed.
        WorkflowNotFound: If ``workflow`` is not in ``registry``.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("a schedule needs a name")
    if sum(x is not None for x in (cron, every, at)) != 1:
        raise InvalidInput("give exactly one of --cron, --every and --at")
    zone(timezone)
    if max_instances < 1:
        raise InvalidInput(f"--max-instances must be at least 1, not {max_instances}")
    if misfire_grace_seconds is not None and misfire_grace_seconds < 0:
        raise InvalidInput(f"--misfire-grace must not be negative, not {misfire_grace_seconds}")
    try:
        catchup_value = CatchUp(catchup.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown --catchup {catchup!r}: expected coalesce, all or none"
        ) from None
    compile_params(params or {})
    now = ensure_utc(now)
    kind = ScheduleType.CRON
    if cron is not None:
        CronExpression.parse(cron)
    elif every is not None:
        kind = ScheduleType.INTERVAL
        if every < 1:
            raise InvalidInput(f"--every must be at least 1 second, not {every}")
    else:
        assert at is not None
        kind = ScheduleType.DATE
        at = ensure_utc(at)
        if at <= now:
            raise InvalidInput(
                f"--at {at.isoformat()} is in the past (now {now.isoformat(timespec='seconds')})"
            )
    # Last: the expression and the zone are wrong whatever app is loaded.
    registry.get(workflow)
    schedule = Schedule(
        id=new_id(),
        name=name,
        target_name=workflow,
        params=dict(params or {}),
        schedule_type=kind,
        cron_expression=cron.strip() if cron is not None else None,
        interval_seconds=every,
        run_at=at,
        timezone=timezone.strip(),
        max_instances=max_instances,
        misfire_grace_seconds=misfire_grace_seconds,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        catchup=catchup_value,
        dst_policy=str(dst_policy) if dst_policy and str(dst_policy) else None,
    )
    return replace(schedule, next_run_at=trigger_for(schedule).next_after(now))


def upcoming(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of ``schedule`` after ``after``, in its zone.

    Raises:
        InvalidInput: If ``count`` is below 1.
    """
    if count < 1:
        raise InvalidInput(f"--count must be at least 1, not {count}")
    tz = zone(schedule.timezone)
    times = islice(trigger_for(schedule).times_after(ensure_utc(after)), count)
    return [t.astimezone(tz) for t in times]
