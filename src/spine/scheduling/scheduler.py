"""The scheduler loop: acquire due schedules, record their fires, sleep until the next.

The scheduler only dispatches: each fire creates a PENDING workflow run
(``triggered_by = "schedule"``) that workers (``spine worker``) execute. Any number of
schedulers may share a database (see :mod:`spine.scheduling.store` for why none fires a
schedule twice). Between ticks it sleeps until the earliest ``next_run_at``, but never
longer than ``max_sleep_seconds``, so that a schedule added or changed by another
process is noticed within that time. While the database is unavailable or locked it
backs off and tries again (:class:`~spine.core.storage.outage.DatabaseWait`), logging
the outage once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from spine.core.clock import Clock
from spine.core.errors import TierNotInstalled
from spine.core.ids import new_id
from spine.core.storage.outage import DatabaseWait, is_outage
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.runner import WorkflowRunner
from spine.scheduling.cron import FireOrderError
from spine.scheduling.data_runs import new_schedule_run
from spine.scheduling.models import Schedule, ScheduleRunOutcome
from spine.scheduling.planning import plan_fires
from spine.scheduling.store import FirePlan, PlannedFire, ScheduleStore
from spine.scheduling.triggers import trigger_for

log = logging.getLogger(__name__)


def scheduler_identity() -> str:
    """``host:pid:random``, written into ``core_schedule_locks.locked_by``."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"


class Scheduler:
    """Fires due schedules.

    Args:
        store: Schedules, fires and locks.
        runner: Builds the workflow runs of fires (its registry says which workflows
            exist); workers execute them.
        clock: Time source (default: the store's, the database's clock in production).
        lock_seconds: How long an acquired schedule stays locked; a dead scheduler's
            schedules are taken over after this long.
        max_sleep_seconds: Longest sleep between looks at the database.
        batch_size: Schedules acquired and fired per transaction.
        catchup_limit: Most fires recorded for one schedule with ``catchup = all``.
        scheduler_id: Identity in locks (default :func:`scheduler_identity`).
        extra_ticks: Other parts' work on each pass (bootstrap wires the quality part's
            check schedules): each is called after the workflow fires and returns when
            it next needs a pass (``None``: nothing pending), which shortens the sleep.
    """

    def __init__(
        self,
        store: ScheduleStore,
        runner: WorkflowRunner,
        *,
        clock: Clock | None = None,
        lock_seconds: float = 30.0,
        max_sleep_seconds: float = 1.0,
        batch_size: int = 200,
        catchup_limit: int = 100,
        scheduler_id: str | None = None,
        extra_ticks: Sequence[Callable[[], datetime | None]] = (),
    ) -> None:
        self.store = store
        self.runner = runner
        self.clock: Clock = clock or store.clock
        self.lock_seconds = lock_seconds
        self.max_sleep_seconds = max_sleep_seconds
        self.batch_size = batch_size
        self.catchup_limit = catchup_limit
        self.scheduler_id = scheduler_id or scheduler_identity()
        self.extra_ticks = tuple(extra_ticks)
        self._extra_wake: datetime | None = None
        self.stop_event = threading.Event()
        self.database_wait = DatabaseWait("scheduler", logger=log)

    def stop(self) -> None:
        """Stop after the current tick."""
        self.stop_event.set()

    def tick(self) -> list[ScheduleRunOutcome]:
        """Fire everything due now, batch after batch; return what was recorded."""
        outcomes: list[ScheduleRunOutcome] = []
        targets = self.runner.workflows.names()
        while not self.stop_event.is_set():
            now = self.clock.now()
            acquired = self.store.acquire_due(
                self.scheduler_id,
                until=now + timedelta(seconds=self.lock_seconds),
                limit=self.batch_size,
                targets=targets,
            )
            if not acquired:
                break
            plans = [self._plan(schedule, now) for schedule in acquired]
            outcomes.extend(self.store.record_fires(self.scheduler_id, plans, self._make_run))
            if len(acquired) < self.batch_size:
                break
        return outcomes

    def run(self, *, once: bool = False) -> int:
        """Tick until stopped (with ``once``: one tick); return the fires recorded.

        Raises:
            TierNotInstalled: If ``core_schedule_locks`` (advanced tier) is missing.
        """
        installed = (
            self.store.locks_installed()
            if once
            else self.database_wait.call(self.store.locks_installed, self.stop_event)
        )
        if installed is None:  # stopped while waiting for the database
            return 0
        if not installed:
            raise TierNotInstalled("the scheduler", "advanced")
        targets = self.runner.workflows.names()
        if not targets:
            log.warning("no workflow is registered (pass --app or set SPINE_APP): nothing fires")
        fired = 0
        while not self.stop_event.is_set():
            try:
                fired += len(self.tick())
                self._extra_wake = self.tick_extras()
                if once:
                    break
                wait = self.sleep_seconds(targets)
            except Exception as error:
                # The database is unreachable or locked, or a COMMIT's outcome is unknown:
                # the next tick reads the schedules back, so a fire that was committed is
                # not fired again and one that was not is fired then.
                if not is_outage(error):
                    raise
                wait = self.database_wait.failed(error)
                if once:
                    break
            else:
                self.database_wait.succeeded()
            self.stop_event.wait(wait)
        return fired

    def tick_extras(self) -> datetime | None:
        """Run the :attr:`extra_ticks`; return the earliest time one needs a pass.

        A hook that fails (other than the database being out) is logged and skipped:
        the workflow schedules still fire.
        """
        wakes: list[datetime] = []
        for extra in self.extra_ticks:
            try:
                wake = extra()
            except Exception as error:
                if is_outage(error):
                    raise
                log.exception("scheduler hook %r failed", extra)
                continue
            if wake is not None:
                wakes.append(wake)
        return min(wakes, default=None)

    def sleep_seconds(self, targets: Sequence[str] | None = None) -> float:
        """How long to sleep: until the next due time, at most ``max_sleep_seconds``."""
        wake = self.store.next_due(self.scheduler_id, targets)
        if self._extra_wake is not None and (wake is None or self._extra_wake < wake):
            wake = self._extra_wake
        if wake is None:
            return self.max_sleep_seconds
        delay = (wake - self.clock.now()).total_seconds()
        # A floor, so that a schedule that cannot be fired yet does not spin the loop.
        return max(0.01, min(self.max_sleep_seconds, delay))

    def _plan(self, schedule: Schedule, now: datetime) -> FirePlan:
        try:
            return plan_fires(
                schedule, trigger_for(schedule), now, catchup_limit=self.catchup_limit
            )
        except (FireOrderError, ValueError) as error:
            # Refused, never run: the schedule stops with the reason on record.
            log.error("schedule %s stopped: %s", schedule.name, error)
            assert schedule.next_run_at is not None
            fire = PlannedFire(schedule.next_run_at, f"schedule stopped: {error}")
            return FirePlan(schedule=schedule, fires=(fire,), next_run_at=None)

    def _make_run(self, schedule: Schedule, scheduled_at: datetime) -> WorkflowRun:
        # The run is for the fire's logical time: its data interval, the params rendered
        # for it, and the key that makes one run per schedule and logical time.
        return new_schedule_run(self.runner, schedule, scheduled_at)[0]
