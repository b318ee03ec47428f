"""Intermediate tier: indexes for pages of runs, newest first, in one workspace.

The dashboard lists a workspace's runs newest created first, of one status or one
workflow or neither, a page after a ``(created_at, run_id)`` cursor. ``status`` and
``workflow_name`` led indexes without the workspace, so a workspace holding few of the
runs read every run of the status or workflow; these lead with the workspace and end
with ``run_id``, the cursor's tie-break, so a page is one index range read backwards
and stopped by its ``LIMIT`` (``benchmarks/web.py``, ``docs/benchmarks.md``). Unfiltered
pages use ``idx_workflow_runs_workspace``.

- ``idx_workflow_runs_page_status`` (``workspace_id``, ``status``, ``created_at``, ``run_id``).
- ``idx_workflow_runs_page_name`` (``workspace_id``, ``workflow_name``, ``created_at``,
  ``run_id``).

On SQLite, a database that has statistics (``sqlite_stat1``, from an ``ANALYZE``) gets
the new indexes' statistics too: with the old indexes' figures and none for the new
ones, the planner chose a new index for the unfiltered page and sorted every run.

Revision ID: intermediate_0009
Branch: intermediate
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intermediate_0009"
down_revision: str | None = "intermediate_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy (revisions are frozen code): index name -> columns.
_INDEXES: dict[str, list[str]] = {
    "idx_workflow_runs_page_status": ["workspace_id", "status", "created_at", "run_id"],
    "idx_workflow_runs_page_name": ["workspace_id", "workflow_name", "created_at", "run_id"],
}
_TABLE = "core_workflow_runs"


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, _TABLE, columns, unique=False)
    context = op.get_context()
    if context.dialect.name == "sqlite" and not context.as_sql:
        has_statistics = op.get_bind().execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        )
        if has_statistics.first() is not None:
            for name in _INDEXES:
                op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name in reversed(list(_INDEXES)):
        op.drop_index(name, table_name=_TABLE)
