"""What saving and removing rules needs besides the rules' own rows.

The user a change is made by (spec 003 requires ``created_by``), the trigger types'
rows, and a removed rule's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from spine.automation.store.rule_rows import actions_t, deps_t, rules_t, trigger_types_t
from spine.core.storage.dialect_sql import insert_if_absent
from spine.core.storage.schema.automation import STANDARD_TRIGGER_TYPES
from spine.core.storage.schema.automation import alerts as alerts_t
from spine.core.storage.schema.automation import automation_executions as executions_t
from spine.core.storage.schema.automation import notification_deliveries as deliveries_t
from spine.core.storage.schema.automation import users as users_t
from spine.tenancy import Actor

__all__ = [
    "OPERATOR_USER_EMAIL",
    "delete_history",
    "operator_user",
    "template_users",
    "trigger_type_id",
]

#: The user that rules made by the CLI (or a key acting for no user) are ``created_by``:
#: spec 003 makes the column a required reference to ``core.users``.
OPERATOR_USER_EMAIL = "operator@spine.invalid"
_OPERATOR_USER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "spine:user:operator")


def operator_user(conn: sa.Connection, actor: Actor, now: datetime) -> uuid.UUID:
    """The user ``actor`` acts for, else spine's operator user (made on first use)."""
    if actor.user_id is not None:
        return actor.user_id
    query = sa.select(users_t.c.id).where(users_t.c.email == OPERATOR_USER_EMAIL)
    found: uuid.UUID | None = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    values = {
        "id": _OPERATOR_USER_ID,
        "email": OPERATOR_USER_EMAIL,
        "display_name": "spine operator (CLI, keys acting for no user)",
        "is_active": True,
        "created_date": now,
        "updated_date": now,
    }
    insert_if_absent(conn, users_t, values, key=("email",))
    made: uuid.UUID = conn.execute(query).scalar_one()
    return made


def trigger_type_id(conn: sa.Connection, name: str) -> uuid.UUID:
    """The ``trigger_types`` row of ``name`` (one of spec 003's four), made on first use."""
    query = sa.select(trigger_types_t.c.id).where(trigger_types_t.c.name == name)
    found: uuid.UUID | None = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    values = {
        "id": uuid.uuid4(),
        "name": name,
        "description": STANDARD_TRIGGER_TYPES.get(name),
        "is_active": True,
    }
    insert_if_absent(conn, trigger_types_t, values, key=("name",))
    made: uuid.UUID = conn.execute(query).scalar_one()
    return made


def delete_history(conn: sa.Connection, rule_id: uuid.UUID) -> None:
    """Delete rule ``rule_id``'s executions, dependencies and actions (not the rule).

    Alerts and deliveries it made stay (people read them), their links to the rule, its
    actions and executions cleared.
    """
    executions = sa.select(executions_t.c.id).where(executions_t.c.automation_rules_id == rule_id)
    action_ids = sa.select(actions_t.c.id).where(actions_t.c.automation_rules_id == rule_id)
    conn.execute(
        alerts_t.update().where(alerts_t.c.source_rule_id == rule_id).values(source_rule_id=None)
    )
    conn.execute(
        alerts_t.update()
        .where(alerts_t.c.automation_execution_id.in_(executions))
        .values(automation_execution_id=None)
    )
    conn.execute(
        deliveries_t.update()
        .where(
            sa.or_(
                deliveries_t.c.rule_id == rule_id,
                deliveries_t.c.action_id.in_(action_ids),
                deliveries_t.c.automation_execution_id.in_(executions),
            )
        )
        .values(rule_id=None, action_id=None, automation_execution_id=None)
    )
    conn.execute(executions_t.delete().where(executions_t.c.automation_rules_id == rule_id))
    conn.execute(
        deps_t.delete().where(
            sa.or_(deps_t.c.child_rule_id == rule_id, deps_t.c.parent_rule_id == rule_id)
        )
    )
    conn.execute(actions_t.delete().where(actions_t.c.automation_rules_id == rule_id))


def template_users(conn: sa.Connection, template_id: uuid.UUID) -> list[str]:
    """The names of the rules whose active actions use template ``template_id``."""
    names = conn.execute(
        sa.select(rules_t.c.name)
        .join(actions_t, actions_t.c.automation_rules_id == rules_t.c.id)
        .where(
            actions_t.c.template_id == template_id,
            sa.func.coalesce(actions_t.c.is_active, True),
        )
    ).scalars()
    return sorted(set(names))
