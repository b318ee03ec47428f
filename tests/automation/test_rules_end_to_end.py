"""Rules through spine's assembled services: applied, fired, dispatched, acted on once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from spine.automation.models import ExecutionStatus
from spine.automation.store.changes import ChangeLog
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.core.storage.schema.automation import alerts
from spine.core.storage.schema.workflow_history import core_workflow_runs
from spine.tenancy import DEFAULT_WORKSPACE_ID

from .rule_helpers import START

RULES = {
    "rules": [
        {
            "name": "shipped",
            "entity": "orders",
            "trigger": "on_update",
            "conditions": [{"field_name": "status", "operator": "changed_to", "value": "shipped"}],
            "actions": [
                {
                    "name": "tell",
                    "type": "create_alert",
                    "config": {
                        "title": "Order {{ new.id }} shipped",
                        "message": "was {{ old.status }}",
                        "recipients": [{"type": "role", "name": "oncall"}],
                    },
                }
            ],
        },
        {
            "name": "late",
            "entity": "orders",
            "trigger": "scheduled",
            "cron": "0 8 * * *",
            "conditions": [{"field_name": "status", "operator": "equals", "value": "late"}],
            "actions": [
                {
                    "name": "remind",
                    "type": "create_alert",
                    "config": {
                        "title": "Order {{ new.id }} is late",
                        "message": "{{ rule.name }}",
                        "recipients": [{"type": "role", "name": "oncall"}],
                    },
                }
            ],
        },
    ]
}


@pytest.fixture
def services(db_url: str) -> Iterator[Services]:
    made = build(load_settings(database_url=db_url), clock=FrozenClock(START))
    table = sa.Table(
        "orders",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.Text),
    )
    made.database.run_write(lambda conn: table.create(conn))
    made.automation.entities.watch("orders")
    made.tenancy.add_role("oncall")
    yield made
    made.close()


def _sql(services: Services, statement: str) -> None:
    services.database.run_write(lambda conn: conn.execute(sa.text(statement)))


def _titles(services: Services) -> list[str]:
    return sorted(
        services.database.run_read(
            lambda conn: list(conn.execute(sa.select(alerts.c.title)).scalars())
        )
    )


def test_an_applied_rule_answers_a_change_once(services: Services) -> None:
    automation = services.automation
    assert automation.rules.apply(RULES, source="rules.yaml").applied
    _sql(services, "INSERT INTO orders (id, status) VALUES (1, 'new'), (2, 'late')")
    _sql(services, "UPDATE orders SET status = 'shipped' WHERE id = 1")

    automation.dispatcher().run_once()
    automation.dispatcher().run_once()

    assert _titles(services) == ["Order 1 shipped"]
    (execution,) = automation.executions.executions(rule="shipped")
    assert execution.status is ExecutionStatus.SUCCESS


def test_a_scheduled_rule_alerts_once_per_selected_row(services: Services) -> None:
    automation = services.automation
    automation.rules.apply(RULES, source="rules.yaml")
    _sql(services, "INSERT INTO orders (id, status) VALUES (1, 'late'), (2, 'ok'), (3, 'late')")
    clock = services.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=1))

    hook = services.rule_scheduling()
    hook.tick()
    automation.dispatcher().run_once()

    assert [f.rows for f in hook.fired] == [2]
    assert _titles(services) == ["Order 1 is late", "Order 3 is late"]
    executions = automation.executions.executions(rule="late")
    assert {e.status for e in executions} == {ExecutionStatus.SUCCESS}
    assert len(executions) == 2


def test_a_scheduled_rule_on_spines_runs_reads_its_own_workspace_only(
    services: Services,
) -> None:
    other = services.tenancy.create_workspace("other", "default", services.actor)
    automation = services.automation
    automation.entities.watch("core_workflow_runs")
    automation.rules.create(
        {
            "name": "failed-runs",
            "entity": "core_workflow_runs",
            "trigger": "scheduled",
            "cron": "0 8 * * *",
            "conditions": [{"field_name": "status", "operator": "equals", "value": "FAILED"}],
        }
    )
    rows = [
        {"run_id": f"01J{i:023d}", "workflow_name": "w", "status": "FAILED", "workspace_id": ws}
        for i, ws in enumerate([DEFAULT_WORKSPACE_ID, other.id, DEFAULT_WORKSPACE_ID])
    ]
    services.database.run_write(
        lambda conn: conn.execute(
            core_workflow_runs.insert(), [{**row, "created_at": START} for row in rows]
        )
    )
    clock = services.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=1))

    hook = services.rule_scheduling()
    hook.tick()

    assert [f.rows for f in hook.fired] == [2]
    log = ChangeLog(services.database)
    log.sequence()
    selected = [c.new["run_id"] for c in log.read(0, 100) if c.new]
    assert selected == [rows[0]["run_id"], rows[2]["run_id"]]
