"""Fixtures for scheduling: a frozen clock, registries, a runner with the schedule tracker,
a schedule store and ``make_scheduler``; every store test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from spine import Step, Workflow
from spine.core.clock import FrozenClock
from spine.core.events import Listener
from spine.core.storage import Database
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.scheduling import Schedule, Scheduler, ScheduleRunTracker, ScheduleStore, new_schedule

START = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def workflows() -> WorkflowRegistry:
    registry = WorkflowRegistry()
    Workflow("demo.ok", [Step.lambda_("a", lambda ctx: {"ok": True})], registry=registry)
    Workflow("demo.boom", [Step.lambda_("a", _boom)], registry=registry)
    return registry


def _boom(ctx: Any) -> None:
    raise ValueError("bad row")


@pytest.fixture
def tracker() -> ScheduleRunTracker:
    return ScheduleRunTracker()


@pytest.fixture
def runner(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, tracker: ScheduleRunTracker
) -> WorkflowRunner:
    store = RunStore(db, clock, listeners=(tracker,))
    return WorkflowRunner(
        store, clock=clock, workflow_registry=workflows, pipeline_registry=PipelineRegistry()
    )


@pytest.fixture
def schedules(db: Database, clock: FrozenClock) -> ScheduleStore:
    return ScheduleStore(db, clock)


@pytest.fixture
def make_scheduler(
    db: Database, schedules: ScheduleStore, runner: WorkflowRunner, clock: FrozenClock
) -> Callable[..., Scheduler]:
    """``make_scheduler(**options)``; ``listeners=`` get the store's ``schedule.fire``."""

    def make(*, listeners: Sequence[Listener] | None = None, **overrides: Any) -> Scheduler:
        options: dict[str, Any] = {"clock": clock, "lock_seconds": 5.0, **overrides}
        store = schedules if listeners is None else ScheduleStore(db, clock, listeners=listeners)
        return Scheduler(store, runner, **options)

    return make


@pytest.fixture
def add(
    schedules: ScheduleStore, clock: FrozenClock, workflows: WorkflowRegistry
) -> Callable[..., Schedule]:
    """``add(name, **options)``: save a checked schedule (default workflow ``demo.ok``)."""

    def make(name: str, **options: Any) -> Schedule:
        options.setdefault("workflow", "demo.ok")
        schedule = new_schedule(name, now=clock.now(), registry=workflows, **options)
        return schedules.add(schedule)

    return make
