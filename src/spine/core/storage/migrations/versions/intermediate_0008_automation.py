"""Intermediate tier: what automation rules (spec 003) add to spec 003's tables.

- ``workspace_id`` on entities, rules, action templates, executions, notification
  deliveries and alerts; names of entities, rules and templates unique per workspace
  (the specification makes them unique outright).
- ``automation_rules.next_fire_at`` (a scheduled rule's next fire);
  ``automation_executions.change_position`` and ``depth`` (one execution per rule and
  change); ``notification_deliveries.payload`` and ``next_attempt_at``; an approval's
  ``decision``, ``decided_by`` and ``decided_at`` and the execution that made an alert.
- Roles for alert recipients (``core.roles``, ``core.user_roles``) and the user an API
  key acts for (``api_keys.user_id``).
- The change log (``automation_changes``) and the dispatcher's durable position
  (``automation_cursors``). The capture triggers themselves are made by
  ``spine automation watch``, not here: they exist only for watched tables.

Revision ID: intermediate_0008
Branch: intermediate
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from spine.core.storage.types import JSONType, UtcDateTime

revision: str = "intermediate_0008"
down_revision: str | None = "intermediate_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (revisions are frozen code).
_DEFAULT_WORKSPACE = uuid.UUID("93c8957a-5c7c-5067-826a-9d88ed98eb5c")
_TIMESTAMP = UtcDateTime()
_W = "workflow"
_CORE = "core"

# Table -> (unique constraint on name it replaces or None, the one on workspace and name).
_OWNED: dict[str, tuple[str | None, str | None]] = {
    "entities": ("uq_entities_name", "uq_entities_workspace_name"),
    "automation_rules": (None, "uq_automation_rules_workspace_name"),
    "action_templates": ("uq_action_templates_name", "uq_action_templates_workspace_name"),
    "automation_executions": (None, None),
    "notification_deliveries": (None, None),
    "alerts": (None, None),
}
# Columns (besides workspace_id) and constraints this revision adds, by table.
_ADDED: dict[str, tuple[str, ...]] = {
    "automation_rules": ("next_fire_at",),
    "automation_executions": (
        "change_position",
        "depth",
        "uq_automation_executions_rule_change",
    ),
    "notification_deliveries": ("payload", "next_attempt_at"),
    "alerts": ("automation_execution_id", "decision", "decided_by", "decided_at"),
}


def _schema() -> str | None:
    return None if op.get_context().dialect.name == "sqlite" else _W


def _copy_from(name: str) -> dict[str, Any]:
    """What SQLite's batch mode copies ``name`` from when printing DDL offline.

    Online, Alembic reflects the table. Offline, the table before this revision is the
    head schema's without what this revision adds, with the name constraint it drops.
    """
    if not op.get_context().as_sql or op.get_context().dialect.name != "sqlite":
        return {}
    from spine.core.storage.schema import metadata_for

    head = metadata_for("sqlite").tables[name]
    old_unique, new_unique = _OWNED.get(name, (None, None))
    drop = {"workspace_id", *_ADDED.get(name, ()), *(n for n in [new_unique] if n)}
    columns = []
    for column in head.columns:
        if column.name in drop:
            continue
        copy = column._copy()
        copy.primary_key = column.primary_key
        columns.append(copy)
    items: list[Any] = []
    for constraint in head.constraints:
        if isinstance(constraint, sa.CheckConstraint):
            if not str(constraint.name).endswith("_decision"):
                items.append(constraint._copy())
        elif isinstance(constraint, sa.UniqueConstraint) and not (
            set(constraint.columns.keys()) & drop or constraint.name in drop
        ):
            items.append(sa.UniqueConstraint(*constraint.columns.keys(), name=constraint.name))
    if old_unique:
        items.append(sa.UniqueConstraint("name", name=old_unique))
    for index in head.indexes:
        if {c.name for c in index.columns} & drop:
            continue
        names = [c.name for c in index.columns]
        items.append(sa.Index(index.name, *names, unique=index.unique, **index.dialect_kwargs))
    return {"copy_from": sa.Table(name, sa.MetaData(), *columns, *items)}


def _offline_sqlite_pragmas(on: bool) -> None:
    context = op.get_context()
    if context.as_sql and context.dialect.name == "sqlite":
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
        op.execute(f"PRAGMA legacy_alter_table={'OFF' if on else 'ON'}")


def _workspace_column() -> sa.Column[uuid.UUID]:
    return sa.Column(
        "workspace_id",
        sa.Uuid(),
        nullable=False,
        server_default=sa.text(f"'{_DEFAULT_WORKSPACE.hex}'"),
    )


def _add_workspace(batch: Any, name: str) -> None:
    old_unique, new_unique = _OWNED[name]
    batch.add_column(_workspace_column())
    batch.create_foreign_key(
        op.f(f"fk_{name}_workspace_id_workspaces"),
        "workspaces",
        ["workspace_id"],
        ["id"],
        referent_schema=None,
        ondelete="CASCADE",
    )
    if old_unique:
        batch.drop_constraint(old_unique, type_="unique")
    if new_unique:
        batch.create_unique_constraint(new_unique, ["workspace_id", "name"])


def upgrade() -> None:
    _offline_sqlite_pragmas(on=False)
    schema = _schema()
    for name in _OWNED:
        with op.batch_alter_table(name, schema=schema, **_copy_from(name)) as batch:
            _add_workspace(batch, name)
            if name == "automation_rules":
                batch.add_column(sa.Column("next_fire_at", _TIMESTAMP, nullable=True))
            elif name == "automation_executions":
                batch.add_column(sa.Column("change_position", sa.BigInteger(), nullable=True))
                batch.add_column(
                    sa.Column("depth", sa.Integer(), nullable=False, server_default="0")
                )
                batch.create_unique_constraint(
                    "uq_automation_executions_rule_change",
                    ["automation_rules_id", "change_position"],
                )
            elif name == "notification_deliveries":
                batch.add_column(sa.Column("payload", JSONType(), nullable=True))
                batch.add_column(sa.Column("next_attempt_at", _TIMESTAMP, nullable=True))
            elif name == "alerts":
                batch.add_column(sa.Column("automation_execution_id", sa.Uuid(), nullable=True))
                batch.add_column(sa.Column("decision", sa.String(20), nullable=True))
                batch.add_column(sa.Column("decided_by", sa.Uuid(), nullable=True))
                batch.add_column(sa.Column("decided_at", _TIMESTAMP, nullable=True))
                batch.create_foreign_key(
                    op.f("fk_alerts_automation_execution_id_automation_executions"),
                    "automation_executions",
                    ["automation_execution_id"],
                    ["id"],
                    referent_schema=schema,
                )
                batch.create_foreign_key(
                    op.f("fk_alerts_decided_by_users"),
                    "users",
                    ["decided_by"],
                    ["id"],
                    referent_schema=None if schema is None else _CORE,
                )
                batch.create_check_constraint("decision", "decision IN ('approved', 'rejected')")
    core = None if schema is None else _CORE
    with op.batch_alter_table("api_keys", **_copy_from_keys()) as batch:
        batch.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_api_keys_user_id_users"),
            "users",
            ["user_id"],
            ["id"],
            referent_schema=core,
            ondelete="SET NULL",
        )
    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        _workspace_column(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_date", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_roles_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("workspace_id", "name", name="uq_roles_workspace_name"),
        schema=core,
    )
    users = "users.id" if core is None else f"{_CORE}.users.id"
    roles = "roles.id" if core is None else f"{_CORE}.roles.id"
    op.create_table(
        "user_roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_date", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], [roles], name=op.f("fk_user_roles_role_id_roles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], [users], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_roles")),
        sa.UniqueConstraint("role_id", "user_id", name="uq_user_roles_pair"),
        schema=core,
    )
    op.create_index("idx_user_roles_user", "user_roles", ["user_id"], schema=core)
    op.create_table(
        "automation_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("schema_name", sa.Text(), nullable=True),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("old_row", JSONType(), nullable=True),
        sa.Column("new_row", JSONType(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("workspace_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "operation IN ('insert', 'update', 'delete', 'scheduled')",
            name=op.f("ck_automation_changes_operation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_changes")),
        schema=schema,
    )
    op.create_index(
        "idx_automation_changes_position",
        "automation_changes",
        ["position"],
        unique=True,
        schema=schema,
    )
    op.create_index(
        "idx_automation_changes_unsequenced",
        "automation_changes",
        ["id"],
        schema=schema,
        sqlite_where=sa.text("position IS NULL"),
        postgresql_where=sa.text("position IS NULL"),
    )
    op.create_table(
        "automation_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_automation_cursors")),
        schema=schema,
    )
    _offline_sqlite_pragmas(on=True)


def _copy_from_keys() -> dict[str, Any]:
    if not op.get_context().as_sql or op.get_context().dialect.name != "sqlite":
        return {}
    from spine.core.storage.schema import metadata_for

    head = metadata_for("sqlite").tables["api_keys"]
    columns = []
    for column in head.columns:
        if column.name == "user_id":
            continue
        copy = column._copy()
        copy.primary_key = column.primary_key
        columns.append(copy)
    items = [sa.Index(i.name, *[c.name for c in i.columns], unique=i.unique) for i in head.indexes]
    return {"copy_from": sa.Table("api_keys", sa.MetaData(), *columns, *items)}


def downgrade() -> None:
    schema = _schema()
    core = None if schema is None else _CORE
    op.drop_table("automation_cursors", schema=schema)
    op.drop_index("idx_automation_changes_unsequenced", "automation_changes", schema=schema)
    op.drop_index("idx_automation_changes_position", "automation_changes", schema=schema)
    op.drop_table("automation_changes", schema=schema)
    op.drop_index("idx_user_roles_user", "user_roles", schema=core)
    op.drop_table("user_roles", schema=core)
    op.drop_table("roles", schema=core)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("fk_api_keys_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")
    for name in reversed(list(_OWNED)):
        old_unique, new_unique = _OWNED[name]
        with op.batch_alter_table(name, schema=schema) as batch:
            if name == "alerts":
                batch.drop_constraint(op.f("ck_alerts_decision"), type_="check")
                batch.drop_constraint(op.f("fk_alerts_decided_by_users"), type_="foreignkey")
                batch.drop_constraint(
                    op.f("fk_alerts_automation_execution_id_automation_executions"),
                    type_="foreignkey",
                )
            if name == "automation_executions":
                batch.drop_constraint("uq_automation_executions_rule_change", type_="unique")
            for column in reversed(_ADDED.get(name, ())):
                if not column.startswith("uq_"):
                    batch.drop_column(column)
            if new_unique:
                batch.drop_constraint(new_unique, type_="unique")
            batch.drop_constraint(op.f(f"fk_{name}_workspace_id_workspaces"), type_="foreignkey")
            batch.drop_column("workspace_id")
        if old_unique:
            # Fails when workspaces share a name: the older schema cannot hold both.
            with op.batch_alter_table(name, schema=schema) as batch:
                batch.create_unique_constraint(old_unique, ["name"])
