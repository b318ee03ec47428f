"""Executions as the dashboard reads them: many rules' newest at once, one's deliveries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from spine.automation.executions import ExecutionService
from spine.automation.models import (
    Change,
    DeliveryChannel,
    DeliveryStatus,
    ExecutionStatus,
    Operation,
)
from spine.automation.store.changes import ChangeLog
from spine.automation.store.deliveries import NewDelivery, insert_deliveries
from spine.automation.store.executions import ExecutionStore
from spine.core.clock import FrozenClock
from spine.core.errors import InvalidInput
from spine.core.storage import Database
from spine.tenancy import DEFAULT_WORKSPACE_ID, Actor
from tests.automation.dispatch_support import AT, make_rule


def _change(position: int) -> Change:
    return Change(
        position=position,
        table_name="orders",
        schema_name=None,
        operation=Operation.UPDATE,
        old={"id": 1, "status": "a"},
        new={"id": 1, "status": "b"},
    )


def _service(db: Database, workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID) -> ExecutionService:
    actor = Actor(workspace_id=workspace_id)
    return ExecutionService(ExecutionStore(db, actor=actor), ChangeLog(db), FrozenClock(AT))


def test_each_rule_gets_its_newest_executions_newest_first(db: Database) -> None:
    busy, quiet, idle = make_rule(db, "busy"), make_rule(db, "quiet"), make_rule(db, "idle")
    system = ExecutionStore(db, actor=Actor(system=True))
    for position in range(1, 8):
        status = ExecutionStatus.FAILED if position == 7 else ExecutionStatus.SUCCESS
        at = AT + timedelta(minutes=position)
        system.record(busy, _change(position), status=status, error="e", at=at)
    system.record(quiet, _change(3), status=ExecutionStatus.SUCCESS, error="", at=AT)

    found = _service(db).latest_by_rule([busy.id, quiet.id, idle.id], per_rule=3)

    assert [e.change_position for e in found[busy.id]] == [7, 6, 5]
    assert found[busy.id][0].status is ExecutionStatus.FAILED
    assert found[busy.id][0].rule_name == "busy"
    assert [e.change_position for e in found[quiet.id]] == [3]
    assert found[idle.id] == []


def test_another_workspaces_rule_has_no_executions_here(db: Database) -> None:
    rule = make_rule(db, "mine")
    ExecutionStore(db, actor=Actor(system=True)).record(
        rule, _change(1), status=ExecutionStatus.SUCCESS, error="", at=AT
    )
    elsewhere = _service(db, uuid.uuid4())

    assert elsewhere.latest_by_rule([rule.id]) == {rule.id: []}
    assert _service(db).latest_by_rule([]) == {}


def test_the_request_is_bounded(db: Database) -> None:
    service = _service(db)
    with pytest.raises(InvalidInput):
        service.latest_by_rule([uuid.uuid4()], per_rule=0)
    with pytest.raises(InvalidInput):
        service.latest_by_rule([uuid.uuid4() for _ in range(501)])


def test_an_executions_deliveries_with_their_attempts(db: Database) -> None:
    rule = make_rule(db, "tell")
    system = ExecutionStore(db, actor=Actor(system=True))
    execution_id = system.record(rule, _change(1), status=ExecutionStatus.SUCCESS, error="", at=AT)
    other = system.record(rule, _change(2), status=ExecutionStatus.SUCCESS, error="", at=AT)
    with db.write() as conn:
        for made_by, channels in ((execution_id, ("email", "in_app")), (other, ("in_app",))):
            insert_deliveries(
                conn,
                workspace_id=DEFAULT_WORKSPACE_ID,
                notification_id=uuid.uuid4(),
                deliveries=[
                    NewDelivery(
                        recipient_id="ada@example.com", channel=DeliveryChannel(c), payload={}
                    )
                    for c in channels
                ],
                now=AT,
                execution_id=made_by,
                rule_id=rule.id,
                action_id=rule.actions[0].id,
            )
    service = _service(db)
    execution = service.execution(execution_id)

    found = service.deliveries(execution)

    assert sorted((d.channel, d.status, d.attempts) for d in found) == [
        (DeliveryChannel.EMAIL, DeliveryStatus.PENDING, 0),
        (DeliveryChannel.IN_APP, DeliveryStatus.DELIVERED, 1),
    ]
    assert _service(db, uuid.uuid4()).deliveries(execution) == []
