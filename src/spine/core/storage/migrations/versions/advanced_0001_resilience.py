"""Advanced tier: schedule locks, source cache, dead letters and circuit breakers.

Revision ID: advanced_0001
Branch: advanced
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from spine.core.storage.types import JSONType, UtcDateTime

revision: str = "advanced_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("advanced",)
depends_on: str | Sequence[str] | None = "intermediate_0001"


def upgrade() -> None:
    op.create_table(
        "circuit_breakers",
        sa.Column("breaker_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), server_default="closed", nullable=False),
        sa.Column("failure_count", sa.Integer(), server_default="0", nullable=True),
        sa.Column("success_count", sa.Integer(), server_default="0", nullable=True),
        sa.Column("last_failure_at", UtcDateTime(), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("opened_at", UtcDateTime(), nullable=True),
        sa.Column("half_opened_at", UtcDateTime(), nullable=True),
        sa.Column("config", JSONType(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('closed', 'open', 'half_open')", name=op.f("ck_circuit_breakers_state")
        ),
        sa.PrimaryKeyConstraint("breaker_id", name=op.f("pk_circuit_breakers")),
        sa.UniqueConstraint("name", name="uq_circuit_breakers_name"),
    )
    op.create_table(
        "dead_letter_queue",
        sa.Column("dlq_id", sa.String(length=26), nullable=False),
        sa.Column("source_type", sa.String(length=50), nullable=False),
        sa.Column("source_id", sa.String(length=100), nullable=False),
        sa.Column("payload", JSONType(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("error_category", sa.String(length=50), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default="0", nullable=True),
        sa.Column("max_retries", sa.Integer(), server_default="3", nullable=True),
        sa.Column("first_failed_at", UtcDateTime(), nullable=False),
        sa.Column("last_failed_at", UtcDateTime(), nullable=False),
        sa.Column("next_retry_at", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("metadata", JSONType(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'retrying', 'exhausted', 'resolved')",
            name=op.f("ck_dead_letter_queue_status"),
        ),
        sa.PrimaryKeyConstraint("dlq_id", name=op.f("pk_dead_letter_queue")),
    )
    op.create_index("idx_dlq_next_retry", "dead_letter_queue", ["next_retry_at"], unique=False)
    op.create_index(
        "idx_dlq_source", "dead_letter_queue", ["source_type", "source_id"], unique=False
    )
    op.create_index("idx_dlq_status", "dead_letter_queue", ["status"], unique=False)
    op.create_table(
        "core_schedule_locks",
        sa.Column("schedule_id", sa.String(length=26), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=False),
        sa.Column("locked_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["core_schedules.id"],
            name=op.f("fk_core_schedule_locks_schedule_id_core_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", name=op.f("pk_core_schedule_locks")),
    )
    op.create_index(
        "idx_schedule_locks_expires", "core_schedule_locks", ["expires_at"], unique=False
    )
    op.create_table(
        "core_source_cache",
        sa.Column("cache_key", sa.String(length=128), nullable=False),
        sa.Column("source_id", sa.String(length=26), nullable=True),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("source_locator", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=True),
        sa.Column("content_size", sa.BigInteger(), nullable=True),
        sa.Column("content_path", sa.Text(), nullable=True),
        sa.Column("content_blob", sa.LargeBinary(), nullable=True),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("metadata_json", JSONType(), nullable=True),
        sa.Column("last_accessed_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["core_sources.id"],
            name=op.f("fk_core_source_cache_source_id_core_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cache_key", name=op.f("pk_core_source_cache")),
    )
    op.create_index(
        "idx_source_cache_accessed", "core_source_cache", ["last_accessed_at"], unique=False
    )
    op.create_index("idx_source_cache_expires", "core_source_cache", ["expires_at"], unique=False)
    op.create_index("idx_source_cache_source", "core_source_cache", ["source_id"], unique=False)


def downgrade() -> None:
    op.drop_table("core_source_cache")
    op.drop_table("core_schedule_locks")
    op.drop_table("dead_letter_queue")
    op.drop_table("circuit_breakers")
