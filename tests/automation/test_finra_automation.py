"""The FINRA example's rule: a failed ``finra.weekly_ingest`` alerts ``finra-oncall``.

Runs the real example in-process on SQLite and PostgreSQL: its first step sets up
``automation.yaml`` (watches ``core_workflow_runs``, adds the role, applies the rules),
a run fails, and the real dispatcher acts on the captured change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import spine.examples.finra  # noqa: F401  (registers finra.weekly_ingest)
from spine.automation.models import ExecutionStatus, RecipientType
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.storage.schema.automation import notification_deliveries as deliveries_t
from spine.examples.finra.automation import (
    AUTOMATION_FILE,
    ROLE,
    WATCHED,
    declared,
    ensure_automation,
)
from spine.orchestration.history.types import WorkflowStatus

FAILED = {"workflow_name": "finra.weekly_ingest", "status": "FAILED", "run_id": "R1", "error": "x"}
RUNNING = {**FAILED, "status": "RUNNING", "error": None}


@pytest.fixture
def services(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setenv("SPINE_DATABASE_URL", db_url)
    built = build(load_settings())
    yield built
    built.close()


def _event(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {"operation": "update", "old": old, "new": new}


def _failed_run(services: Services) -> Any:
    # Not a Friday: the run fails in its first step, after setting up the rules.
    run = services.runner().run("finra.weekly_ingest", {"week_ending": "2025-01-23"})
    assert run.status is WorkflowStatus.FAILED
    services.automation.dispatcher().run_once()
    services.automation.dispatcher().run_once()  # nothing is done twice
    return run


def test_a_failed_run_alerts_finra_oncall_and_emails_it_once(services: Services) -> None:
    tenancy = services.tenancy
    tenancy.add_user("ada@example.com")
    tenancy.add_role(ROLE, actor=services.actor)
    tenancy.assign_role(ROLE, "ada@example.com", actor=services.actor)
    mail = {"smtp_host": "smtp.example.com", "smtp_port": 25, "from": "spine@example.com"}
    services.alerting().add_channel(
        "oncall-mail", "email", {**mail, "recipients": ["ops@example.com"]}
    )

    run = _failed_run(services)

    automation = services.automation
    (execution,) = automation.executions.executions(rule="finra-ingest-failed")
    assert execution.status is ExecutionStatus.SUCCESS, execution.actions_executed
    assert {a["name"] for a in execution.actions_executed} == {"alert-oncall", "email-oncall"}
    (alert,) = automation.inbox.alerts()
    assert alert.title == f"finra.weekly_ingest failed: run {run.run_id}"
    assert "NOT_FRIDAY" in alert.message
    assert [(r.type, r.name) for r in alert.recipients] == [(RecipientType.ROLE, ROLE)]
    assert automation.inbox.alerts(user="ada@example.com") == [alert]
    with services.database.read() as conn:
        deliveries = conn.execute(sa.select(deliveries_t.c.channel, deliveries_t.c.status)).all()
    assert [tuple(d) for d in deliveries] == [("email", "pending")]  # for `spine worker`


def test_before_anyone_is_on_call_the_alert_is_made_and_the_email_says_why_not(
    services: Services,
) -> None:
    _failed_run(services)

    automation = services.automation
    (execution,) = automation.executions.executions(rule="finra-ingest-failed")
    assert execution.status is ExecutionStatus.PARTIAL
    outcome = {a["name"]: a for a in execution.actions_executed}
    assert outcome["alert-oncall"]["status"] == "success"
    assert "has no members" in outcome["email-oncall"]["error"]
    assert len(automation.inbox.alerts()) == 1


def test_setting_up_twice_creates_nothing_more_and_keeps_a_users_change(
    services: Services,
) -> None:
    created = ensure_automation(services)
    rules = services.automation.rules
    rules.disable("finra-ingest-failed")

    again = ensure_automation(services)

    assert created == ["finra-oncall-alert", "finra-ingest-failed"]
    assert again == []
    assert rules.rule("finra-ingest-failed").is_active is False
    assert [e.name for e in services.automation.entities.entities()] == [WATCHED]
    assert [r.name for r in services.tenancy.roles(actor=services.actor)] == [ROLE]


def test_the_rule_fires_for_a_failed_weekly_ingest_only(services: Services) -> None:
    ensure_automation(services)
    rules = services.automation.rules
    completed = {**FAILED, "status": "COMPLETED"}
    other = {**FAILED, "workflow_name": "finra.other"}

    failed = rules.test("finra-ingest-failed", _event(RUNNING, FAILED)).to_dict()

    assert failed["matched"] is True
    assert [a["name"] for a in failed["actions"]] == ["alert-oncall", "email-oncall"]
    assert failed["actions"][0]["config"]["title"] == "finra.weekly_ingest failed: run R1"
    assert rules.test("finra-ingest-failed", _event(RUNNING, completed)).matched is False
    assert rules.test("finra-ingest-failed", _event(RUNNING, other)).matched is False
    assert rules.test("finra-ingest-failed", _event(FAILED, FAILED)).matched is False
    assert {r["name"] for r in declared()["rules"]} == {"finra-ingest-failed"}
    assert AUTOMATION_FILE.name == "automation.yaml"
