"""The example's SQL: its domain table, and spine's baseline tables it records into.

Its quality checks are not here: they are checks of ``spine.quality`` (``quality.yaml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.ids import new_id
from spine.core.storage import Database
from spine.core.storage.schema.baseline import core_data_manifests, core_load_records

DOMAIN = "finra.otc_transparency"

domain_metadata = sa.MetaData()

finra_otc_weekly = sa.Table(
    "finra_otc_weekly",
    domain_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("capture_id", sa.String(100), nullable=False),
    sa.Column("week_ending", sa.String(10), nullable=False),
    sa.Column("tier", sa.String(3), nullable=False),
    sa.Column("symbol", sa.String(10), nullable=False),
    sa.Column("issue_name", sa.Text),
    sa.Column("venue", sa.Text),
    sa.Column("mpid", sa.String(4), nullable=False),
    sa.Column("shares", sa.BigInteger, nullable=False),
    sa.Column("trades", sa.BigInteger, nullable=False),
    sa.Column("last_update_date", sa.String(10)),
    sa.Column("run_id", sa.String(26)),
    sa.Index("ix_finra_otc_weekly_week", "week_ending", "tier", "capture_id"),
)


# The advisory lock key that serialises creating the example's tables (any constant).
_DDL_LOCK = 0x46494E5241


class FinraStore:
    """Writes the example's rows, manifests and load records."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def create_tables(self) -> None:
        """Create the example's tables where they are missing.

        In one write transaction, under a PostgreSQL advisory lock: runs of several weeks
        started at once (``spine backfill --concurrency``) would otherwise both find a
        table missing and both create it, and the second fails. SQLite's write
        transaction is already exclusive.
        """

        def work(conn: sa.Connection) -> None:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
            domain_metadata.create_all(conn, checkfirst=True)

        self.db.run_write(work)

    def capture_loaded(self, capture_id: str) -> bool:
        """Whether this capture (same week, same bytes) was loaded already."""
        query = (
            sa.select(sa.func.count())
            .select_from(core_data_manifests)
            .where(
                core_data_manifests.c.capture_id == capture_id,
                core_data_manifests.c.stage == "normalized",
            )
        )
        return bool(self.db.run_read(lambda conn: conn.execute(query).scalar_one()))

    def load(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        capture_id: str,
        partition_key: str,
        tier_counts: dict[str, dict[str, Any]],
        content_hash: str,
        run_id: str,
        now: datetime,
    ) -> int:
        """Insert the rows, a manifest and one load record per tier, in one transaction."""
        manifest_id = new_id()

        def work(conn: sa.Connection) -> int:
            conn.execute(
                sa.insert(core_data_manifests).values(
                    id=manifest_id,
                    domain=DOMAIN,
                    partition_key=partition_key,
                    stage="normalized",
                    capture_id=capture_id,
                    row_count=len(rows),
                    content_hash=content_hash,
                    run_id=run_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            if rows:
                conn.execute(
                    sa.insert(finra_otc_weekly),
                    [{**r, "capture_id": capture_id, "run_id": run_id} for r in rows],
                )
            for tier, counts in tier_counts.items():
                conn.execute(
                    sa.insert(core_load_records).values(
                        id=new_id(),
                        manifest_id=manifest_id,
                        domain=DOMAIN,
                        target_table=finra_otc_weekly.name,
                        partition_key=partition_key,
                        capture_id=capture_id,
                        status="COMPLETED",
                        rows_read=counts["read"],
                        rows_inserted=counts["valid"],
                        rows_rejected=counts["rejected"],
                        rejects=counts["rejects"],
                        run_id=run_id,
                        started_at=now,
                        completed_at=now,
                        duration_ms=0,
                        created_at=now,
                        error=None
                        if not counts["rejected"]
                        else f"tier {tier}: {counts['rejected']} rows rejected",
                    )
                )
            return len(rows)

        return self.db.run_write(work)
