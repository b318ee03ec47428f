"""Intermediate tier: workspaces own what users create.

Seeds the organization and workspace named ``default`` (stable uuid5 ids), then gives
the ``core_*`` tables users create rows in a ``workspace_id`` (runs, schedules, alert
channels, alerts, sources, database connections, and the per-day run statistics, whose
key it joins). Existing rows move to ``default``. Names become unique per workspace, and
a run's idempotency key per workspace and workflow. ``api_keys`` gets ``revoked_at``. Steps, events, fires, deliveries,
fetches and the rest hang off one of these rows and are reached through it.

Downgrading drops the columns again; it fails if two workspaces hold the same name.

Revision ID: intermediate_0006
Branch: intermediate
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from spine.core.storage.types import UtcDateTime

revision: str = "intermediate_0006"
down_revision: str | None = "intermediate_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of spine.core.storage.schema._base's values (revisions are frozen code).
DEFAULT_ORGANIZATION_ID = uuid.UUID("419cec01-7327-5368-baa0-e6e623796161")
DEFAULT_WORKSPACE_ID = uuid.UUID("93c8957a-5c7c-5067-826a-9d88ed98eb5c")
_TIMESTAMP = UtcDateTime()
_DEFAULT = sa.text(f"'{DEFAULT_WORKSPACE_ID.hex}'")

# Table -> (old unique constraint on name, new one on workspace and name).
_NAMED = {
    "core_schedules": ("uq_schedules_name", "uq_schedules_workspace_name"),
    "core_alert_channels": ("uq_alert_channels_name", "uq_alert_channels_workspace_name"),
    "core_sources": ("uq_sources_name", "uq_sources_workspace_name"),
    "core_database_connections": (
        "uq_database_connections_name",
        "uq_database_connections_workspace_name",
    ),
}
_OWNED = ("core_workflow_runs", "core_alerts", *_NAMED)
# Columns later revisions add to these tables (absent when this revision runs).
_ADDED_LATER = {
    ("core_alert_channels", "events"),
    ("core_database_connections", "allow_samples"),
}
# Indexes later revisions add to these tables (intermediate_0009).
_INDEXES_ADDED_LATER = {"idx_workflow_runs_page_status", "idx_workflow_runs_page_name"}


def _workspace_column(*, primary_key: bool = False) -> sa.Column[uuid.UUID]:
    return sa.Column(
        "workspace_id", sa.Uuid(), nullable=False, server_default=_DEFAULT, primary_key=primary_key
    )


def _seed_defaults() -> None:
    now = datetime.now(UTC)
    organizations = sa.table(
        "organizations",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    workspaces = sa.table(
        "workspaces",
        sa.column("id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    if op.get_context().as_sql:
        stamp: object = sa.literal(now.isoformat())
    else:
        stamp = now
    op.execute(
        sa.insert(organizations).values(
            id=DEFAULT_ORGANIZATION_ID, name="default", created_at=stamp, updated_at=stamp
        )
    )
    op.execute(
        sa.insert(workspaces).values(
            id=DEFAULT_WORKSPACE_ID,
            organization_id=DEFAULT_ORGANIZATION_ID,
            name="default",
            created_at=stamp,
            updated_at=stamp,
        )
    )


def _copy_from(name: str) -> dict[str, Any]:
    """What SQLite's batch mode copies ``name`` from when printing DDL offline.

    Online, Alembic reflects the table. Offline there is nothing to reflect: the table as
    it stood before this revision is the head schema's without the workspace and with
    the old keys. (A later revision that alters these tables must freeze them here.)
    """
    if not op.get_context().as_sql or op.get_context().dialect.name != "sqlite":
        return {}
    from spine.core.storage.schema import metadata_for

    head = metadata_for("sqlite").tables[name]
    columns = []
    for column in head.columns:
        if column.name == "workspace_id" or (name, column.name) in _ADDED_LATER:
            continue
        copy = column._copy()
        copy.primary_key = column.primary_key
        columns.append(copy)
    items: list[Any] = [c._copy() for c in head.constraints if isinstance(c, sa.CheckConstraint)]
    if name in _NAMED:
        items.append(sa.UniqueConstraint("name", name=_NAMED[name][0]))
    for index in head.indexes:
        if index.name == "idx_workflow_runs_workspace" or index.name in _INDEXES_ADDED_LATER:
            continue  # added below, or by a later revision
        # The idempotency index had no workspace before.
        names = [c.name for c in index.columns if c.name != "workspace_id"]
        items.append(sa.Index(index.name, *names, unique=index.unique, **index.dialect_kwargs))
    if name == "core_workflow_run_stats":
        items.append(
            sa.PrimaryKeyConstraint(
                "workflow_name", "day", "status", name="pk_core_workflow_run_stats"
            )
        )
    return {"copy_from": sa.Table(name, sa.MetaData(), *columns, *items)}


def _offline_sqlite_pragmas(on: bool) -> None:
    # Online, the migrator sets these around every migration; a printed script must
    # set them itself (see Migrator._run).
    context = op.get_context()
    if context.as_sql and context.dialect.name == "sqlite":
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
        op.execute(f"PRAGMA legacy_alter_table={'OFF' if on else 'ON'}")


def upgrade() -> None:
    _offline_sqlite_pragmas(on=False)
    _seed_defaults()
    op.add_column("api_keys", sa.Column("revoked_at", _TIMESTAMP, nullable=True))
    for name in _OWNED:
        with op.batch_alter_table(name, **_copy_from(name)) as batch:
            batch.add_column(_workspace_column())
            batch.create_foreign_key(
                op.f(f"fk_{name}_workspace_id_workspaces"),
                "workspaces",
                ["workspace_id"],
                ["id"],
                ondelete="CASCADE",
            )
            if name in _NAMED:
                old, new = _NAMED[name]
                batch.drop_constraint(old, type_="unique")
                batch.create_unique_constraint(new, ["workspace_id", "name"])
    op.drop_index("uq_workflow_runs_idempotency", table_name="core_workflow_runs")
    op.create_index(
        "uq_workflow_runs_idempotency",
        "core_workflow_runs",
        ["workspace_id", "workflow_name", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index(
        "idx_workflow_runs_workspace", "core_workflow_runs", ["workspace_id", "created_at"]
    )
    with op.batch_alter_table(
        "core_workflow_run_stats", **_copy_from("core_workflow_run_stats")
    ) as batch:
        batch.drop_constraint("pk_core_workflow_run_stats", type_="primary")
        batch.add_column(_workspace_column())
        batch.create_foreign_key(
            op.f("fk_core_workflow_run_stats_workspace_id_workspaces"),
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_primary_key(
            "pk_core_workflow_run_stats", ["workspace_id", "workflow_name", "day", "status"]
        )
    _offline_sqlite_pragmas(on=True)


def downgrade() -> None:
    with op.batch_alter_table("core_workflow_run_stats") as batch:
        batch.drop_constraint("pk_core_workflow_run_stats", type_="primary")
        batch.drop_constraint(
            op.f("fk_core_workflow_run_stats_workspace_id_workspaces"), type_="foreignkey"
        )
        batch.drop_column("workspace_id")
        batch.create_primary_key("pk_core_workflow_run_stats", ["workflow_name", "day", "status"])
    op.drop_index("idx_workflow_runs_workspace", table_name="core_workflow_runs")
    op.drop_index("uq_workflow_runs_idempotency", table_name="core_workflow_runs")
    op.create_index(
        "uq_workflow_runs_idempotency",
        "core_workflow_runs",
        ["workflow_name", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    for name in reversed(_OWNED):
        with op.batch_alter_table(name) as batch:
            if name in _NAMED:
                old, new = _NAMED[name]
                batch.drop_constraint(new, type_="unique")
                batch.create_unique_constraint(old, ["name"])
            batch.drop_constraint(op.f(f"fk_{name}_workspace_id_workspaces"), type_="foreignkey")
            batch.drop_column("workspace_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("revoked_at")
    op.execute(sa.text(f"DELETE FROM workspaces WHERE id = '{DEFAULT_WORKSPACE_ID.hex}'"))
    op.execute(sa.text(f"DELETE FROM organizations WHERE id = '{DEFAULT_ORGANIZATION_ID.hex}'"))
