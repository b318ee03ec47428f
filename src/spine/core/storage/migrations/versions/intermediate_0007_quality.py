"""Intermediate tier: what data quality and its notifications add to spec 004's tables.

- ``connections.type`` also takes ``sqlite``, ``duckdb`` and ``db2``: every dialect a
  registered connection (``core_database_connections``) reaches, which spec 004's
  ``connections`` mirrors.
- ``check_definitions`` gets ``workspace_id`` (existing rows: their connection's), and a
  check's name is unique per workspace.
- ``check_results.details`` (samples, schema, anomaly band), ``incidents``'
  ``acknowledged_at``, ``consecutive_passes`` and ``reopened_count``, ``jobs``' durable
  claim (``claimed_by``, ``lease_expires_at``, ``attempts``).
- ``webhooks``: names unique per workspace, and the alert channel (``channel_id``) that
  delivers each one through the outbox; ``core_alert_channels.events`` marks such a channel.
- ``core_database_connections.allow_samples``: off keeps failed-row samples of checks
  away from a connection's tables (personal data).

Revision ID: intermediate_0007
Branch: intermediate
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from spine.core.storage.types import JSONType, UtcDateTime

revision: str = "intermediate_0007"
down_revision: str | None = "intermediate_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (revisions are frozen code).
_DEFAULT_WORKSPACE = uuid.UUID("93c8957a-5c7c-5067-826a-9d88ed98eb5c")
_SPEC_TYPES = (
    "postgresql",
    "mysql",
    "sqlserver",
    "bigquery",
    "snowflake",
    "redshift",
    "databricks",
)
_TYPES = (*_SPEC_TYPES, "sqlite", "duckdb", "db2")
_TIMESTAMP = UtcDateTime()


def _one_of(values: tuple[str, ...]) -> str:
    return "type IN ({})".format(", ".join(f"'{v}'" for v in values))


def _copy_from(
    name: str, *, drop: tuple[str, ...] = (), types: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What SQLite's batch mode copies ``name`` from when printing DDL offline.

    Online, Alembic reflects the table. Offline, the table before this revision is the
    head schema's without the columns and constraints this revision adds (``drop``), and
    for ``connections`` with the spec's types only.
    """
    if not op.get_context().as_sql or op.get_context().dialect.name != "sqlite":
        return {}
    from spine.core.storage.schema import metadata_for

    head = metadata_for("sqlite").tables[name]
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
            if types and str(constraint.name).endswith("_type"):
                items.append(sa.CheckConstraint(_one_of(types), name=constraint.name))
            else:
                items.append(constraint._copy())
        elif isinstance(constraint, sa.UniqueConstraint) and not (
            set(constraint.columns.keys()) & set(drop) or constraint.name in drop
        ):
            items.append(sa.UniqueConstraint(*constraint.columns.keys(), name=constraint.name))
    for index in head.indexes:
        if {c.name for c in index.columns} & set(drop):
            continue
        names = [c.name for c in index.columns]
        items.append(sa.Index(index.name, *names, unique=index.unique, **index.dialect_kwargs))
    return {"copy_from": sa.Table(name, sa.MetaData(), *columns, *items)}


def _offline_sqlite_pragmas(on: bool) -> None:
    context = op.get_context()
    if context.as_sql and context.dialect.name == "sqlite":
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
        op.execute(f"PRAGMA legacy_alter_table={'OFF' if on else 'ON'}")


def _set_types(values: tuple[str, ...], before: tuple[str, ...]) -> None:
    with op.batch_alter_table("connections", **_copy_from("connections", types=before)) as batch:
        batch.drop_constraint(op.f("ck_connections_type"), type_="check")
        batch.create_check_constraint("type", _one_of(values))


def upgrade() -> None:
    _offline_sqlite_pragmas(on=False)
    _set_types(_TYPES, _SPEC_TYPES)
    with op.batch_alter_table(
        "check_definitions",
        **_copy_from(
            "check_definitions", drop=("workspace_id", "uq_check_definitions_workspace_name")
        ),
    ) as batch:
        batch.add_column(
            sa.Column(
                "workspace_id",
                sa.Uuid(),
                nullable=False,
                server_default=sa.text(f"'{_DEFAULT_WORKSPACE.hex}'"),
            )
        )
        batch.create_foreign_key(
            op.f("fk_check_definitions_workspace_id_workspaces"),
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_unique_constraint(
            "uq_check_definitions_workspace_name", ["workspace_id", "name"]
        )
    # A check made before this revision belongs to its connection's workspace.
    op.execute(
        "UPDATE check_definitions SET workspace_id = (SELECT c.workspace_id FROM connections c"
        " WHERE c.id = check_definitions.connection_id)"
    )
    op.add_column("check_results", sa.Column("details", JSONType(), nullable=True))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_at", _TIMESTAMP, nullable=True))
        batch.add_column(
            sa.Column("consecutive_passes", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("reopened_count", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", _TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table(
        "webhooks", **_copy_from("webhooks", drop=("channel_id", "uq_webhooks_workspace_name"))
    ) as batch:
        batch.add_column(sa.Column("channel_id", sa.String(26), nullable=True))
        batch.create_unique_constraint("uq_webhooks_workspace_name", ["workspace_id", "name"])
    op.add_column("core_alert_channels", sa.Column("events", JSONType(), nullable=True))
    op.add_column(
        "core_database_connections",
        sa.Column("allow_samples", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    _offline_sqlite_pragmas(on=True)


def downgrade() -> None:
    with op.batch_alter_table("core_database_connections") as batch:
        batch.drop_column("allow_samples")
    op.drop_column("core_alert_channels", "events")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_constraint("uq_webhooks_workspace_name", type_="unique")
        batch.drop_column("channel_id")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("attempts")
        batch.drop_column("lease_expires_at")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("reopened_count")
        batch.drop_column("consecutive_passes")
        batch.drop_column("acknowledged_at")
    op.drop_column("check_results", "details")
    with op.batch_alter_table("check_definitions") as batch:
        batch.drop_constraint("uq_check_definitions_workspace_name", type_="unique")
        batch.drop_constraint(
            op.f("fk_check_definitions_workspace_id_workspaces"), type_="foreignkey"
        )
        batch.drop_column("workspace_id")
    # Connections of the added types cannot stay under the spec's list.
    op.execute("DELETE FROM connections WHERE type IN ('sqlite', 'duckdb', 'db2')")
    _set_types(_SPEC_TYPES, _TYPES)
