"""The rule service and store on SQLite and PostgreSQL: save, read, refuse, switch, remove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from spine.automation.errors import RuleNotFound
from spine.automation.models import ActionType, Operator, TriggerType
from spine.automation.service import RuleService, rule_to_dict
from spine.automation.store.rules import RuleStore
from spine.bootstrap import build
from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.core.errors import Conflict, InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.automation import automation_rules, rule_actions
from spine.core.storage.schema.dq_platform import audit_log
from spine.tenancy import DEFAULT_WORKSPACE_ID, Actor

from .rule_helpers import START, Tables, action, rule_service, shipped


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def tables(db: Database, clock: FrozenClock) -> Tables:
    made = Tables(db, DEFAULT_WORKSPACE_ID, clock)
    made.watch("orders", ["id", "status", "amount", "region"])
    return made


@pytest.fixture
def rules(db: Database, clock: FrozenClock, tables: Tables) -> RuleService:
    return rule_service(db, clock, tables)


def _count(db: Database, table: sa.Table) -> int:
    return db.run_read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    )


def test_a_rule_is_saved_with_its_actions_and_reads_back_as_its_spec(rules: RuleService) -> None:
    rule = rules.create(shipped(description="tell people"))

    assert rule.trigger is TriggerType.ON_UPDATE
    assert rule.conditions[0].operator is Operator.CHANGED_TO
    assert [a.name for a in rule.actions] == ["tell-oncall"]
    assert rule.actions[0].action_type is ActionType.CREATE_ALERT
    assert rules.rule("shipped") == rule
    assert rules.rule(str(rule.id)) == rule
    shown = rule_to_dict(rule)
    spec = shipped(description="tell people")
    for key in ("name", "entity", "trigger", "conditions", "depends_on", "description"):
        assert shown[key] == spec[key], key
    assert shown["actions"][0]["config"] == spec["actions"][0]["config"]
    assert shown["id"] == str(rule.id)
    assert shown["workspace_id"] == str(DEFAULT_WORKSPACE_ID)


def test_the_dispatchers_reads_see_active_rules_of_every_workspace(
    db: Database, clock: FrozenClock, rules: RuleService
) -> None:
    first = rules.create(shipped())
    rules.create(shipped(name="off", is_active=False))
    store = RuleStore(db, clock)

    assert [r.name for r in store.active_rules_for("orders")] == ["shipped"]
    assert store.active_rules_for("other") == []
    assert store.rule_by_id(first.id) == first


def test_actions_come_in_execution_order_and_keep_their_ids_on_update(
    rules: RuleService,
) -> None:
    rule = rules.create(shipped(actions=[action("b", 2), action("a", 1), action("c", 2)]))
    assert [(a.name, a.execution_order) for a in rule.actions] == [("a", 1), ("b", 2), ("c", 2)]
    ids = {a.name: a.id for a in rule.actions}

    again = rules.update("shipped", shipped(actions=[action("a", 3), action("d", 1)]))

    assert [a.name for a in again.actions] == ["d", "a"]
    assert {a.name: a.id for a in again.actions}["a"] == ids["a"]


BAD_RULES: list[tuple[dict[str, object], str]] = [
    ({"conditions": [{"field_name": "status", "operator": "is", "value": 1}]}, "operator"),
    ({"conditions": [{"field_name": "sttus", "operator": "equals", "value": 1}]}, "sttus"),
    ({"conditions": [{"field_name": "status", "operator": "in", "value": "a"}]}, "list"),
    (
        {"conditions": [{"field_name": "amount", "operator": "greater_than", "value": [1]}]},
        "one value",
    ),
    ({"conditions": [{"field_name": "status", "operator": "changed_from"}]}, "previous_value"),
    ({"trigger": "on_upsert"}, "trigger"),
    ({"trigger": "scheduled"}, "cron"),
    ({"trigger": "scheduled", "cron": "61 * * * *", "conditions": []}, "cron"),
    ({"trigger": "scheduled", "cron": "0 8 * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({"entity": "nowhere"}, "not watched"),
    ({"actions": [{"name": "x", "type": "fax", "config": {}}]}, "type"),
    ({"actions": [{"name": "x", "type": "create_alert", "template": "nope"}]}, "nope"),
    ({"actions": [{"name": "x", "type": "create_alert", "config": {"t": "{{ x"}}]}, "template"),
    ({"depends_on": ["shipped"]}, "itself"),
    ({"depends_on": ["ghost"]}, "ghost"),
]


def test_a_bad_rule_is_refused_in_one_line_naming_rule_and_field(
    db: Database, rules: RuleService
) -> None:
    # One database for every case: each refusal must leave it empty.
    for change, message in BAD_RULES:
        with pytest.raises(InvalidInput) as caught:
            rules.create(shipped(**change))
        text = str(caught.value)
        assert "\n" not in text, change
        assert text.startswith("rule 'shipped': "), text
        assert message in text, (message, text)
    assert _count(db, automation_rules) == 0


def test_a_scheduled_rule_refuses_transition_operators(rules: RuleService) -> None:
    with pytest.raises(InvalidInput, match="scheduled"):
        rules.create(shipped(trigger="scheduled", cron="0 8 * * *"))


def test_circular_dependencies_are_refused(db: Database, rules: RuleService) -> None:
    rules.create(shipped(name="a"))
    rules.create(shipped(name="b", depends_on=["a"]))
    rules.create(shipped(name="c", depends_on=["b"]))

    with pytest.raises(InvalidInput, match="circular dependency a -> c -> b -> a"):
        rules.update("a", shipped(name="a", depends_on=["c"]))
    assert rules.rule("a").depends_on == ()
    assert rules.rule("c").depends_on == ("b",)


def test_a_renamed_parent_stays_its_childrens_parent(rules: RuleService) -> None:
    rules.create(shipped(name="parent"))
    rules.create(shipped(name="child", depends_on=["parent"]))

    rules.update("parent", shipped(name="renamed"))

    assert rules.rule("child").depends_on == ("renamed",)


def test_names_are_unique_per_workspace_and_workspaces_are_isolated(
    db_url: str, db: Database, clock: FrozenClock, rules: RuleService
) -> None:
    rules.create(shipped())
    with pytest.raises(Conflict):
        rules.create(shipped())
    services = build(load_settings(database_url=db_url), clock=clock)
    try:
        workspace = services.tenancy.create_workspace("other", "default", services.actor)
    finally:
        services.close()
    elsewhere = Tables(db, workspace.id, clock)
    elsewhere.watch("orders", ["id", "status"])
    other = rule_service(db, clock, elsewhere)

    assert other.rules() == []
    with pytest.raises(RuleNotFound):
        other.rule("shipped")
    with pytest.raises(RuleNotFound):
        other.rule(str(rules.rule("shipped").id))
    mine = other.create(shipped())
    assert mine.workspace_id == workspace.id
    assert len(RuleStore(db, clock).active_rules_for("orders")) == 2


def test_disable_enable_and_remove(db: Database, rules: RuleService) -> None:
    rules.create(shipped())

    assert rules.disable("shipped").is_active is False
    assert rules.enable("shipped").is_active is True
    removed = rules.remove("shipped")

    assert removed.name == "shipped"
    assert rules.rules() == []
    assert _count(db, rule_actions) == 0
    with pytest.raises(RuleNotFound):
        rules.remove("shipped")


def test_a_parent_is_not_removed_while_a_child_depends_on_it(rules: RuleService) -> None:
    rules.create(shipped(name="parent"))
    rules.create(shipped(name="child", depends_on=["parent"]))

    with pytest.raises(Conflict, match="child"):
        rules.remove("parent")
    rules.remove("child")
    rules.remove("parent")


def test_a_scheduled_rule_gets_its_next_fire_and_keeps_it_until_its_cron_changes(
    rules: RuleService, clock: FrozenClock
) -> None:
    spec = shipped(
        trigger="scheduled",
        cron="0 8 * * *",
        timezone="Europe/Zurich",
        conditions=[{"field_name": "status", "operator": "equals", "value": "late"}],
    )
    rule = rules.create(spec)
    assert rule.schedule is not None and rule.schedule.max_rows == 1000
    assert rule.next_fire_at == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)

    clock.advance(timedelta(days=2))
    assert rules.update("shipped", {**spec, "description": "x"}).next_fire_at == rule.next_fire_at
    moved = rules.update("shipped", {**spec, "cron": "30 9 * * *"})
    assert moved.next_fire_at == datetime(2026, 12, 4, 8, 30, tzinfo=UTC)
    rules.disable("shipped")
    assert rules.enable("shipped").next_fire_at == moved.next_fire_at


def test_changes_are_audited(db: Database, rules: RuleService) -> None:
    rules.create(shipped())
    rules.update("shipped", shipped(description="now described"))
    rules.remove("shipped")

    rows = db.run_read(
        lambda conn: conn.execute(
            sa.select(audit_log.c.action, audit_log.c.changes)
            .where(audit_log.c.entity_type == "automation_rule")
            .order_by(audit_log.c.created_at, audit_log.c.id)
        ).all()
    )
    assert [row.action for row in rows] == ["create", "update", "delete"]
    assert rows[1].changes["description"] == {"old": None, "new": "now described"}


def test_an_update_that_changes_nothing_writes_no_audit_row(
    db: Database, rules: RuleService
) -> None:
    rules.create(shipped())
    before = _count(db, audit_log)
    rules.update("shipped", shipped())
    assert _count(db, audit_log) == before


def test_a_test_event_shows_each_condition_and_the_rendered_actions(rules: RuleService) -> None:
    rules.create(shipped())
    event = {
        "operation": "update",
        "old": {"id": 7, "status": "new"},
        "new": {"id": 7, "status": "shipped"},
    }

    result = rules.test("shipped", event).to_dict()

    assert result["matched"] is True
    assert result["trigger_matched"] is True
    assert result["conditions"][0]["matched"] is True
    assert "status changed" in result["conditions"][0]["reason"]
    assert result["actions"][0]["config"]["title"] == "Order 7 shipped"
    assert result["actions"][0]["config"]["message"] == "status was new"

    other = rules.test("shipped", {"trigger": "on_create", "new": {"id": 1, "status": "shipped"}})
    assert other.matched is False
    assert other.trigger_matched is False


def test_a_malformed_test_event_is_refused(rules: RuleService) -> None:
    rules.create(shipped())
    with pytest.raises(InvalidInput, match="operation"):
        rules.test("shipped", {"operation": "merge"})
    with pytest.raises(InvalidInput, match="old"):
        rules.test("shipped", {"operation": "update", "new": {}})


def test_a_rule_of_a_user_records_the_user(
    db: Database, clock: FrozenClock, tables: Tables
) -> None:
    # The CLI has no user: the rule is made by spine's operator user.
    service = rule_service(db, clock, tables, Actor())
    rule = service.create(shipped())
    made_by = db.run_read(
        lambda conn: conn.execute(
            sa.select(automation_rules.c.created_by).where(automation_rules.c.id == rule.id)
        ).scalar_one()
    )
    assert made_by is not None
