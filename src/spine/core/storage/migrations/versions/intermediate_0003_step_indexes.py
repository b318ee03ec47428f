"""Intermediate tier: drop three history indexes that no query reads.

``idx_workflow_steps_status``, ``idx_workflow_steps_started`` and
``idx_workflow_events_timestamp`` were maintained by every step (each step writes two
events and a step row, and changes the row's status), but no query reads steps or events
across runs by those columns: steps are read by run, failures through the partial index
``idx_workflow_steps_failed``, events by run. Dropping them shortens the commit of every
step.

Revision ID: intermediate_0003
Branch: intermediate
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "intermediate_0003"
down_revision: str | None = "intermediate_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("idx_workflow_steps_status", table_name="core_workflow_steps")
    op.drop_index("idx_workflow_steps_started", table_name="core_workflow_steps")
    op.drop_index("idx_workflow_events_timestamp", table_name="core_workflow_events")


def downgrade() -> None:
    op.create_index("idx_workflow_steps_status", "core_workflow_steps", ["status"], unique=False)
    op.create_index(
        "idx_workflow_steps_started", "core_workflow_steps", ["started_at"], unique=False
    )
    op.create_index(
        "idx_workflow_events_timestamp", "core_workflow_events", ["timestamp"], unique=False
    )
