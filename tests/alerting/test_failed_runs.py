"""A workflow run that ends FAILED raises an ERROR alert in the transaction that fails it."""

from __future__ import annotations

import sqlalchemy as sa

from spine import Step, Workflow
from spine.alerting import AlertService, FailedRunAlerts
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore


def _boom(ctx: object) -> None:
    raise ValueError("no file for week 2025-01-10")


def test_failed_run_raises_an_error_alert_routed_by_its_domain(
    service: AlertService, db: Database, clock: FrozenClock
) -> None:
    service.add_channel(
        "finra",
        "webhook",
        {"url": "http://127.0.0.1:9/", "secret_ref": "env:HOOK_SECRET"},
        domains="finra.*",
    )
    workflows = WorkflowRegistry()
    Workflow(
        "finra.weekly_ingest",
        [Step.lambda_("fetch", _boom)],
        domain="finra.otc_transparency",
        registry=workflows,
    )
    Workflow("fine", [Step.lambda_("ok", lambda ctx: None)], registry=workflows)
    store = RunStore(db, clock, listeners=(FailedRunAlerts(clock),))
    runner = WorkflowRunner(store, clock=clock, workflow_registry=workflows)
    failed = runner.run("finra.weekly_ingest")
    runner.run("fine")
    assert failed.status.value == "FAILED"
    with db.read() as conn:
        [alert] = conn.execute(sa.select(core_alerts)).all()
        [delivery] = conn.execute(sa.select(core_alert_deliveries)).all()
    assert (alert.severity, alert.source, alert.domain, alert.run_id) == (
        "ERROR",
        "finra.weekly_ingest",
        "finra.otc_transparency",
        failed.run_id,
    )
    assert alert.error_category == failed.error_category is not None
    assert "no file for week 2025-01-10" in alert.message
    assert (delivery.channel_name, delivery.status) == ("finra", "PENDING")


def test_bootstrap_wires_the_failed_run_listener(db_url: str) -> None:
    from spine.bootstrap import build
    from spine.config import load_settings

    services = build(load_settings(database_url=db_url))
    try:
        assert any(isinstance(x, FailedRunAlerts) for x in services.run_listeners)
        assert services.alerting().store.list_channels() == []
    finally:
        services.close()
