"""Scheduled rules on a frozen clock: due rules select matching rows, one change per row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from spine.automation.conditions import matches
from spine.automation.models import Operation
from spine.automation.scheduled import RuleScheduling
from spine.automation.service import RuleService
from spine.automation.store.changes import ChangeLog
from spine.automation.store.scheduled import ScheduledRuleStore, _change
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.tenancy import DEFAULT_WORKSPACE_ID

from .rule_helpers import START, Tables, rule_service

ORDERS = [
    {"id": 1, "status": "late", "amount": 150, "region": "EU-west", "paid": True},
    {"id": 2, "status": "late", "amount": 90, "region": "US", "paid": False},
    {"id": 3, "status": "shipped", "amount": 500, "region": "eu-north", "paid": True},
    {"id": 4, "status": "late", "amount": 1000, "region": None, "paid": None},
    {"id": 5, "status": None, "amount": None, "region": "EU-south", "paid": False},
    {"id": 6, "status": "late", "amount": 101, "region": "EU", "paid": True},
]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)  # 07:30 UTC


@pytest.fixture
def rules(db: Database, clock: FrozenClock) -> RuleService:
    table = sa.Table(
        "orders",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.Text),
        sa.Column("amount", sa.Integer),
        sa.Column("region", sa.Text),
        sa.Column("paid", sa.Boolean),
    )

    def work(conn: sa.Connection) -> None:
        table.create(conn)
        conn.execute(table.insert(), ORDERS)

    db.run_write(work)
    tables = Tables(db, DEFAULT_WORKSPACE_ID, clock)
    tables.service.watch("orders")
    return rule_service(db, clock, tables)


def scheduled(*conditions: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "late",
        "entity": "orders",
        "trigger": "scheduled",
        "cron": "0 8 * * *",
        "conditions": list(conditions),
        "actions": [{"name": "a", "type": "create_alert", "config": {"title": "{{ new.id }}"}}],
        **overrides,
    }


def fire(db: Database, clock: FrozenClock) -> RuleScheduling:
    hook = RuleScheduling(ScheduledRuleStore(db, clock))
    hook.tick()
    return hook


def changes(db: Database) -> list[Any]:
    log = ChangeLog(db)
    log.sequence()
    return log.read(0, 1000)


def test_a_due_rule_appends_one_change_per_matching_row_bounded_by_max_rows(
    db: Database, clock: FrozenClock, rules: RuleService
) -> None:
    rule = rules.create(
        scheduled(
            {"field_name": "status", "operator": "equals", "value": "late"},
            {"field_name": "amount", "operator": "greater_than", "value": 100},
            max_rows=2,
        )
    )
    assert rule.next_fire_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    early = fire(db, clock)
    assert early.fired == [] and changes(db) == []

    clock.advance(timedelta(minutes=30))
    hook = fire(db, clock)

    (fired,) = hook.fired
    assert (fired.rows, fired.next_fire_at) == (2, datetime(2026, 12, 3, 8, 0, tzinfo=UTC))
    found = changes(db)
    assert [c.new["id"] for c in found] == [1, 4]  # ids 1, 4, 6 match; two at most
    assert {c.operation for c in found} == {Operation.SCHEDULED}
    assert {c.rule_id for c in found} == {rule.id}
    assert {c.workspace_id for c in found} == {DEFAULT_WORKSPACE_ID}
    assert all(matches(rules.rule("late"), c) for c in found)
    assert rules.rule("late").next_fire_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert fire(db, clock).fired == []


def test_missed_fires_are_coalesced_into_one(
    db: Database, clock: FrozenClock, rules: RuleService
) -> None:
    rules.create(scheduled({"field_name": "status", "operator": "equals", "value": "late"}))
    clock.advance(timedelta(days=3))

    hook = fire(db, clock)

    assert len(hook.fired) == 1
    assert len(changes(db)) == 4
    assert hook.fired[0].next_fire_at == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert ScheduledRuleStore(db, clock).next_due() == hook.fired[0].next_fire_at


def test_a_disabled_rule_does_not_fire(
    db: Database, clock: FrozenClock, rules: RuleService
) -> None:
    rules.create(scheduled(is_active=False))
    clock.advance(timedelta(hours=1))

    assert fire(db, clock).fired == []
    assert ScheduledRuleStore(db, clock).next_due() is None


CASES: list[list[dict[str, Any]]] = [
    [],
    [{"field_name": "status", "operator": "not_equals", "value": "late"}],
    [{"field_name": "amount", "operator": "less_than", "value": "101"}],
    [{"field_name": "amount", "operator": "greater_than", "value": 100.5}],
    [{"field_name": "region", "operator": "contains", "value": "EU"}],
    [{"field_name": "region", "operator": "in", "value": ["US", "EU", "nowhere"]}],
    [{"field_name": "amount", "operator": "in", "value": [90, "500", 7]}],
    [{"field_name": "paid", "operator": "equals", "value": True}],
    [{"field_name": "paid", "operator": "not_equals", "value": True}],
    [{"field_name": "status", "operator": "equals", "value": None}],
    [{"field_name": "region", "operator": "less_than", "value": "F"}],
]


def test_sql_selects_exactly_the_rows_the_conditions_match(
    db: Database, clock: FrozenClock, rules: RuleService
) -> None:
    # One rule per case, all due at once: what SQL selects is what matching in Python
    # says, for every operator a scheduled rule may use.
    for index, conditions in enumerate(CASES):
        rules.create(scheduled(*conditions, name=f"case{index}"))
    clock.advance(timedelta(hours=1))

    fire(db, clock)

    found = changes(db)
    for index, conditions in enumerate(CASES):
        rule = rules.rule(f"case{index}")
        selected = sorted(c.new["id"] for c in found if c.rule_id == rule.id)
        expected = sorted(
            row["id"]
            for row in ORDERS
            if matches(rule, _change(rule, {**row, "paid": _stored(db, row["paid"])}))
        )
        assert selected == expected, (conditions, selected, expected)
        assert expected or conditions, "the empty case selects every row"


def _stored(db: Database, paid: bool | None) -> Any:
    # SQLite keeps booleans as 0/1 and its triggers' JSON says so; PostgreSQL says true.
    if paid is None or not db.is_sqlite:
        return paid
    return int(paid)
