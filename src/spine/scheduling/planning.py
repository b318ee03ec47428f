"""What a due schedule records: its fires after downtime, late ones, and its next time.

Pure functions of a schedule, its trigger and the time; the store writes the result.

- ``coalesce`` (default): the fires that fell due since ``next_run_at`` become one
  fire, at the latest of them.
- ``all``: each becomes a fire (the latest ``catchup_limit`` of them).
- ``none``: missed fires are not run: the latest is recorded MISSED, unless it is on
  time (within the misfire grace, or :data:`ON_TIME_SECONDS` when the schedule has none).

Whatever the policy, a fire later than ``misfire_grace_seconds`` is recorded MISSED
with the reason; without a grace any lateness is allowed (``coalesce``, ``all``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from spine.scheduling.cron import FireOrderError
from spine.scheduling.models import CatchUp, Schedule
from spine.scheduling.store import FirePlan, PlannedFire
from spine.scheduling.triggers import Trigger

#: With ``catchup = none`` and no misfire grace, a fire this late counts as missed.
ON_TIME_SECONDS = 60


def plan_fires(
    schedule: Schedule, trigger: Trigger, now: datetime, *, catchup_limit: int = 100
) -> FirePlan:
    """The fires to record for ``schedule``, due at ``now``, and its next fire time.

    Raises:
        FireOrderError: If the trigger yields a time not after the one before it.
    """
    first = schedule.next_run_at
    if first is None or first > now:
        return FirePlan(schedule=schedule, fires=(), next_run_at=first)
    keep = catchup_limit if schedule.catchup is CatchUp.ALL else 1
    due: deque[datetime] = deque([first], maxlen=max(1, keep))
    following: datetime | None = None
    previous = first
    for when in trigger.times_after(first):
        if when <= previous:
            raise FireOrderError(previous, when)
        previous = when
        if when > now:
            following = when
            break
        due.append(when)
    grace = schedule.misfire_grace_seconds
    fires: list[PlannedFire] = []
    for when in due:
        late = (now - when).total_seconds()
        reason: str | None = None
        if grace is not None and late > grace:
            reason = f"fired {late:.1f} s late; misfire grace is {grace} s"
        elif schedule.catchup is CatchUp.NONE and late > (grace or ON_TIME_SECONDS):
            reason = f"missed while no scheduler ran ({late:.1f} s late; catchup=none)"
        fires.append(PlannedFire(when, reason))
    return FirePlan(schedule=schedule, fires=tuple(fires), next_run_at=following)
