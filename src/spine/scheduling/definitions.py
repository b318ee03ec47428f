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
    past_at: bool = False,
) -> Schedule:
    """A checked, enabled schedule with its first ``next_run_at``.

    Exactly one of ``cron``, ``every`` (seconds) and ``at`` (a one-off time) is given.

    String params may be templates of the fire's logical time
    (``spine.scheduling.templates``), rendered for each fire. ``past_at`` lets a
    one-off time be in the past (a revision that keeps a fired one-off's time).

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
        if at <= now and not past_at:
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


#: The fields of a schedule :func:`revise_schedule` changes (``core_schedules`` columns).
REVISABLE = frozenset(
    {
        "name",
        "target_name",
        "params",
        "cron_expression",
        "interval_seconds",
        "run_at",
        "timezone",
        "max_instances",
        "misfire_grace_seconds",
        "catchup",
        "dst_policy",
    }
)
_TRIGGER = ("cron_expression", "interval_seconds", "run_at")
_TIMING = frozenset({*_TRIGGER, "timezone", "dst_policy"})


def revise_schedule(
    old: Schedule,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    registry: WorkflowRegistry,
) -> Schedule:
    """``old`` with ``changes``, checked as :func:`new_schedule` checks a new one.

    ``changes`` are keyed by the column names of :data:`REVISABLE`.

    A change of trigger names one of ``cron_expression``, ``interval_seconds`` and
    ``run_at`` (non-null) and replaces the old trigger whole. When the timing changes,
    ``next_run_at`` is computed again from ``now`` (an interval still counts from the
    schedule's creation); a paused schedule stays paused.

    Raises:
        InvalidInput: If a field is not revisable or a value is malformed.
        WorkflowNotFound: If ``target_name`` is not in ``registry``.
    """
    unknown = sorted(set(changes) - REVISABLE)
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(unknown)} of a schedule")
    trigger = {k: changes[k] for k in _TRIGGER if k in changes}
    if trigger:
        if sum(v is not None for v in trigger.values()) != 1:
            raise InvalidInput("give exactly one of cron_expression, interval_seconds and run_at")
    else:
        trigger = {k: getattr(old, k) for k in _TRIGGER}

    def value(name: str) -> Any:
        return changes[name] if name in changes else getattr(old, name)

    policy = value("dst_policy")
    checked = new_schedule(
        value("name"),
        workflow=value("target_name"),
        now=now,
        registry=registry,
        cron=trigger.get("cron_expression"),
        every=trigger.get("interval_seconds"),
        at=trigger.get("run_at"),
        timezone=value("timezone"),
        params=value("params"),
        max_instances=value("max_instances"),
        misfire_grace_seconds=value("misfire_grace_seconds"),
        catchup=str(value("catchup")),
        dst_policy=policy if isinstance(policy, DstPolicy) else DstPolicy.parse(policy),
        past_at="run_at" not in changes,
    )
    revised = replace(
        checked,
        id=old.id,
        workspace_id=old.workspace_id,
        created_at=old.created_at,
        created_by=old.created_by,
        enabled=old.enabled,
        next_run_at=old.next_run_at,
    )
    if old.enabled and _TIMING & set(changes):
        revised = replace(revised, next_run_at=trigger_for(revised).next_after(now))
    return revised


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


#: The most times one preview lists.
MAX_PREVIEW = 1000


def preview_times(
    *,
    cron: str | None,
    every: int | None,
    at: datetime | None,
    timezone: str,
    dst_policy: str | None,
    after: datetime,
    count: int,
) -> list[datetime]:
    """The next ``count`` fire times of an unsaved trigger after ``after``, in its zone.

    An interval counts from ``after``, as a schedule saved then would.

    Raises:
        InvalidInput: If not exactly one trigger is given, a value is malformed, or
            ``count`` is not within 1 and :data:`MAX_PREVIEW`.
    """
    if not 1 <= count <= MAX_PREVIEW:
        raise InvalidInput(f"count must be within 1 and {MAX_PREVIEW}, not {count}")
    if sum(x is not None for x in (cron, every, at)) != 1:
        raise InvalidInput("give exactly one of cron_expression, interval_seconds and run_at")
    zone(timezone)
    after = ensure_utc(after)
    kind, seconds = ScheduleType.CRON, None
    if cron is not None:
        CronExpression.parse(cron)
    elif every is not None:
        if every < 1:
            raise InvalidInput(f"interval_seconds must be at least 1, not {every}")
        kind, seconds = ScheduleType.INTERVAL, every
    else:
        assert at is not None
        kind, at = ScheduleType.DATE, ensure_utc(at)
    draft = Schedule(
        id="",
        name="preview",
        target_name="",
        schedule_type=kind,
        cron_expression=cron,
        interval_seconds=seconds,
        run_at=at,
        timezone=timezone,
        created_at=after,
        updated_at=after,
        dst_policy=str(DstPolicy.parse(dst_policy) or "") or None,
    )
    try:
        return upcoming(draft, after, count)
    except OverflowError:
        raise InvalidInput("the fire times run past the year 9999") from None
