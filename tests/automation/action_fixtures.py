"""A rule with an action on a real database, and the ActionContext an executor would build."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from spine.alerting import AlertService, AlertStore, DeliveryPolicy
from spine.automation.models import (
    ActionContext,
    ActionType,
    Change,
    Operation,
    Rule,
    RuleAction,
    TriggerType,
)
from spine.core.storage import Database
from spine.core.storage.schema.automation import (
    automation_rules,
    entities,
    entity_types,
    rule_actions,
    trigger_types,
)
from tests.automation.people_fixtures import People, make_people

POLICY = DeliveryPolicy(
    max_attempts=3,
    backoff_base_seconds=10,
    backoff_max_seconds=60,
    allow_private_urls=True,
)


@dataclass
class Stage:
    """People, a rule ``watch-orders`` on ``orders`` and its alerting service."""

    people: People
    rule: Rule
    alerting: AlertService

    @property
    def db(self) -> Database:
        return self.people.db

    def action(self, action_type: ActionType, name: str = "act") -> RuleAction:
        """A stored action of the rule (deliveries reference it)."""
        action = RuleAction(
            id=uuid.uuid4(),
            name=name,
            action_type=action_type,
            config={},
            execution_order=1,
        )
        with self.db.write() as conn:
            conn.execute(
                sa.insert(rule_actions).values(
                    id=action.id,
                    automation_rules_id=self.rule.id,
                    name=name,
                    action_config={},
                    execution_order=1,
                )
            )
        return action

    def context(
        self,
        action_type: ActionType,
        config: Mapping[str, Any],
        *,
        change: Change | None = None,
        key: str | None = None,
    ) -> ActionContext:
        """What the executor hands a handler (config already rendered)."""
        action = self.action(action_type)
        change = change or update(1, {"status": "new"}, {"status": "rejected"})
        return ActionContext(
            rule=self.rule,
            action=action,
            config=config,
            change=change,
            execution_id=uuid.uuid4(),
            idempotency_key=key or f"{self.rule.id}:{change.position}:{action.id}",
            now=self.people.clock.now(),
        )


def update(row_id: int, old: Mapping[str, Any], new: Mapping[str, Any], depth: int = 0) -> Change:
    """An update of row ``row_id`` of ``orders``."""
    return Change(
        position=7,
        table_name="orders",
        schema_name=None,
        operation=Operation.UPDATE,
        old={"id": row_id, **old},
        new={"id": row_id, **new},
        depth=depth,
    )


def make_stage(db: Database) -> Stage:
    people = make_people(db)
    now = people.clock.now()
    creator = people.tenancy.users()[0].id
    workspace = people.actor.workspace_id
    rule_id, entity_id = uuid.uuid4(), uuid.uuid4()
    with db.write() as conn:
        conn.execute(
            sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, note TEXT)")
        )
        conn.execute(sa.text("INSERT INTO orders VALUES (1, 'rejected', NULL)"))
        table_type = conn.execute(
            sa.select(entity_types.c.id).where(entity_types.c.name == "table")
        ).scalar_one()
        on_update = conn.execute(
            sa.select(trigger_types.c.id).where(trigger_types.c.name == "on_update")
        ).scalar_one()
        conn.execute(
            sa.insert(entities).values(
                id=entity_id,
                name="orders",
                entity_type_id=table_type,
                created_date=now,
                workspace_id=workspace,
            )
        )
        conn.execute(
            sa.insert(automation_rules).values(
                id=rule_id,
                name="watch-orders",
                entity_id=entity_id,
                entity_type_id=table_type,
                trigger_type_id=on_update,
                trigger_conditions={"field_conditions": []},
                created_date=now,
                updated_date=now,
                created_by=creator,
                updated_by=creator,
                workspace_id=workspace,
            )
        )
    rule = Rule(
        id=rule_id,
        workspace_id=workspace,
        name="watch-orders",
        entity="orders",
        entity_id=entity_id,
        trigger=TriggerType.ON_UPDATE,
        conditions=(),
        actions=(),
    )
    alerting = AlertService(AlertStore(db, people.clock, POLICY), POLICY)
    return Stage(people=people, rule=rule, alerting=alerting)
