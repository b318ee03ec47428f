"""Every table of the specification, declared once on one ``MetaData``.

One module per specification area; each table carries its tier in ``table.info``.
"""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.storage.schema import (
    alerting,
    automation,
    baseline,
    dq_platform,
    resilience,
    scheduler,
    sources,
    workflow_history,
)
from spine.core.storage.schema._base import CORE_SCHEMA, WORKFLOW_SCHEMA, Tier, metadata
from spine.core.storage.schema.legacy_views import LEGACY_VIEWS, LegacyView


def tier_of(table: sa.Table) -> Tier:
    """Return the tier a table belongs to."""
    return Tier(table.info["tier"])


def tables_of_tier(tier: Tier) -> list[sa.Table]:
    """Return the tables that ``tier`` itself adds, in dependency order."""
    return [t for t in metadata.sorted_tables if tier_of(t) is tier]


def tables_up_to(tier: Tier) -> list[sa.Table]:
    """Return the tables of ``tier`` and every tier below it, in dependency order."""
    return [t for t in metadata.sorted_tables if tier_of(t).rank <= tier.rank]


__all__ = [
    "CORE_SCHEMA",
    "LEGACY_VIEWS",
    "WORKFLOW_SCHEMA",
    "LegacyView",
    "Tier",
    "alerting",
    "automation",
    "baseline",
    "dq_platform",
    "metadata",
    "metadata_for",
    "resilience",
    "scheduler",
    "sources",
    "tables_of_tier",
    "tables_up_to",
    "tier_of",
    "workflow_history",
]


def metadata_for(dialect: str) -> sa.MetaData:
    """Return the schema as ``dialect`` stores it.

    PostgreSQL keeps spec 003's tables in schemas ``workflow`` and ``core``; every other
    dialect gets plain tables (the same translation the engine's schema translate map does
    at run time), which is what migrations compare against.
    """
    if dialect == "postgresql":
        return metadata
    flat = sa.MetaData(naming_convention=metadata.naming_convention)
    for source in metadata.sorted_tables:
        source.to_metadata(
            flat,
            schema=None,  # type: ignore[arg-type]  # None means "no schema" at run time
            referred_schema_fn=lambda *_: sa.BLANK_SCHEMA,  # type: ignore[arg-type]
        )
    return flat
