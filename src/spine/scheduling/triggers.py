"""When a schedule fires: cron, interval and one-off (date) triggers.

Every trigger answers one question, :meth:`Trigger.next_after`: the first fire time
strictly after an instant, in UTC, or ``None`` when it will not fire again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput
from spine.scheduling.cron import CronExpression, DstPolicy, FireOrderError, iter_fire_times, zone
from spine.scheduling.models import Schedule, ScheduleType


class Trigger(Protocol):
    """Computes fire times."""

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` (aware UTC), or ``None``."""
        ...

    def times_after(self, after: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``after``, ascending, aware UTC (may be endless)."""
        ...


@dataclass(frozen=True, slots=True)
class CronTrigger:
    """A cron expression on the wall clock of ``timezone``, with Vixie's DST rules."""

    expression: CronExpression
    timezone: str
    dst_policy: DstPolicy | None = None

    def times_after(self, after: datetime) -> Iterator[datetime]:
        """Fire times after ``after``, in UTC."""
        for instant in iter_fire_times(
            self.expression, zone(self.timezone), after, self.dst_policy
        ):
            yield instant.astimezone(UTC)

    def next_after(self, after: datetime) -> datetime | None:
        """The next fire time after ``after``, in UTC."""
        return next(self.times_after(after), None)


@dataclass(frozen=True, slots=True)
class IntervalTrigger:
    """Every ``seconds``, counted from ``anchor`` (elapsed time: DST does not matter)."""

    seconds: int
    anchor: datetime

    def next_after(self, after: datetime) -> datetime | None:
        """``anchor + k * seconds`` for the smallest k >= 1 that is after ``after``."""
        step = timedelta(seconds=self.seconds)
        k = max(1, (ensure_utc(after) - self.anchor) // step + 1)
        return self.anchor + k * step

    def times_after(self, after: datetime) -> Iterator[datetime]:
        """Every later fire time."""
        current = self.next_after(after)
        while current is not None:
            yield current
            current = self.next_after(current)


@dataclass(frozen=True, slots=True)
class DateTrigger:
    """Once, at ``run_at``."""

    run_at: datetime

    def next_after(self, after: datetime) -> datetime | None:
        """``run_at`` if it is after ``after``."""
        return self.run_at if self.run_at > ensure_utc(after) else None

    def times_after(self, after: datetime) -> Iterator[datetime]:
        """``run_at``, or nothing."""
        when = self.next_after(after)
        if when is not None:
            yield when


def trigger_for(schedule: Schedule) -> Trigger:
    """The trigger a stored schedule describes.

    Interval schedules count from their creation time.

    Raises:
        InvalidInput: If the row is inconsistent (say, a cron schedule with no expression).
    """
    if schedule.schedule_type is ScheduleType.CRON:
        if not schedule.cron_expression:
            raise InvalidInput(f"schedule {schedule.name!r} has no cron expression")
        return CronTrigger(
            CronExpression.parse(schedule.cron_expression),
            schedule.timezone,
            DstPolicy.parse(schedule.dst_policy),
        )
    if schedule.schedule_type is ScheduleType.INTERVAL:
        if not schedule.interval_seconds or schedule.interval_seconds < 1:
            raise InvalidInput(f"schedule {schedule.name!r} has no interval")
        return IntervalTrigger(schedule.interval_seconds, schedule.created_at)
    if schedule.run_at is None:
        raise InvalidInput(f"schedule {schedule.name!r} has no run_at")
    return DateTrigger(schedule.run_at)


def checked_next(trigger: Trigger, previous: datetime) -> datetime | None:
    """The fire time after ``previous``, refusing one that is not later (the guard).

    Raises:
        FireOrderError: If the trigger returns a time not after ``previous``.
    """
    following = trigger.next_after(previous)
    if following is not None and following <= previous:
        raise FireOrderError(previous, following)
    return following
