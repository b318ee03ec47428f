"""Reading rules and templates: rows of spec 003's tables into :class:`Rule` records.

Connection-level functions shared by :class:`~spine.automation.store.rules.RuleStore`
(one workspace) and the dispatcher's system reads (every workspace).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from spine.automation.models import (
    ActionTemplate,
    ActionType,
    FieldCondition,
    Operator,
    Rule,
    RuleAction,
    Schedule,
    TriggerType,
)
from spine.automation.specs import ACTION_TYPE_KEY, DEFAULT_MAX_ROWS
from spine.core.storage.schema.automation import action_templates as templates_t
from spine.core.storage.schema.automation import automation_rules as rules_t
from spine.core.storage.schema.automation import entities as entities_t
from spine.core.storage.schema.automation import rule_actions as actions_t
from spine.core.storage.schema.automation import rule_dependencies as deps_t
from spine.core.storage.schema.automation import trigger_types as trigger_types_t

__all__ = [
    "actions_t",
    "conditions_json",
    "deps_t",
    "entities_t",
    "load_rules",
    "parse_uuid",
    "rule_ids",
    "rules_t",
    "templates",
    "templates_t",
    "trigger_types_t",
]


def parse_uuid(ref: str) -> uuid.UUID | None:
    """``ref`` as a UUID, or ``None`` when it is a name."""
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


def conditions_json(
    conditions: Iterable[FieldCondition], schedule: Schedule | None
) -> dict[str, Any]:
    """``trigger_conditions`` as spec 003 shapes it, with a scheduled rule's cron."""
    out: dict[str, Any] = {"field_conditions": [c.to_dict() for c in conditions]}
    if schedule is not None:
        out.update(cron=schedule.cron, timezone=schedule.timezone, max_rows=schedule.max_rows)
    return out


def _rule_select() -> sa.Select[Any]:
    return (
        sa.select(
            rules_t,
            entities_t.c.name.label("entity_name"),
            trigger_types_t.c.name.label("trigger_name"),
        )
        .join(entities_t, entities_t.c.id == rules_t.c.entity_id)
        .join(trigger_types_t, trigger_types_t.c.id == rules_t.c.trigger_type_id)
    )


def rule_ids(
    conn: sa.Connection,
    *,
    workspace_id: uuid.UUID | None = None,
    ref: str | None = None,
    table_name: str | None = None,
    active_only: bool = False,
) -> list[uuid.UUID]:
    """Ids of the rules that fit the filters, by name."""
    query = sa.select(rules_t.c.id).join(entities_t, entities_t.c.id == rules_t.c.entity_id)
    if workspace_id is not None:
        query = query.where(rules_t.c.workspace_id == workspace_id)
    if ref is not None:
        as_id = parse_uuid(ref)
        query = query.where(rules_t.c.id == as_id if as_id else rules_t.c.name == ref)
    if table_name is not None:
        query = query.where(entities_t.c.name == table_name)
    if active_only:
        query = query.where(
            rules_t.c.is_active.is_(True), sa.func.coalesce(entities_t.c.is_active, True)
        )
    return list(conn.execute(query.order_by(rules_t.c.name, rules_t.c.id)).scalars())


def load_rules(conn: sa.Connection, ids: list[uuid.UUID]) -> list[Rule]:
    """The rules of ``ids``, in that order, with active actions and parents' names.

    Actions come by ``execution_order``, then name.
    """
    if not ids:
        return []
    rows = {
        row["id"]: row
        for row in conn.execute(_rule_select().where(rules_t.c.id.in_(ids))).mappings()
    }
    actions: dict[uuid.UUID, list[RuleAction]] = {rule_id: [] for rule_id in ids}
    query = (
        sa.select(actions_t, templates_t.c.name.label("template_name"))
        .outerjoin(templates_t, templates_t.c.id == actions_t.c.template_id)
        .where(
            actions_t.c.automation_rules_id.in_(ids),
            sa.func.coalesce(actions_t.c.is_active, True),
        )
        .order_by(actions_t.c.execution_order, actions_t.c.name)
    )
    for row in conn.execute(query).mappings():
        actions[row["automation_rules_id"]].append(_action(row))
    parents: dict[uuid.UUID, list[str]] = {rule_id: [] for rule_id in ids}
    parent = rules_t.alias("parent")
    query = (
        sa.select(deps_t.c.child_rule_id, parent.c.name)
        .join(parent, parent.c.id == deps_t.c.parent_rule_id)
        .where(deps_t.c.child_rule_id.in_(ids))
        .order_by(parent.c.name)
    )
    for child_id, name in conn.execute(query):
        parents[child_id].append(name)
    return [
        _rule(rows[rule_id], actions[rule_id], parents[rule_id])
        for rule_id in ids
        if rule_id in rows
    ]


def templates(
    conn: sa.Connection,
    *,
    workspace_id: uuid.UUID | None = None,
    ids: Iterable[uuid.UUID] | None = None,
) -> list[ActionTemplate]:
    """Active action templates (of a workspace, or of ``ids``), by name."""
    query = sa.select(templates_t).where(sa.func.coalesce(templates_t.c.is_active, True))
    if workspace_id is not None:
        query = query.where(templates_t.c.workspace_id == workspace_id)
    if ids is not None:
        query = query.where(templates_t.c.id.in_(list(ids)))
    rows = conn.execute(query.order_by(templates_t.c.name)).mappings()
    return [_template(row) for row in rows]


def _template(row: sa.RowMapping) -> ActionTemplate:
    return ActionTemplate(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        action_type=ActionType(row["action_type"]),
        default_config=dict(row["default_config"] or {}),
        description=row["description"],
        is_active=row["is_active"] is not False,
        created_date=row["created_date"],
    )


def _action(row: sa.RowMapping) -> RuleAction:
    config = dict(row["action_config"] or {})
    return RuleAction(
        id=row["id"],
        name=row["name"],
        # The type is kept in the config (spec 003's rule_actions has no column for it).
        action_type=ActionType(config.pop(ACTION_TYPE_KEY)),
        config=config,
        execution_order=row["execution_order"],
        description=row["description"],
        template=row["template_name"],
        template_id=row["template_id"],
        is_active=row["is_active"] is not False,
    )


def _rule(row: sa.RowMapping, actions: list[RuleAction], parents: list[str]) -> Rule:
    raw = row["trigger_conditions"] or {}
    conditions = tuple(
        FieldCondition(
            field_name=item["field_name"],
            operator=Operator(item["operator"]),
            value=item.get("value"),
            previous_value=item.get("previous_value"),
        )
        for item in raw.get("field_conditions") or ()
    )
    schedule = None
    if raw.get("cron"):
        schedule = Schedule(
            cron=raw["cron"],
            timezone=raw.get("timezone") or "UTC",
            max_rows=int(raw.get("max_rows") or DEFAULT_MAX_ROWS),
        )
    return Rule(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        entity=row["entity_name"],
        entity_id=row["entity_id"],
        trigger=TriggerType(row["trigger_name"]),
        conditions=conditions,
        actions=tuple(actions),
        description=row["description"],
        is_active=bool(row["is_active"]),
        depends_on=tuple(parents),
        schedule=schedule,
        next_fire_at=row["next_fire_at"],
        created_date=row["created_date"],
        updated_date=row["updated_date"],
    )
