"""Helpers of the rules' tests: watched tables and rule services on a real database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from spine.automation.errors import EntityNotFound
from spine.automation.service import RuleService
from spine.automation.store.rules import RuleStore
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.automation import entities, entity_types
from spine.tenancy import Actor

START = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


class Tables:
    """Tables watched in a workspace, as entity rows, with their columns."""

    def __init__(self, db: Database, workspace_id: uuid.UUID) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.known: dict[str, tuple[str, ...]] = {}

    def watch(self, name: str, columns: Sequence[str]) -> uuid.UUID:
        """Register ``name`` as a watched table (an entity row) with ``columns``."""
        entity_id = uuid.uuid4()

        def work(conn: sa.Connection) -> None:
            type_id = conn.execute(
                sa.select(entity_types.c.id).where(entity_types.c.name == "table")
            ).scalar_one_or_none()
            if type_id is None:
                type_id = uuid.uuid4()
                conn.execute(entity_types.insert().values(id=type_id, name="table"))
            conn.execute(
                entities.insert().values(
                    id=entity_id,
                    name=name,
                    entity_type_id=type_id,
                    schema_name=None,
                    is_active=True,
                    created_date=START,
                    workspace_id=self.workspace_id,
                )
            )

        self.db.run_write(work)
        self.known[name] = tuple(columns)
        return entity_id

    def columns(self, table: str) -> tuple[str, ...]:
        """``EntityService.columns`` as the rules see it."""
        if table not in self.known:
            raise EntityNotFound(table)
        return self.known[table]


def rule_service(
    db: Database, clock: FrozenClock, tables: Tables, actor: Actor | None = None
) -> RuleService:
    """A rule service of ``tables``' workspace (or ``actor``'s)."""
    actor = actor or Actor(workspace_id=tables.workspace_id)
    return RuleService(RuleStore(db, clock, actor=actor), columns=tables.columns)


def shipped(**overrides: Any) -> dict[str, Any]:
    """The issue's example rule, with ``overrides``."""
    spec: dict[str, Any] = {
        "name": "shipped",
        "entity": "orders",
        "trigger": "on_update",
        "conditions": [{"field_name": "status", "operator": "changed_to", "value": "shipped"}],
        "depends_on": [],
        "actions": [
            {
                "name": "tell-oncall",
                "type": "create_alert",
                "execution_order": 1,
                "template": None,
                "config": {
                    "severity": "high",
                    "title": "Order {{ new.id }} shipped",
                    "message": "status was {{ old.status }}",
                    "recipients": [{"type": "role", "name": "oncall"}],
                },
            }
        ],
    }
    spec.update(overrides)
    return spec


def action(name: str, order: int = 1, **config: Any) -> Mapping[str, Any]:
    """An in-app alert action."""
    return {
        "name": name,
        "type": "create_alert",
        "execution_order": order,
        "config": {"title": "t", "message": "m", **config},
    }
