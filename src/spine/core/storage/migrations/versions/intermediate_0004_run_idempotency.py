"""Intermediate tier: idempotent starts, one run per workflow and idempotency key.

``core_workflow_runs.idempotency_key`` holds the key a caller gave when it started the
run (``spine run --idempotency-key``, ``WorkflowRunner.submit(idempotency_key=...)``);
the partial unique index ``uq_workflow_runs_idempotency`` lets at most one run of a
workflow have a given key, so concurrent starts with the same key make one run.

Revision ID: intermediate_0004
Branch: intermediate
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intermediate_0004"
down_revision: str | None = "intermediate_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYED = "idempotency_key IS NOT NULL"


def upgrade() -> None:
    op.add_column(
        "core_workflow_runs", sa.Column("idempotency_key", sa.String(length=255), nullable=True)
    )
    op.create_index(
        "uq_workflow_runs_idempotency",
        "core_workflow_runs",
        ["workflow_name", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text(_KEYED),
        postgresql_where=sa.text(_KEYED),
    )


def downgrade() -> None:
    op.drop_index("uq_workflow_runs_idempotency", table_name="core_workflow_runs")
    # SQLite drops a column in place since 3.35 (the index on it is gone already).
    op.drop_column("core_workflow_runs", "idempotency_key")
