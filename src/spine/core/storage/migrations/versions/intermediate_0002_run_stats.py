"""Intermediate tier: per-day run statistics, so `runs stats` does not scan every run.

Revision ID: intermediate_0002
Branch: intermediate
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from spine.core.storage.migrations.support import is_postgresql

revision: str = "intermediate_0002"
down_revision: str | None = "intermediate_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_workflow_run_stats",
        sa.Column("workflow_name", sa.String(length=200), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duration_ms_sum", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("duration_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "workflow_name", "day", "status", name=op.f("pk_core_workflow_run_stats")
        ),
    )
    op.create_index("idx_workflow_run_stats_day", "core_workflow_run_stats", ["day"], unique=False)
    # Count the runs that already exist.
    day = (
        "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        if is_postgresql()
        else "substr(created_at, 1, 10)"
    )
    op.execute(
        "INSERT INTO core_workflow_run_stats (workflow_name, day, status, run_count,"
        " duration_ms_sum, duration_count)"
        f" SELECT workflow_name, {day}, status, count(*), coalesce(sum(duration_ms), 0),"
        " count(duration_ms) FROM core_workflow_runs"
        f" GROUP BY workflow_name, {day}, status"
    )


def downgrade() -> None:
    op.drop_index("idx_workflow_run_stats_day", table_name="core_workflow_run_stats")
    op.drop_table("core_workflow_run_stats")
