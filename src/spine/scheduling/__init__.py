"""Schedules: cron, interval and one-off triggers, the scheduler loop, fire tracking.

See ``docs/scheduling.md`` for the semantics (Vixie cron, DST, catch-up, locks).
"""

from spine.scheduling.cron import (
    CronError,
    CronExpression,
    DstPolicy,
    FireOrderError,
    FoldRule,
    GapRule,
    next_fire_times,
)
from spine.scheduling.definitions import new_schedule, upcoming
from spine.scheduling.events import fire_event, fire_outcome
from spine.scheduling.models import (
    CatchUp,
    Schedule,
    ScheduleRun,
    ScheduleRunOutcome,
    ScheduleRunStatus,
    ScheduleType,
)
from spine.scheduling.scheduler import Scheduler
from spine.scheduling.store import ScheduleNotFound, ScheduleStore
from spine.scheduling.tracker import ScheduleRunTracker
from spine.scheduling.triggers import CronTrigger, DateTrigger, IntervalTrigger, Trigger

__all__ = [
    "CatchUp",
    "CronError",
    "CronExpression",
    "CronTrigger",
    "DateTrigger",
    "DstPolicy",
    "FireOrderError",
    "FoldRule",
    "GapRule",
    "IntervalTrigger",
    "Schedule",
    "ScheduleNotFound",
    "ScheduleRun",
    "ScheduleRunOutcome",
    "ScheduleRunStatus",
    "ScheduleRunTracker",
    "ScheduleStore",
    "ScheduleType",
    "Scheduler",
    "Trigger",
    "fire_event",
    "fire_outcome",
    "new_schedule",
    "next_fire_times",
    "upcoming",
]
