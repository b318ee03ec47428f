"""Intermediate tier: failures explain themselves, with a traceback and the step's log.

``core_workflow_steps.error_traceback`` holds a failed attempt's traceback with spine's
own frames trimmed (bounded, truncation marked); ``core_workflow_step_logs`` holds the
``ctx.log`` lines of each attempt that logged anything, one row per attempt, written in
the transaction that records the attempt's end and deleted with its run.

Revision ID: intermediate_0005
Branch: intermediate
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from spine.core.storage.types import JSONType

revision: str = "intermediate_0005"
down_revision: str | None = "intermediate_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("core_workflow_steps", sa.Column("error_traceback", sa.Text(), nullable=True))
    op.create_table(
        "core_workflow_step_logs",
        sa.Column("step_id", sa.String(length=26), nullable=False),
        sa.Column("run_id", sa.String(length=26), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lines", JSONType(), nullable=False),
        sa.Column("dropped_lines", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["core_workflow_runs.run_id"],
            name=op.f("fk_core_workflow_step_logs_run_id_core_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["core_workflow_steps.step_id"],
            name=op.f("fk_core_workflow_step_logs_step_id_core_workflow_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_id", name=op.f("pk_core_workflow_step_logs")),
    )
    op.create_index(
        "idx_workflow_step_logs_run",
        "core_workflow_step_logs",
        ["run_id", "step_name", "attempt"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("idx_workflow_step_logs_run", table_name="core_workflow_step_logs")
    op.drop_table("core_workflow_step_logs")
    # SQLite drops a column in place since 3.35.
    op.drop_column("core_workflow_steps", "error_traceback")
