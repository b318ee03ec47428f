"""``spine.bootstrap`` wires the scheduler and the run tracker together."""

from __future__ import annotations

from datetime import timedelta

from spine import Step, Workflow
from spine.bootstrap import build
from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.orchestration.registry import workflows
from spine.scheduling import ScheduleRunTracker, new_schedule
from tests.scheduling.conftest import START


def test_built_services_fire_and_track_a_schedule(db_url: str) -> None:
    Workflow("wiring.ok", [Step.lambda_("a", lambda ctx: None)])
    clock = FrozenClock(START)
    services = build(load_settings(database_url=db_url), clock=clock)
    try:
        assert any(isinstance(x, ScheduleRunTracker) for x in services.run_listeners)
        schedule = new_schedule(
            "wired", workflow="wiring.ok", now=clock.now(), registry=workflows, every=60
        )
        services.schedules.add(schedule)
        clock.advance(timedelta(seconds=60))
        [outcome] = services.scheduler().tick()
        assert outcome.run_id is not None
        services.runner().drive(outcome.run_id)
        [fire] = services.schedules.runs(schedule.id)
        assert fire.status.value == "COMPLETED" and fire.completed_at is not None
        assert services.schedules.get("wired").last_run_status == "COMPLETED"
    finally:
        services.close()
