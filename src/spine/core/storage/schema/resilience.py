"""Spec 001's advanced tier: the dead-letter queue and circuit breakers.

Both live in the database so that every process sees the same state.
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema._base import Tier, counter, json_col, one_of, table, ts, ulid_pk

SPEC = "001"

DLQ_STATUSES = ("pending", "retrying", "exhausted", "resolved")
BREAKER_STATES = ("closed", "open", "half_open")

dead_letter_queue = table(
    "dead_letter_queue",
    ulid_pk("dlq_id"),
    sa.Column("source_type", sa.String(50), nullable=False),
    sa.Column("source_id", sa.String(100), nullable=False),
    json_col("payload", nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("error_category", sa.String(50)),
    counter("retry_count", 0, nullable=True),
    counter("max_retries", 3, nullable=True),
    ts("first_failed_at", nullable=False),
    ts("last_failed_at", nullable=False),
    ts("next_retry_at"),
    sa.Column("status", sa.String(20), server_default="pending"),
    ts("resolved_at"),
    json_col("metadata"),
    one_of("status", DLQ_STATUSES, "status"),
    sa.Index("idx_dlq_status", "status"),
    sa.Index("idx_dlq_next_retry", "next_retry_at"),
    sa.Index("idx_dlq_source", "source_type", "source_id"),
    tier=Tier.ADVANCED,
    spec=SPEC,
)

circuit_breakers = table(
    "circuit_breakers",
    ulid_pk("breaker_id"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, server_default="closed"),
    counter("failure_count", 0, nullable=True),
    counter("success_count", 0, nullable=True),
    ts("last_failure_at"),
    ts("last_success_at"),
    ts("opened_at"),
    ts("half_opened_at"),
    json_col("config"),
    ts("updated_at", nullable=False),
    sa.UniqueConstraint("name", name="uq_circuit_breakers_name"),
    one_of("state", BREAKER_STATES, "state"),
    tier=Tier.ADVANCED,
    spec=SPEC,
)
