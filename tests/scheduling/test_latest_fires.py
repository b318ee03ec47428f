"""The latest fires of a page of schedules in one statement, and resuming from now on
(the dashboard's schedules page), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.scheduling import Schedule, Scheduler, ScheduleStore
from spine.tenancy import Actor, TenancyService
from spine.tenancy.store import TenancyStore
from tests.counting import selects, statements

Add = Callable[..., Schedule]
Make = Callable[..., Scheduler]


def test_each_schedule_gets_its_latest_fires_newest_first_in_one_statement(
    db: Database, add: Add, make_scheduler: Make, clock: FrozenClock, schedules: ScheduleStore
) -> None:
    often = add("often", every=60)
    rarely = add("rarely", every=180)
    never = add("never", cron="0 0 1 1 *")
    scheduler = make_scheduler()
    for _ in range(6):
        clock.advance(60)
        scheduler.tick()
    unknown = "01JNOSUCHSCHEDULE000000000"
    with statements(db) as sent:
        latest = schedules.latest_fires([often.id, rarely.id, never.id, unknown], 3)
    # One to keep the workspace's ids, one for every schedule's fires.
    assert len(selects(sent)) == 2
    assert list(latest) == [often.id, rarely.id, never.id, unknown]
    assert [f.scheduled_at for f in latest[often.id]] == [
        f.scheduled_at for f in schedules.runs(often.id, 3)
    ]
    assert len(latest[often.id]) == 3
    assert len(latest[rarely.id]) == 2
    assert latest[never.id] == [] and latest[unknown] == []
    times = [f.scheduled_at for f in latest[often.id]]
    assert times == sorted(times, reverse=True)
    assert schedules.latest_fires([], 3) == {}


def test_another_workspace_gets_no_fires_of_ours(
    db: Database, add: Add, make_scheduler: Make, clock: FrozenClock, schedules: ScheduleStore
) -> None:
    ours = add("ours", every=60)
    clock.advance(60)
    make_scheduler().tick()
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("globex")
    other = tenancy.create_workspace("data", "globex", Actor()).id
    theirs = schedules.acting_as(Actor(workspace_id=other))
    assert theirs.latest_fires([ours.id], 5) == {ours.id: []}
    assert len(schedules.latest_fires([ours.id], 5)[ours.id]) == 1


def test_resume_goes_on_from_now_and_skips_what_was_missed(
    add: Add, clock: FrozenClock, schedules: ScheduleStore
) -> None:
    made = add("hourly", every=3600)
    schedules.set_enabled(made.id, False, None)
    clock.advance(3 * 3600 + 60)
    resumed = schedules.resume(made.id)
    assert resumed.enabled
    assert resumed.next_run_at is not None and resumed.next_run_at > clock.now()
    assert schedules.resume("hourly").next_run_at == resumed.next_run_at
