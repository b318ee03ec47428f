"""Rules written straight into spine's database, and a real action handler, for dispatch tests.

The handler does a real database effect on the action's transaction: it inserts a row
into ``acted`` (a table of the test), so that "done twice" is a count of rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from spine.automation.conditions import matches
from spine.automation.dispatcher import Dispatcher
from spine.automation.executor import Executor
from spine.automation.models import (
    ActionContext,
    ActionType,
    FieldCondition,
    Operation,
    Rule,
    RuleAction,
    TriggerType,
)
from spine.automation.store.changes import append
from spine.automation.store.executions import ExecutionStore
from spine.core.clock import FrozenClock
from spine.core.errors import SpineError
from spine.core.storage import Database, sql_connection
from spine.core.storage.schema import automation as schema
from spine.tenancy.models import DEFAULT_WORKSPACE_ID

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

acted_meta = sa.MetaData()
acted = sa.Table(
    "acted",
    acted_meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("row_id", sa.Integer),
)


class RecordingHandler:
    """Inserts a row into ``acted``; fails when its config says ``fail: true``."""

    def __init__(self, action_type: ActionType = ActionType.CREATE_ALERT) -> None:
        self._type = action_type

    @property
    def action_type(self) -> ActionType:
        return self._type

    def validate(self, config: Mapping[str, Any], *, workspace_id: uuid.UUID) -> None:
        return None

    def perform(self, conn: Any, ctx: ActionContext) -> Mapping[str, Any]:
        if ctx.config.get("fail"):
            raise SpineError(f"told to fail ({ctx.config.get('title', '')})")
        row = ctx.change.row()
        sql_connection(conn).execute(
            acted.insert().values(
                idempotency_key=ctx.idempotency_key,
                rule=ctx.rule.name,
                action=ctx.action.name,
                position=ctx.change.position,
                row_id=row.get("id"),
            )
        )
        return {"title": ctx.config.get("title"), "position": ctx.change.position}


def create_acted(db: Database) -> None:
    acted_meta.create_all(db.engine)


def acted_rows(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(acted).order_by(acted.c.id)).mappings()]


def _get_or_create(conn: sa.Connection, table: sa.Table, name: str) -> uuid.UUID:
    found = conn.execute(sa.select(table.c.id).where(table.c.name == name)).scalar_one_or_none()
    if found is not None:
        return found  # type: ignore[no-any-return]
    new = uuid.uuid4()
    conn.execute(table.insert().values(id=new, name=name))
    return new


def _user(conn: sa.Connection) -> uuid.UUID:
    email = "rules@example.com"
    found = conn.execute(
        sa.select(schema.users.c.id).where(schema.users.c.email == email)
    ).scalar_one_or_none()
    if found is not None:
        return found  # type: ignore[no-any-return]
    new = uuid.uuid4()
    conn.execute(
        schema.users.insert().values(id=new, email=email, created_date=AT, updated_date=AT)
    )
    return new


def make_rule(
    db: Database,
    name: str,
    *,
    table: str = "orders",
    trigger: TriggerType = TriggerType.ON_UPDATE,
    conditions: Sequence[FieldCondition] = (),
    actions: Sequence[tuple[str, int] | tuple[str, int, Mapping[str, Any]]] = (("act", 1),),
    depends_on: Sequence[str] = (),
    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID,
) -> Rule:
    """Insert a rule (with its entity, actions) as the rules part would, and return it."""
    rule_id = uuid.uuid4()
    with db.write() as conn:
        user = _user(conn)
        entity_type = _get_or_create(conn, schema.entity_types, "table")
        trigger_type = _get_or_create(conn, schema.trigger_types, trigger.value)
        entity = conn.execute(
            sa.select(schema.entities.c.id).where(
                schema.entities.c.name == table, schema.entities.c.workspace_id == workspace_id
            )
        ).scalar_one_or_none()
        if entity is None:
            entity = uuid.uuid4()
            conn.execute(
                schema.entities.insert().values(
                    id=entity,
                    name=table,
                    entity_type_id=entity_type,
                    workspace_id=workspace_id,
                    created_date=AT,
                )
            )
        conn.execute(
            schema.automation_rules.insert().values(
                id=rule_id,
                name=name,
                entity_id=entity,
                entity_type_id=entity_type,
                trigger_type_id=trigger_type,
                trigger_conditions={"field_conditions": [c.to_dict() for c in conditions]},
                created_date=AT,
                updated_date=AT,
                created_by=user,
                updated_by=user,
                workspace_id=workspace_id,
            )
        )
        built = []
        for item in actions:
            action_name, order = item[0], item[1]
            config: Mapping[str, Any] = item[2] if len(item) > 2 else {"title": action_name}  # type: ignore[misc]
            action_id = uuid.uuid4()
            conn.execute(
                schema.rule_actions.insert().values(
                    id=action_id,
                    automation_rules_id=rule_id,
                    name=action_name,
                    action_config=dict(config),
                    execution_order=order,
                )
            )
            built.append(
                RuleAction(
                    id=action_id,
                    name=action_name,
                    action_type=ActionType.CREATE_ALERT,
                    config=dict(config),
                    execution_order=order,
                )
            )
    return Rule(
        id=rule_id,
        workspace_id=workspace_id,
        name=name,
        entity=table,
        entity_id=entity,
        trigger=trigger,
        conditions=tuple(conditions),
        actions=tuple(sorted(built, key=lambda a: a.execution_order)),
        depends_on=tuple(depends_on),
    )


def build_dispatcher(
    db: Database,
    rules: Sequence[Rule],
    *,
    clock: FrozenClock | None = None,
    max_depth: int = 5,
    batch_size: int = 500,
) -> Dispatcher:
    clock = clock or FrozenClock(AT)
    executions = ExecutionStore(db)
    handlers = {ActionType.CREATE_ALERT: RecordingHandler()}
    return Dispatcher(
        db,
        clock,
        executor=Executor(db, clock, handlers, executions),
        executions=executions,
        rules_for=lambda table: [r for r in rules if r.entity == table],
        templates_for=lambda ids: {},
        matches=matches,
        max_depth=max_depth,
        batch_size=batch_size,
        poll_seconds=0.05,
    )


def update(
    db: Database,
    row_id: int,
    old_status: str,
    new_status: str,
    *,
    table: str = "orders",
    depth: int = 0,
    workspace_id: uuid.UUID | None = None,
) -> None:
    """Append an update change, as a capture trigger would."""
    with db.write() as conn:
        append(
            conn,
            table_name=table,
            operation=Operation.UPDATE,
            old={"id": row_id, "status": old_status},
            new={"id": row_id, "status": new_status},
            at=AT,
            depth=depth,
            workspace_id=workspace_id,
        )
