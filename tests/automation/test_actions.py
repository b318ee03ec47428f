"""Each action's handler on a real connection, inside the transaction that keeps its result."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine import Step, Workflow
from spine.automation.actions.registry import build_handlers
from spine.automation.errors import ActionFailed
from spine.automation.models import (
    ActionContext,
    ActionHandler,
    ActionType,
    AlertStatus,
    Change,
    Decision,
    DeliveryChannel,
    DeliveryStatus,
    Operation,
)
from spine.automation.people import AlertInbox
from spine.automation.store.alerts import AlertStore
from spine.automation.store.deliveries import DeliveryStore
from spine.config import Settings
from spine.core.errors import InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries, core_alerts
from spine.core.storage.schema.automation import automation_executions
from spine.core.storage.schema.workflow_history import core_workflow_runs
from spine.orchestration.workflow import WorkflowRegistry
from tests.automation.action_fixtures import Stage, make_stage, update


@pytest.fixture
def stage(db: Database) -> Stage:
    return make_stage(db)


@pytest.fixture
def handlers(db: Database, stage: Stage) -> dict[ActionType, ActionHandler]:
    return build_handlers(db, stage.people.clock, Settings(database_url="sqlite://"))


def _perform(stage: Stage, handler: ActionHandler, ctx: ActionContext) -> Mapping[str, Any]:
    with stage.db.write() as conn:
        return handler.perform(conn, ctx)


def _inbox(stage: Stage) -> AlertInbox:
    return AlertInbox(AlertStore(stage.db, stage.people.actor), stage.people.clock)


def test_every_action_type_has_a_handler(handlers: dict[ActionType, ActionHandler]) -> None:
    assert set(handlers) == set(ActionType)
    assert all(h.action_type is t for t, h in handlers.items())


def test_create_alert_addresses_users_and_roles_and_routes_to_channels(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    handler = handlers[ActionType.CREATE_ALERT]
    config = {
        "severity": "high",
        "title": "Order 1 rejected",
        "message": "status was new",
        "recipients": [
            {"type": "role", "name": "oncall"},
            {"type": "user", "email": "bob@example.com"},
        ],
        "expires_in": "2h",
        "context": {"order": "1"},
        "route": True,
    }
    handler.validate(config, workspace_id=stage.rule.workspace_id)

    ctx = stage.context(ActionType.CREATE_ALERT, config)
    result = _perform(stage, handler, ctx)

    alert = _inbox(stage).alert(result["alert_id"])
    assert result["recipients"] == ["role:oncall", "user:bob@example.com"]
    assert (alert.title, alert.severity.value, alert.alert_type) == (
        "Order 1 rejected",
        "high",
        "automation",
    )
    assert alert.expires_date == stage.people.clock.now() + timedelta(hours=2)
    assert alert.source_rule_id == stage.rule.id and alert.source_entity_name == "orders"
    assert alert.context["order"] == "1" and alert.context["execution_id"] == str(ctx.execution_id)
    assert [a.id for a in _inbox(stage).alerts("ada@example.com")] == [alert.id]
    assert _inbox(stage).alerts("cy@example.com") == []
    with stage.db.read() as conn:
        routed = (
            conn.execute(
                sa.select(core_alerts).where(core_alerts.c.id == result["routed_alert_id"])
            )
            .mappings()
            .one()
        )
    assert (routed["severity"], routed["source"], routed["domain"]) == (
        "ERROR",
        "automation",
        "orders",
    )


def test_create_alert_fails_in_one_line_on_an_unknown_recipient(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    handler = handlers[ActionType.CREATE_ALERT]
    config = {"title": "t", "message": "m", "recipients": ["nobody-role"]}
    ctx = stage.context(ActionType.CREATE_ALERT, config)

    with pytest.raises(ActionFailed, match="unknown role 'nobody-role'"):
        _perform(stage, handler, ctx)
    for bad, key in (
        ({"message": "m", "recipients": ["x"]}, "title"),
        ({"title": "t", "message": "m", "recipients": [{"type": "team"}]}, "recipients"),
        ({"title": "t", "message": "m", "recipients": ["x"], "severity": "urgent"}, "severity"),
        ({"title": "t", "message": "m", "recipients": ["x"], "expires_in": "soon"}, "expires_in"),
    ):
        with pytest.raises(InvalidInput, match=key):
            handler.validate(bad, workspace_id=stage.rule.workspace_id)


def test_seek_approval_makes_an_approval_its_recipients_decide(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    config = {
        "title": "Release week 48?",
        "message": "m",
        "recipients": [{"type": "role", "name": "desk"}],
    }
    ctx = stage.context(ActionType.SEEK_APPROVAL, config)

    result = _perform(stage, handlers[ActionType.SEEK_APPROVAL], ctx)
    decided = _inbox(stage).decide(result["alert_id"], Decision.REJECTED, user="cy@example.com")

    assert decided.alert_type == "approval"
    assert decided.decision is Decision.REJECTED and decided.status is AlertStatus.ACKNOWLEDGED


def _email_channel(stage: Stage, port: int = 25) -> None:
    stage.alerting.add_channel(
        "mail",
        "email",
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "from": "spine@example.com",
            "recipients": ["x@example.com"],
        },
    )


def test_send_notification_writes_one_delivery_per_recipient_and_channel(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    _email_channel(stage)
    stage.people.tenancy.assign_role("desk", "bob@example.com")
    handler = handlers[ActionType.SEND_NOTIFICATION]
    config = {
        "recipients": [
            {"type": "role", "name": "desk"},
            {"type": "user", "email": "bob@example.com"},
        ],
        "channels": ["email", "in_app"],
        "title": "Row 1 rejected",
        "message": "new -> rejected",
    }
    handler.validate(config, workspace_id=stage.rule.workspace_id)
    ctx = stage.context(ActionType.SEND_NOTIFICATION, config)

    result = _perform(stage, handler, ctx)

    rows = DeliveryStore(stage.db).deliveries(notification_id=uuid.UUID(result["notification_id"]))
    assert result["deliveries"] == 4 and result["channels"] == {"email": 2, "in_app": 2}
    users = {u.email: str(u.id) for u in stage.people.tenancy.users()}
    assert sorted((d.recipient_id, d.channel.value, d.status.value) for d in rows) == sorted(
        [
            (users["bob@example.com"], "email", "pending"),
            (users["bob@example.com"], "in_app", "delivered"),
            (users["cy@example.com"], "email", "pending"),
            (users["cy@example.com"], "in_app", "delivered"),
        ]
    )
    in_app = [d for d in rows if d.channel is DeliveryChannel.IN_APP]
    assert all(d.delivered_at == stage.people.clock.now() and d.attempts == 1 for d in in_app)
    assert all(d.rule_id == stage.rule.id and d.action_id == ctx.action.id for d in rows)
    with pytest.raises(InvalidInput, match="apprise_channel"):
        handler.validate({**config, "channels": ["sms"]}, workspace_id=stage.rule.workspace_id)
    with pytest.raises(InvalidInput, match="channels"):
        handler.validate({**config, "channels": ["fax"]}, workspace_id=stage.rule.workspace_id)


def test_send_notification_by_email_needs_an_email_channel(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    config = {"recipients": ["ada@example.com"], "channels": ["email"], "message": "m"}
    ctx = stage.context(ActionType.SEND_NOTIFICATION, config)

    with pytest.raises(ActionFailed, match="alert channel of type email"):
        _perform(stage, handlers[ActionType.SEND_NOTIFICATION], ctx)
    assert DeliveryStore(stage.db).deliveries() == []


def test_send_email_writes_one_pending_delivery_per_address(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    _email_channel(stage)
    config = {
        "to": ["desk@example.com", {"type": "role", "name": "oncall"}, "ada@example.com"],
        "subject": "Row 1 rejected",
        "body": "see spine",
    }
    handlers[ActionType.SEND_EMAIL].validate(config, workspace_id=stage.rule.workspace_id)

    _perform(stage, handlers[ActionType.SEND_EMAIL], stage.context(ActionType.SEND_EMAIL, config))

    rows = DeliveryStore(stage.db).deliveries()
    assert sorted(d.recipient_id for d in rows) == ["ada@example.com", "desk@example.com"]
    assert {(d.channel, d.status, d.attempts) for d in rows} == {
        (DeliveryChannel.EMAIL, DeliveryStatus.PENDING, 0)
    }


def test_run_workflow_starts_one_run_per_action_key_linked_to_the_execution(
    stage: Stage, db: Database
) -> None:
    registry = WorkflowRegistry()
    Workflow("cleanup", [Step.lambda_("s", lambda ctx: None)], registry=registry)
    handler = build_handlers(
        db, stage.people.clock, Settings(database_url="sqlite://"), registry=registry
    )[ActionType.RUN_WORKFLOW]
    config = {"workflow": "cleanup", "params": {"order": "1"}, "partition_key": "1"}
    ctx = stage.context(ActionType.RUN_WORKFLOW, config)

    first = _perform(stage, handler, ctx)
    again = _perform(stage, handler, ctx)  # a replay after a lost result

    assert first["started"] is True and again["started"] is False
    assert first["run_id"] == again["run_id"]
    with db.read() as conn:
        runs = conn.execute(sa.select(core_workflow_runs)).mappings().all()
    assert len(runs) == 1
    run = runs[0]
    assert (run["workflow_name"], run["status"], run["triggered_by"]) == (
        "cleanup",
        "PENDING",
        "automation",
    )
    assert run["created_by"] == f"automation:{ctx.execution_id}"
    assert run["idempotency_key"] == ctx.idempotency_key
    assert run["params"] == {"order": "1"} and run["workspace_id"] == stage.rule.workspace_id
    unknown = stage.context(ActionType.RUN_WORKFLOW, {"workflow": "nope"})
    with pytest.raises(ActionFailed, match="nope"):
        _perform(stage, handler, unknown)


def test_call_webhook_enqueues_a_signed_delivery_through_the_outbox(
    stage: Stage, handlers: dict[ActionType, ActionHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    stage.alerting.webhooks.add(
        "orders-hook",
        url="http://127.0.0.1:9/x",
        events="incident.created",
        secret="env:HOOK_SECRET",
    )
    config = {"webhook": "orders-hook", "event": "order.rejected", "data": {"order": "1"}}
    handler = handlers[ActionType.CALL_WEBHOOK]
    handler.validate(config, workspace_id=stage.rule.workspace_id)

    result = _perform(stage, handler, stage.context(ActionType.CALL_WEBHOOK, config))

    with stage.db.read() as conn:
        message = (
            conn.execute(sa.select(core_alerts).where(core_alerts.c.id == result["message_id"]))
            .mappings()
            .one()
        )
        deliveries = (
            conn.execute(
                sa.select(core_alert_deliveries).where(
                    core_alert_deliveries.c.alert_id == result["message_id"]
                )
            )
            .mappings()
            .all()
        )
    assert [(d["channel_name"], d["status"]) for d in deliveries] == [
        ("webhook:orders-hook", "PENDING")
    ]
    metadata = message["metadata_json"]
    assert metadata["webhook_event"] == "order.rejected"
    assert metadata["data"]["order"] == "1" and metadata["data"]["rule"] == "watch-orders"
    missing = stage.context(ActionType.CALL_WEBHOOK, {"webhook": "nope"})
    with pytest.raises(ActionFailed, match="no webhook named 'nope'"):
        _perform(stage, handler, missing)


def test_update_field_sets_a_column_of_the_changed_row(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    handler = handlers[ActionType.UPDATE_FIELD]
    config = {"field": "note", "value": "seen by watch-orders"}
    handler.validate(config, workspace_id=stage.rule.workspace_id)

    result = _perform(stage, handler, stage.context(ActionType.UPDATE_FIELD, config))

    with stage.db.read() as conn:
        note = conn.execute(sa.text("SELECT note FROM orders WHERE id = 1")).scalar_one()
    assert note == "seen by watch-orders"
    assert result == {"table": "orders", "field": "note", "key": {"id": 1}, "updated": 1}
    gone = stage.context(ActionType.UPDATE_FIELD, config, change=update(2, {}, {"status": "x"}))
    with pytest.raises(ActionFailed, match="it is gone"):
        _perform(stage, handler, gone)
    no_column = stage.context(ActionType.UPDATE_FIELD, {"field": "nope", "value": 1})
    with pytest.raises(ActionFailed, match="cannot update orders"):
        _perform(stage, handler, no_column)
    deleted = Change(
        position=8,
        table_name="orders",
        schema_name=None,
        operation=Operation.DELETE,
        old={"id": 1},
        new=None,
    )
    with pytest.raises(ActionFailed, match="deleted"):
        _perform(stage, handler, stage.context(ActionType.UPDATE_FIELD, config, change=deleted))
    with pytest.raises(InvalidInput, match="value"):
        handler.validate({"field": "note"}, workspace_id=stage.rule.workspace_id)


def test_alerts_and_deliveries_link_to_an_execution_already_recorded(
    stage: Stage, handlers: dict[ActionType, ActionHandler]
) -> None:
    config = {
        "title": "t",
        "message": "m",
        "recipients": ["ada@example.com"],
        "channels": ["in_app"],
    }
    ctx = stage.context(ActionType.CREATE_ALERT, config)
    with stage.db.write() as conn:
        conn.execute(
            sa.insert(automation_executions).values(
                id=ctx.execution_id,
                automation_rules_id=stage.rule.id,
                entity_type="orders",
                status="success",
                executed_at=ctx.now,
                workspace_id=stage.rule.workspace_id,
                change_position=ctx.change.position,
            )
        )

    alert = _perform(stage, handlers[ActionType.CREATE_ALERT], ctx)
    notified = _perform(
        stage, handlers[ActionType.SEND_NOTIFICATION], replace(ctx, config={**config})
    )

    assert _inbox(stage).alert(alert["alert_id"]).automation_execution_id == ctx.execution_id
    [row] = DeliveryStore(stage.db).deliveries(execution_id=ctx.execution_id)
    assert str(row.notification_id) == notified["notification_id"]
