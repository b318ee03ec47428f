"""``schedule.fire``: published once, in the transaction that records a fire's outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from spine.core.clock import FrozenClock
from spine.core.events import EventType, Publisher
from spine.core.storage import Database
from spine.orchestration.runner import WorkflowRunner
from spine.scheduling import Schedule, Scheduler, ScheduleRunTracker, ScheduleStore
from tests.event_recorder import Abort, Aborter, Recorder, create_seen_table, seen

Add = Callable[..., Schedule]
Make = Callable[..., Scheduler]
FIRE = EventType.SCHEDULE_FIRE


def test_a_missed_fire_is_published_iff_it_is_recorded(
    db: Database, add: Add, make_scheduler: Make, clock: FrozenClock, schedules: ScheduleStore
) -> None:
    create_seen_table(db)
    schedule = add("graced", cron="*/5 * * * *", misfire_grace_seconds=30)
    clock.advance(timedelta(minutes=5, seconds=45))

    with pytest.raises(Abort):
        make_scheduler(listeners=[Recorder(FIRE), Aborter(FIRE)]).tick()
    assert schedules.runs(schedule.id) == [] and seen(db) == []

    clock.advance(10)  # the aborted scheduler's lock expires
    [outcome] = make_scheduler(listeners=[Recorder(FIRE)]).tick()
    assert outcome.status == "MISSED"
    assert seen(db) == [("schedule.fire", schedule.id, "MISSED")]


def test_running_and_skipped_fires_are_not_published(
    db: Database, add: Add, make_scheduler: Make, clock: FrozenClock
) -> None:
    create_seen_table(db)
    add("busy", every=60, max_instances=1)
    scheduler = make_scheduler(listeners=[Recorder(FIRE)])
    clock.advance(60)
    scheduler.tick()
    clock.advance(60)
    assert [o.status for o in scheduler.tick()] == ["SKIPPED"]
    assert seen(db) == []


def test_the_tracker_publishes_completed_and_failed_fires_with_the_run(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    runner: WorkflowRunner,
    tracker: ScheduleRunTracker,
) -> None:
    create_seen_table(db)
    ok = add("ok", every=60)
    bad = add("boom", every=60, workflow="demo.boom")
    tracker.listeners = Publisher([Recorder(FIRE)])
    clock.advance(60)
    for outcome in make_scheduler().tick():
        assert outcome.run_id is not None
        runner.drive(outcome.run_id)
    assert sorted(seen(db)) == sorted(
        [("schedule.fire", ok.id, "COMPLETED"), ("schedule.fire", bad.id, "FAILED")]
    )
