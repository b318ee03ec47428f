"""Intermediate tier: indexes for pages of runs, newest first, in one workspace.

The API's and the dashboard's run listings page by run id (a ULID, so newest first) after
a cursor, in the caller's workspace, optionally of one status or one workflow. Without
an index on those columns followed by the id, SQLite read every run of the status or
workflow and sorted them (0.2-0.6 s at 1,000,000 runs), and a workspace holding few of
the runs read the whole table backwards by primary key (2 s). With them a page reads its
50 rows (``benchmarks/web.py``, ``docs/benchmarks.md``):

- ``idx_workflow_runs_page`` (``workspace_id``, ``run_id``): unfiltered pages.
- ``idx_workflow_runs_page_status`` (``workspace_id``, ``status``, ``run_id``).
- ``idx_workflow_runs_page_name`` (``workspace_id``, ``workflow_name``, ``run_id``).

Revision ID: intermediate_0009
Branch: intermediate
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "intermediate_0009"
down_revision: str | None = "intermediate_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy (revisions are frozen code): index name -> columns.
_INDEXES: dict[str, list[str]] = {
    "idx_workflow_runs_page": ["workspace_id", "run_id"],
    "idx_workflow_runs_page_status": ["workspace_id", "status", "run_id"],
    "idx_workflow_runs_page_name": ["workspace_id", "workflow_name", "run_id"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "core_workflow_runs", columns, unique=False)


def downgrade() -> None:
    for name in reversed(list(_INDEXES)):
        op.drop_index(name, table_name="core_workflow_runs")
