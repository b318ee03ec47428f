"""``spine.bootstrap`` wires scheduling to alerting: missed and failed fires raise alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine import Step, Workflow
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.orchestration.registry import workflows
from spine.scheduling import new_schedule
from tests.scheduling.conftest import START


def _boom(ctx: Any) -> None:
    raise ValueError("upstream file is empty")


@pytest.fixture
def services(db_url: str) -> Iterator[Services]:
    Workflow("wiring.alerts.ok", [Step.lambda_("a", lambda ctx: None)], domain="finra.otc")
    Workflow("wiring.alerts.bad", [Step.lambda_("a", _boom)], domain="finra.otc")
    built = build(
        load_settings(database_url=db_url, alerting_allow_private_urls=True),
        clock=FrozenClock(START),
    )
    built.alerting().add_channel(
        "ops",
        "webhook",
        {"url": "http://127.0.0.1:9/", "secret_ref": "env:HOOK"},
        domains="finra.*",
    )
    yield built
    built.close()


def _alerts(services: Services) -> list[sa.Row[Any]]:
    with services.database.read() as conn:
        return list(conn.execute(sa.select(core_alerts).order_by(core_alerts.c.id)))


def _deliveries(services: Services) -> int:
    with services.database.read() as conn:
        return len(conn.execute(sa.select(core_alert_deliveries)).all())


def test_failed_scheduled_run_raises_the_run_error_and_the_schedule_warning(
    services: Services,
) -> None:
    clock = services.clock
    assert isinstance(clock, FrozenClock)
    schedule = new_schedule(
        "nightly-bad", workflow="wiring.alerts.bad", now=clock.now(), registry=workflows, every=60
    )
    services.schedules.add(schedule)
    clock.advance(timedelta(seconds=60))
    [outcome] = services.scheduler().tick()
    assert outcome.run_id is not None

    run = services.runner().drive(outcome.run_id)

    assert run.status == "FAILED"
    [fire] = services.schedules.runs(schedule.id)
    assert fire.status.value == "FAILED"
    alerts = {(a.severity, a.source): a for a in _alerts(services)}
    assert set(alerts) == {("ERROR", "wiring.alerts.bad"), ("WARNING", "nightly-bad")}
    warning = alerts[("WARNING", "nightly-bad")]
    assert (warning.domain, warning.run_id) == ("finra.otc", run.run_id)
    assert _deliveries(services) == 2  # both routed to the finra.* channel


def test_missed_fire_raises_a_warning(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, FrozenClock)
    schedule = new_schedule(
        "hourly-ok",
        workflow="wiring.alerts.ok",
        now=clock.now(),
        registry=workflows,
        every=60,
        misfire_grace_seconds=30,
    )
    services.schedules.add(schedule)
    clock.advance(timedelta(seconds=60 + 45))  # the scheduler was down past the grace

    [outcome] = services.scheduler().tick()

    assert outcome.status == "MISSED" and outcome.run_id is None
    [alert] = _alerts(services)
    assert (alert.severity, alert.source, alert.domain) == ("WARNING", "hourly-ok", "finra.otc")
    assert "grace" in alert.message


def test_completed_scheduled_run_raises_nothing(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, FrozenClock)
    schedule = new_schedule(
        "fine", workflow="wiring.alerts.ok", now=clock.now(), registry=workflows, every=60
    )
    services.schedules.add(schedule)
    clock.advance(timedelta(seconds=60))
    [outcome] = services.scheduler().tick()
    assert outcome.run_id is not None

    assert services.runner().drive(outcome.run_id).status == "COMPLETED"
    assert _alerts(services) == []
