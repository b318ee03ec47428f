"""Alerts for people: listed for a user by user or role, acknowledged, dismissed, decided."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from spine.automation.errors import AlertNotFound
from spine.automation.models import AlertStatus, Decision, Operation
from spine.automation.people import AlertInbox, alert_to_dict
from spine.automation.store.alerts import AlertStore, resolve_expired
from spine.automation.store.changes import ChangeLog
from spine.core.errors import Conflict, InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.automation import entities, entity_types
from spine.tenancy import Actor
from tests.automation.people_fixtures import People, make_people


@pytest.fixture
def people(db: Database) -> People:
    return make_people(db)


def _inbox(people: People, actor: Actor | None = None) -> AlertInbox:
    return AlertInbox(AlertStore(people.db, actor or people.actor), people.clock)


def _watch_alerts(people: People) -> None:
    # What `spine automation watch alerts` leaves behind: an active entity row.
    with people.db.write() as conn:
        type_id = conn.execute(
            sa.select(entity_types.c.id).where(entity_types.c.name == "table")
        ).scalar_one()
        conn.execute(
            sa.insert(entities).values(
                id=uuid.uuid4(),
                name="alerts",
                entity_type_id=type_id,
                is_active=True,
                created_date=people.clock.now(),
                workspace_id=people.actor.workspace_id,
            )
        )


def test_a_user_sees_alerts_addressed_to_them_or_their_roles(people: People) -> None:
    to_role = people.alert("oncall", title="role")
    to_bob = people.alert("bob@example.com", title="bob")
    people.clock.advance(seconds=1)
    to_both = people.alert("desk", "ada@example.com", title="both")
    inbox = _inbox(people)

    listed = [a.id for a in inbox.alerts()]
    assert listed[0] == to_both and set(listed) == {to_both, to_bob, to_role}
    assert {a.id for a in inbox.alerts("ada@example.com")} == {to_role, to_both}
    assert [a.id for a in inbox.alerts("bob@example.com")] == [to_bob]
    assert [a.id for a in inbox.alerts("cy@example.com")] == [to_both]
    ada = people.tenancy.users()[0].id
    assert {a.id for a in inbox.mine(ada)} == {to_role, to_both}
    shown = alert_to_dict(inbox.alert(to_both))
    assert sorted((r["recipient_type"], r["name"]) for r in shown["recipients"]) == [
        ("role", "desk"),
        ("user", "ada@example.com"),
    ]
    assert {"id", "alert_type", "severity", "title", "message", "context", "status"} <= set(shown)
    assert {"expires_date", "created_date", "updated_date", "source_rule_id"} <= set(shown)
    assert {"recipients", "workspace_id", "decision"} <= set(shown)
    first = inbox.alerts(limit=1)
    assert len(first) == 1
    assert len(inbox.alerts(limit=5, after=first[0].id)) == 2


def test_acknowledging_needs_a_recipient_and_records_notes(people: People) -> None:
    alert_id = people.alert("oncall")
    inbox = _inbox(people)

    for outsider in ("bob@example.com", "cy@example.com"):
        with pytest.raises(AlertNotFound):
            inbox.acknowledge(alert_id, user=outsider)
    people.clock.advance(seconds=5)
    acked = inbox.acknowledge(alert_id, user="ada@example.com", notes="on it")

    assert acked.status is AlertStatus.ACKNOWLEDGED
    assert acked.updated_date == people.clock.now()
    assert [(a["email"], a["notes"]) for a in acked.acknowledgments] == [
        ("ada@example.com", "on it")
    ]
    with pytest.raises(InvalidInput, match="unknown user"):
        inbox.acknowledge(alert_id, user="zed@example.com")
    with pytest.raises(AlertNotFound):
        inbox.acknowledge(uuid.uuid4(), user="ada@example.com")
    with pytest.raises(AlertNotFound):
        inbox.acknowledge("not-an-id", user="ada@example.com")


def test_dismissed_alerts_take_no_more_answers(people: People) -> None:
    alert_id = people.alert("bob@example.com")
    inbox = _inbox(people)

    with pytest.raises(AlertNotFound):
        inbox.dismiss(alert_id, user="ada@example.com")
    dismissed = inbox.dismiss(alert_id, user="bob@example.com")

    assert dismissed.status is AlertStatus.DISMISSED
    assert dismissed.acknowledgments == ()
    with pytest.raises(Conflict, match="dismissed"):
        inbox.acknowledge(alert_id, user="bob@example.com")
    assert [a.id for a in inbox.alerts(status=AlertStatus.DISMISSED)] == [alert_id]


def test_an_approval_is_decided_once_and_its_change_is_logged_when_watched(
    people: People,
) -> None:
    plain = people.alert("oncall")
    approval = people.alert("oncall", alert_type="approval")
    _watch_alerts(people)
    inbox = _inbox(people)

    with pytest.raises(InvalidInput, match="no approval"):
        inbox.decide(plain, Decision.APPROVED, user="ada@example.com")
    with pytest.raises(AlertNotFound):
        inbox.decide(approval, Decision.APPROVED, user="bob@example.com")
    decided = inbox.decide(approval, Decision.APPROVED, user="ada@example.com", notes="go")
    again = inbox.decide(approval, Decision.APPROVED, user="ada@example.com")

    assert decided.decision is Decision.APPROVED
    assert decided.decided_by == people.tenancy.users()[0].id
    assert decided.status is AlertStatus.ACKNOWLEDGED
    assert len(again.acknowledgments) == 2
    with pytest.raises(Conflict, match="already approved"):
        inbox.decide(approval, Decision.REJECTED, user="ada@example.com")
    log = ChangeLog(people.db)
    log.sequence()
    changes = log.read(0, 10)
    assert [c.operation for c in changes] == [Operation.UPDATE, Operation.UPDATE]
    assert changes[0].old is not None and changes[0].old["decision"] is None
    assert changes[0].new is not None and changes[0].new["decision"] == "approved"
    assert changes[0].workspace_id == people.actor.workspace_id
    assert changes[0].table_name == "alerts"


def test_alerts_of_another_workspace_are_not_found(people: People) -> None:
    alert_id = people.alert("ada@example.com")
    people.tenancy.create_organization("acme")
    other = Actor(workspace_id=people.tenancy.create_workspace("x", "acme", people.actor).id)
    theirs = _inbox(people, other)

    assert theirs.alerts() == []
    with pytest.raises(AlertNotFound):
        theirs.alert(alert_id)
    with pytest.raises(AlertNotFound):
        theirs.acknowledge(alert_id, user="ada@example.com")


def test_expired_alerts_are_resolved(people: People) -> None:
    soon = people.alert("oncall", expires_in=timedelta(minutes=5))
    later = people.alert("oncall", expires_in=timedelta(hours=5))
    never = people.alert("oncall")
    inbox = _inbox(people)
    inbox.acknowledge(soon, user="ada@example.com")

    assert resolve_expired(people.db, people.clock.now()) == 0
    assert resolve_expired(people.db, people.clock.now() + timedelta(minutes=5)) == 1
    assert resolve_expired(people.db, people.clock.now() + timedelta(minutes=5)) == 0

    status = {a.id: a.status for a in inbox.alerts()}
    assert status == {
        soon: AlertStatus.RESOLVED,
        later: AlertStatus.ACTIVE,
        never: AlertStatus.ACTIVE,
    }
