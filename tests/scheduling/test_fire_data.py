"""What a fire carries: its data interval, rendered params and key (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spine import Step, Workflow
from spine.core.clock import FrozenClock
from spine.orchestration.context import StepContext
from spine.orchestration.data_interval import interval_of
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.scheduling import Schedule, Scheduler, ScheduleStore
from spine.scheduling.intervals import fire_key

Add = Callable[..., Schedule]
Make = Callable[..., Scheduler]


def _echo(ctx: StepContext) -> dict[str, Any]:
    return {
        "logical_time": ctx.logical_time.isoformat() if ctx.logical_time else None,
        "start": ctx.data_interval_start.isoformat() if ctx.data_interval_start else None,
        "end": ctx.data_interval_end.isoformat() if ctx.data_interval_end else None,
        "day": ctx.params.get("day"),
    }


@pytest.fixture
def workflows() -> WorkflowRegistry:
    registry = WorkflowRegistry()
    Workflow("demo.ok", [Step.lambda_("a", _echo)], registry=registry)
    return registry


def test_a_cron_fire_runs_for_its_interval_with_rendered_params(
    add: Add, make_scheduler: Make, clock: FrozenClock, runner: WorkflowRunner
) -> None:
    add(
        "daily",
        cron="0 2 * * *",
        timezone="Asia/Tokyo",
        params={"day": "{{ data_interval_start | date }}", "tier": "T1"},
    )
    # 02:00 in Tokyo on Jan 11 is 17:00 UTC on Jan 10.
    clock.set(datetime(2025, 1, 10, 17, 0, 1, tzinfo=UTC))
    [outcome] = make_scheduler().tick()
    assert outcome.status == "RUNNING" and outcome.run_id
    run = runner.store.run_row(outcome.run_id)
    assert run.params == {"day": "2025-01-10", "tier": "T1"}
    assert run.idempotency_key == "schedule:daily@2025-01-10T17:00:00+00:00"
    interval = interval_of(run.partition_key)
    assert interval is not None
    assert (interval.logical_time, interval.start, interval.end) == (
        datetime(2025, 1, 10, 17, tzinfo=UTC),
        datetime(2025, 1, 9, 17, tzinfo=UTC),
        datetime(2025, 1, 10, 17, tzinfo=UTC),
    )
    finished = runner.drive(run.run_id)
    assert finished.outputs == {
        "logical_time": "2025-01-10T17:00:00+00:00",
        "start": "2025-01-09T17:00:00+00:00",
        "end": "2025-01-10T17:00:00+00:00",
        "day": "2025-01-10",
    }


def test_an_interval_fire_covers_the_interval_before_it(
    add: Add, make_scheduler: Make, clock: FrozenClock, runner: WorkflowRunner
) -> None:
    schedule = add("often", every=900)
    assert schedule.next_run_at is not None
    clock.set(schedule.next_run_at)
    [outcome] = make_scheduler().tick()
    assert outcome.run_id is not None
    interval = interval_of(runner.store.run_row(outcome.run_id).partition_key)
    assert interval is not None
    assert interval.end == schedule.next_run_at == interval.logical_time
    assert interval.end - interval.start == timedelta(seconds=900)


def test_a_fire_whose_logical_time_has_a_run_is_skipped_and_the_schedule_moves_on(
    add: Add,
    make_scheduler: Make,
    clock: FrozenClock,
    runner: WorkflowRunner,
    schedules: ScheduleStore,
) -> None:
    schedule = add("hourly", cron="0 * * * *")
    first = schedule.next_run_at
    assert first is not None
    # What `schedules trigger --at` or `backfill --schedule` leaves behind.
    made = runner.submit("demo.ok", idempotency_key=fire_key("hourly", first))
    clock.set(first + timedelta(seconds=1))
    scheduler = make_scheduler()
    [skipped] = scheduler.tick()
    assert skipped.status == "SKIPPED" and skipped.run_id is None
    assert skipped.reason == f"run {made.run_id} already covers this logical time"
    assert schedules.get("hourly").next_run_at == first + timedelta(hours=1)
    clock.set(first + timedelta(hours=1, seconds=1))
    [fired] = scheduler.tick()
    assert fired.status == "RUNNING" and fired.run_id not in (None, made.run_id)
