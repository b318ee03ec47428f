"""Helpers of the rules' tests: watched tables and rule services on a real database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from spine.automation.capture import EntityService
from spine.automation.service import RuleService
from spine.automation.store.entities import EntityStore
from spine.automation.store.rules import RuleStore
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.tenancy import Actor

START = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


class Tables:
    """Real tables of spine's database, watched in a workspace through the entity service."""

    def __init__(self, db: Database, workspace_id: uuid.UUID, clock: FrozenClock) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.service = EntityService(EntityStore(db, clock, actor=Actor(workspace_id=workspace_id)))

    def watch(self, name: str, columns: Sequence[str]) -> uuid.UUID:
        """Create table ``name`` (an ``id`` key and text ``columns``) unless it exists; watch it."""
        table = sa.Table(
            name,
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            *(sa.Column(column, sa.Text) for column in columns if column != "id"),
        )
        self.db.run_write(lambda conn: table.create(conn, checkfirst=True))
        return self.service.watch(name).id

    def columns(self, table: str) -> tuple[str, ...]:
        """``EntityService.columns``: what the rules check fields against."""
        return self.service.columns(table)


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
