"""The scheduler on SQLite and PostgreSQL with a frozen clock: fires, limits, catch-up,
locks, the run tracker and the hooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from spine.core.clock import FrozenClock
from spine.core.errors import Conflict, InvalidInput
from spine.core.events import Connection, Event, EventType, Publisher
from spine.core.storage import Database, sql_connection
from spine.core.storage.schema.scheduler import (
    core_schedule_locks,
    core_schedule_runs,
    core_schedules,
)
from spine.orchestration.errors import WorkflowNotFound
from spine.orchestration.history import WorkflowStatus
from spine.orchestration.runner import WorkflowRunner
from spine.scheduling import (
    FireOrderError,
    Schedule,
    Scheduler,
    ScheduleRunOutcome,
    ScheduleRunStatus,
    ScheduleStore,
    fire_outcome,
    new_schedule,
)
from spine.scheduling.planning import plan_fires
from spine.scheduling.triggers import IntervalTrigger

Add = Callable[..., Schedule]
Make = Callable[..., Scheduler]


class Hook:
    """A ``schedule.fire`` listener calling ``fn(conn, outcome)`` for MISSED and FAILED."""

    event_types = frozenset({EventType.SCHEDULE_FIRE})

    def __init__(self, fn: Callable[[sa.Connection, ScheduleRunOutcome], None]) -> None:
        self.fn = fn

    def wants(self, event: Event) -> bool:
        return event.payload["status"] in ("MISSED", "FAILED")

    def handle(self, conn: Connection, event: Event) -> None:
        self.fn(sql_connection(conn), fire_outcome(event))


def _fires(db: Database, schedule_id: str) -> list[tuple[datetime, str]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(core_schedule_runs.c.scheduled_at, core_schedule_runs.c.status)
            .where(core_schedule_runs.c.schedule_id == schedule_id)
            .order_by(core_schedule_runs.c.scheduled_at)
        ).all()
    return [(r.scheduled_at, r.status) for r in rows]


def test_a_fire_creates_a_linked_pending_run_and_moves_the_schedule_on(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
    runner: WorkflowRunner,
) -> None:
    schedule = add("hourly", cron="0 * * * *", params={"tier": "T1"})
    assert schedule.next_run_at == datetime(2025, 1, 10, 13, 0, tzinfo=UTC)
    scheduler = make_scheduler()
    assert scheduler.tick() == []
    clock.set(datetime(2025, 1, 10, 13, 0, 0, 300_000, tzinfo=UTC))
    [outcome] = scheduler.tick()
    assert outcome.status == "RUNNING" and outcome.run_id
    run = runner.store.run_row(outcome.run_id)
    assert (run.status, run.triggered_by, run.schedule_id) == (
        WorkflowStatus.PENDING,
        "schedule",
        schedule.id,
    )
    assert run.params == {"tier": "T1"}
    [fire] = schedules.runs(schedule.id)
    assert fire.run_id == run.run_id and fire.scheduled_at == schedule.next_run_at
    assert fire.started_at == clock.now()
    after = schedules.get("hourly")
    assert after.next_run_at == datetime(2025, 1, 10, 14, 0, tzinfo=UTC)
    assert after.last_run_at == clock.now() and after.last_run_status == "RUNNING"
    with db.read() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(core_schedule_locks)).scalar() == 0
        )


def test_the_tracker_records_completed_failed_and_cancelled_runs(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
    runner: WorkflowRunner,
) -> None:
    add("ok", every=60, max_instances=5)
    add("boom", every=60, workflow="demo.boom")
    add("cancel", every=60)
    clock.advance(60)
    outcomes = {o.schedule_name: o for o in make_scheduler().tick()}
    for name in ("ok", "boom"):
        run_id = outcomes[name].run_id
        assert run_id is not None
        runner.drive(run_id)
    cancelled = outcomes["cancel"].run_id
    assert cancelled is not None
    runner.store.request_cancel(cancelled)
    assert [r.status for r in schedules.runs(schedules.get("ok").id)] == ["COMPLETED"]
    [boom] = schedules.runs(schedules.get("boom").id)
    assert boom.status is ScheduleRunStatus.FAILED and "bad row" in (boom.error or "")
    assert boom.completed_at is not None
    [cancel] = schedules.runs(schedules.get("cancel").id)
    assert (cancel.status, cancel.error) == (ScheduleRunStatus.FAILED, "cancelled")
    assert schedules.get("ok").last_run_status == "COMPLETED"
    assert schedules.get("boom").last_run_status == "FAILED"


def test_tracker_hooks_run_in_the_finishing_transaction_for_failures(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    runner: WorkflowRunner,
    tracker: object,
) -> None:
    seen: list[ScheduleRunOutcome] = []

    def hook(conn: sa.Connection, outcome: ScheduleRunOutcome) -> None:
        # On the run's own connection: it sees the fire already marked FAILED.
        status = conn.execute(
            sa.select(core_schedule_runs.c.status).where(
                core_schedule_runs.c.run_id == outcome.run_id
            )
        ).scalar()
        assert status == "FAILED"
        seen.append(outcome)

    tracker.listeners = Publisher([Hook(hook)])  # type: ignore[attr-defined]
    add("boom", every=60, workflow="demo.boom")
    add("ok", every=60)
    clock.advance(60)
    for outcome in make_scheduler().tick():
        assert outcome.run_id is not None
        runner.drive(outcome.run_id)
    [failed] = seen
    assert (failed.schedule_name, failed.target_name, failed.status) == (
        "boom",
        "demo.boom",
        "FAILED",
    )
    assert failed.reason and "bad row" in failed.reason
    assert failed.scheduled_at == datetime(2025, 1, 10, 12, 1, tzinfo=UTC)


def test_max_instances_skips_fires_with_a_reason(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
    runner: WorkflowRunner,
) -> None:
    schedule = add("busy", every=60, max_instances=2)
    scheduler = make_scheduler()
    statuses = []
    for _ in range(3):
        clock.advance(60)
        [outcome] = scheduler.tick()
        statuses.append(outcome.status)
    assert statuses == ["RUNNING", "RUNNING", "SKIPPED"]
    skipped = schedules.runs(schedule.id)[0]
    assert skipped.skip_reason == "2 run(s) of this schedule still active (max_instances 2)"
    assert skipped.run_id is None
    first = schedules.runs(schedule.id)[-1]
    assert first.run_id is not None
    runner.drive(first.run_id)
    clock.advance(60)
    assert [o.status for o in scheduler.tick()] == ["RUNNING"]


def test_a_fire_later_than_the_grace_is_missed_and_hooked(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    seen: list[ScheduleRunOutcome] = []
    schedule = add("graced", cron="*/5 * * * *", misfire_grace_seconds=30)
    clock.advance(timedelta(minutes=5, seconds=45))
    [outcome] = make_scheduler(listeners=[Hook(lambda conn, o: seen.append(o))]).tick()
    assert outcome.status == "MISSED" and outcome.run_id is None
    assert outcome.reason == "fired 45.0 s late; misfire grace is 30 s"
    assert seen == [outcome]
    [fire] = schedules.runs(schedule.id)
    assert (fire.status, fire.error) == (ScheduleRunStatus.MISSED, outcome.reason)
    assert schedules.get("graced").next_run_at == datetime(2025, 1, 10, 12, 10, tzinfo=UTC)


def test_downtime_is_coalesced_into_one_run_by_default(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    schedule = add("often", cron="*/10 * * * *")
    clock.advance(timedelta(hours=1, minutes=5))
    [outcome] = make_scheduler().tick()
    assert outcome.status == "RUNNING"
    assert outcome.scheduled_at == datetime(2025, 1, 10, 13, 0, tzinfo=UTC)
    assert schedules.get("often").next_run_at == datetime(2025, 1, 10, 13, 10, tzinfo=UTC)
    assert len(_fires(db, schedule.id)) == 1


def test_catchup_all_runs_every_missed_fire(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
) -> None:
    schedule = add("all", cron="*/10 * * * *", catchup="all", max_instances=10)
    clock.advance(timedelta(minutes=35))
    outcomes = make_scheduler().tick()
    assert [o.scheduled_at.minute for o in outcomes] == [10, 20, 30]
    assert [s for _, s in _fires(db, schedule.id)] == ["RUNNING"] * 3


def test_catchup_none_records_the_missed_fire_without_running_it(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
) -> None:
    add("none", cron="*/10 * * * *", catchup="none")
    clock.advance(timedelta(minutes=35))
    scheduler = make_scheduler()
    [outcome] = scheduler.tick()
    assert outcome.status == "MISSED" and outcome.scheduled_at.minute == 30
    assert outcome.reason and "catchup=none" in outcome.reason
    clock.set(datetime(2025, 1, 10, 12, 40, 2, tzinfo=UTC))
    assert [o.status for o in scheduler.tick()] == ["RUNNING"]


def test_a_one_off_fires_once(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    add("once", at=clock.now() + timedelta(minutes=1))
    scheduler = make_scheduler()
    clock.advance(61)
    assert [o.status for o in scheduler.tick()] == ["RUNNING"]
    assert schedules.get("once").next_run_at is None
    clock.advance(3600)
    assert scheduler.tick() == []


def test_paused_schedules_do_not_fire(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    add("p", every=10)
    schedules.set_enabled("p", False, None)
    clock.advance(100)
    assert make_scheduler().tick() == []


def test_a_schedule_locked_by_a_live_scheduler_is_left_until_its_lock_expires(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    schedule = add("shared", every=10, catchup="all", max_instances=100)
    clock.advance(10)
    dead = make_scheduler(scheduler_id="dead")
    # The dead scheduler acquired but never recorded (SIGKILL between the two steps).
    [taken] = schedules.acquire_due(
        "dead", until=clock.now() + timedelta(seconds=5), limit=10, targets=None
    )
    assert taken.id == schedule.id
    alive = make_scheduler(scheduler_id="alive")
    assert alive.tick() == []
    assert alive.sleep_seconds() == pytest.approx(1.0)
    clock.advance(6)  # the lock expired
    outcomes = alive.tick()
    assert [o.scheduled_at for o in outcomes] == [datetime(2025, 1, 10, 12, 0, 10, tzinfo=UTC)]
    # The dead scheduler's plan, if it ever came back, records nothing twice.
    assert dead.store.record_fires("dead", [dead._plan(taken, clock.now())], dead._make_run) == []
    assert [s for _, s in _fires(db, schedule.id)] == ["RUNNING"]


def test_the_fire_key_refuses_a_second_fire_of_the_same_instant(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    schedule = add("k", every=10)
    clock.advance(10)
    scheduler = make_scheduler(scheduler_id="a")
    [taken] = schedules.acquire_due(
        "a", until=clock.now() + timedelta(seconds=5), limit=10, targets=None
    )
    plan = scheduler._plan(taken, clock.now())
    assert len(schedules.record_fires("a", [plan], scheduler._make_run)) == 1
    # Force next_run_at back (as if the lock and the compare-and-set had both failed):
    # the unique key (schedule_id, scheduled_at) still refuses the second fire.
    with db.write() as conn:
        conn.execute(
            sa.update(core_schedules)
            .where(core_schedules.c.id == taken.id)
            .values(next_run_at=taken.next_run_at)
        )
    [again] = schedules.acquire_due(
        "a", until=clock.now() + timedelta(seconds=5), limit=10, targets=None
    )
    assert (
        schedules.record_fires("a", [scheduler._plan(again, clock.now())], scheduler._make_run)
        == []
    )
    assert len(_fires(db, schedule.id)) == 1


def test_sleep_is_until_the_next_due_time_capped(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
) -> None:
    scheduler = make_scheduler(max_sleep_seconds=2.0)
    assert scheduler.sleep_seconds() == 2.0
    add("soon", at=clock.now() + timedelta(seconds=0.5))
    assert scheduler.sleep_seconds() == pytest.approx(0.5)


def test_only_registered_workflows_are_fired(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    runner: WorkflowRunner,
) -> None:
    add("x", every=10)
    clock.advance(10)
    runner.workflows = type(runner.workflows)()  # this scheduler knows no workflow
    assert make_scheduler().tick() == []


def test_the_guard_refuses_a_trigger_that_goes_backwards(
    add: Add,
    clock: FrozenClock,
) -> None:
    class Backwards(IntervalTrigger):
        def times_after(self, after: datetime):  # type: ignore[no-untyped-def]
            yield after - timedelta(seconds=1)

    schedule = add("b", every=10)
    clock.advance(30)
    with pytest.raises(FireOrderError):
        plan_fires(schedule, Backwards(10, schedule.created_at), clock.now())


def test_a_refused_schedule_stops_with_the_reason_on_record(
    db: Database,
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    schedules: ScheduleStore,
) -> None:
    schedule = add("bad", every=10)
    with db.write() as conn:  # a row that no longer parses (edited by hand)
        conn.execute(
            sa.text(
                "UPDATE core_schedules SET schedule_type = 'cron', cron_expression = "
                "'0 0 30 2 *' WHERE id = :id"
            ),
            {"id": schedule.id},
        )
    clock.advance(10)
    [outcome] = make_scheduler().tick()
    assert outcome.status == "MISSED" and "can never fire" in (outcome.reason or "")
    assert schedules.get("bad").next_run_at is None


def test_bad_definitions_are_refused_and_names_are_unique(
    add: Add,
    clock: FrozenClock,
    workflows: object,
) -> None:
    add("dup", every=10)
    with pytest.raises(Conflict, match="already exists"):
        add("dup", every=10)
    with pytest.raises(InvalidInput, match="in the past"):
        add("past", at=clock.now() - timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="unknown time zone"):
        add("tz", cron="0 0 * * *", timezone="Nowhere/Land")
    with pytest.raises(WorkflowNotFound):
        add("wf", every=10, workflow="nope")
    with pytest.raises(InvalidInput, match="exactly one"):
        add("two", every=10, cron="* * * * *")
    with pytest.raises(InvalidInput, match="catchup"):
        add("c", every=10, catchup="sometimes")


def test_new_schedule_starts_at_the_first_fire_after_now(
    clock: FrozenClock, workflows: object
) -> None:
    schedule = new_schedule(
        "n",
        workflow="demo.ok",
        now=clock.now(),
        registry=workflows,  # type: ignore[arg-type]
        cron="0 6 * * 1-5",
        timezone="America/New_York",
    )
    assert schedule.next_run_at == datetime(2025, 1, 13, 11, 0, tzinfo=UTC)


def test_a_failing_hook_does_not_stop_the_fire_being_recorded(
    add: Add, make_scheduler: Make, clock: FrozenClock, schedules: ScheduleStore
) -> None:
    def broken(conn: sa.Connection, outcome: ScheduleRunOutcome) -> None:
        conn.execute(sa.text("INSERT INTO no_such_table VALUES (1)"))

    schedule = add("g", cron="*/5 * * * *", misfire_grace_seconds=1)
    clock.advance(timedelta(minutes=5, seconds=10))
    [outcome] = make_scheduler(listeners=[Hook(broken)]).tick()
    assert outcome.status == "MISSED"
    assert [r.status for r in schedules.runs(schedule.id)] == [ScheduleRunStatus.MISSED]
