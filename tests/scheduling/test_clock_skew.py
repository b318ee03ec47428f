"""A scheduler whose host clock is wrong fires on the database's time, not its own.

The processes are wired as ``spine.bootstrap.build`` wires them in production; only the
host's clock is replaced, by one 90 s fast (:class:`tests.clocks.SkewedClock`).
"""

from __future__ import annotations

import time
from datetime import timedelta

from spine import Step, Workflow
from spine.bootstrap import build
from spine.config import load_settings
from spine.core.storage import create_database
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.scheduling import Scheduler, new_schedule
from tests.clocks import SkewedClock, database_time

DEADLINE_SECONDS = 60.0


def test_a_scheduler_90_s_fast_does_not_fire_a_due_time_early(db_url: str) -> None:
    registry = WorkflowRegistry()
    Workflow("skew.ok", [Step.lambda_("a", lambda ctx: {"ok": True})], registry=registry)
    settings = load_settings(database_url=db_url)
    # The schedule is added on one host; the scheduler runs on another, 90 s fast.
    honest = build(settings, host_clock=SkewedClock(0))
    services = build(settings, host_clock=SkewedClock(90))
    db = create_database(db_url)
    try:
        runner = WorkflowRunner(
            services.runs,
            clock=services.clock,
            workflow_registry=registry,
            pipeline_registry=PipelineRegistry(),
        )
        scheduler = Scheduler(services.schedules, runner, clock=services.clock, lock_seconds=5)
        due = database_time(db) + timedelta(seconds=2)
        honest.schedules.add(
            new_schedule(
                "soon", workflow="skew.ok", at=due, now=honest.clock.now(), registry=registry
            )
        )

        assert scheduler.tick() == []  # 88 s before it is due on a clock 90 s fast
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not (fired := scheduler.tick()):
            assert time.monotonic() < deadline, "the schedule never fired"
            time.sleep(0.05)
        fired_at = database_time(db)

        [outcome] = fired
        assert outcome.scheduled_at == due and outcome.run_id
        assert fired_at >= due, f"fired {due - fired_at} early"
    finally:
        honest.close()
        services.close()
        db.dispose()
