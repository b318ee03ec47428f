"""A scheduler whose COMMIT reply is lost keeps running and fires once.

A COMMIT is applied on the server, then fails as a dropped connection does. The write is
not run again by the engine (it may be applied, and here it is); the scheduler logs,
carries on, and its next tick reads the schedules back: one fire, never two.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.scheduling import Schedule, Scheduler, ScheduleStore
from tests.core.storage.factories import commit_then_lose_reply


def _lose_reply_of_first_commit_after(db: Database, fragment: str) -> list[str]:
    """Apply, then fail as if disconnected, the first COMMIT after a statement with ``fragment``."""
    state: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fragment in statement and not state:
            state.append("armed")

    def on_commit(conn: sa.Connection) -> None:
        if state != ["armed"]:
            return
        state.append("lost")
        commit_then_lose_reply(db, conn)

    event.listen(db.engine, "before_cursor_execute", seen)
    event.listen(db.engine, "commit", on_commit)
    return state


def test_a_lost_reply_to_taking_the_locks_does_not_stop_the_scheduler(
    db: Database,
    add: Callable[..., Schedule],
    make_scheduler: Callable[..., Scheduler],
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    schedule = add("hourly", cron="0 * * * *")
    scheduler = make_scheduler()
    clock.set(datetime(2025, 1, 10, 13, 0, 1, tzinfo=UTC))
    state = _lose_reply_of_first_commit_after(db, "INSERT INTO core_schedule_locks")

    assert scheduler.run(once=True) == 0
    assert state == ["armed", "lost"]
    assert schedules.runs(schedule.id) == []

    [outcome] = scheduler.tick()  # its own lock, committed after all, is taken again
    assert outcome.status == "RUNNING"
    assert scheduler.tick() == []
    assert len(schedules.runs(schedule.id)) == 1


def test_a_lost_reply_to_recording_a_fire_does_not_fire_it_twice(
    db: Database,
    add: Callable[..., Schedule],
    make_scheduler: Callable[..., Scheduler],
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    schedule = add("hourly", cron="0 * * * *")
    scheduler = make_scheduler()
    clock.set(datetime(2025, 1, 10, 13, 0, 1, tzinfo=UTC))
    state = _lose_reply_of_first_commit_after(db, "INSERT INTO core_schedule_runs")

    assert scheduler.run(once=True) == 0  # the fire's outcome was unknown: not counted
    assert state == ["armed", "lost"]
    assert len(schedules.runs(schedule.id)) == 1  # ... but it was committed

    assert scheduler.tick() == []
    assert len(schedules.runs(schedule.id)) == 1
    assert schedules.get("hourly").next_run_at == datetime(2025, 1, 10, 14, 0, tzinfo=UTC)
