"""What migrations share: the version table, dialect-aware schema names, view DDL.

Revisions call these helpers instead of importing the live table definitions, so that a
revision keeps creating what it created when it was written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateView, DropView

# Defined beside the cheap head check, which must not import Alembic to read it.
from spine.core.storage.schema_head import VERSION_TABLE as VERSION_TABLE

# Indexes that exist only on PostgreSQL (GIN over JSONB); the metadata does not declare
# them, so comparing the schema must not report them as extra.
PG_ONLY_INDEX_PREFIX = "gin_"


def dialect_name() -> str:
    """The dialect the running migration targets (online or offline)."""
    return str(op.get_context().dialect.name)


def is_postgresql() -> bool:
    """Whether the migration targets PostgreSQL."""
    return dialect_name() == "postgresql"


def schema(name: str) -> str | None:
    """Spec 003's schema name on PostgreSQL, none elsewhere (plain tables)."""
    return name if is_postgresql() else None


def ref(schema_name: str, target: str) -> str:
    """A foreign-key target ``table.column`` inside ``schema_name`` on PostgreSQL."""
    return f"{schema_name}.{target}" if is_postgresql() else target


READ_ONLY_FUNCTION = "spine_read_only_view"


def create_view(name: str, query: sa.Select[Any]) -> None:
    """Create a read-only view.

    PostgreSQL would let simple views be written through; a trigger refuses that, as
    SQLite does by itself.
    """
    op.execute(CreateView(query, name))
    if is_postgresql():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {READ_ONLY_FUNCTION}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'view % is read-only: write to spine''s core tables', TG_TABLE_NAME; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name}_read_only INSTEAD OF INSERT OR UPDATE OR DELETE "
            f"ON {name} FOR EACH ROW EXECUTE FUNCTION {READ_ONLY_FUNCTION}()"
        )


def drop_read_only_function() -> None:
    """Drop the trigger function of read-only views (after the views)."""
    if is_postgresql():
        op.execute(f"DROP FUNCTION IF EXISTS {READ_ONLY_FUNCTION}()")


def drop_view(name: str) -> None:
    """Drop a view if it exists."""
    op.execute(DropView(sa.table(name), if_exists=True))  # type: ignore[arg-type]


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave out of comparisons what the metadata does not model on purpose."""
    if type_ == "table" and name == VERSION_TABLE:
        return False
    if type_ == "index" and reflected and name and name.startswith(PG_ONLY_INDEX_PREFIX):
        return False
    # PostgreSQL partitions of check_results and audit_log (`check_results_2025_01` ...).
    return not (type_ == "table" and reflected and compare_to is None and _is_partition(name))


def _is_partition(name: str | None) -> bool:
    return bool(name) and any(
        str(name).startswith(f"{parent}_") for parent in ("check_results", "audit_log")
    )


def primary_key(table: str, partition_column: str) -> sa.PrimaryKeyConstraint:
    """The key of a table PostgreSQL partitions: it must include the partition column."""
    if is_postgresql():
        return sa.PrimaryKeyConstraint(partition_column, "id", name=f"pk_{table}")
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def partitioned_by(column: str) -> dict[str, Any]:
    """``create_table`` keywords that partition by month of ``column`` on PostgreSQL."""
    return {"postgresql_partition_by": f"RANGE ({column})"} if is_postgresql() else {}


def create_default_partition(table: str) -> None:
    """Give a partitioned table a DEFAULT partition, so no insert ever lacks a home."""
    if is_postgresql():
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")


def create_gin_index(name: str, table: str, column: str, schema_name: str | None = None) -> None:
    """A GIN index over a JSONB column, on PostgreSQL only."""
    if is_postgresql():
        op.create_index(name, table, [column], postgresql_using="gin", schema=schema_name)


def create_schemas(*names: str) -> None:
    """Create PostgreSQL schemas (spec 003's ``workflow`` and ``core``)."""
    if is_postgresql():
        for name in names:
            op.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")


def drop_schemas(*names: str) -> None:
    """Drop PostgreSQL schemas, which fails if anything else still lives there."""
    if is_postgresql():
        for name in names:
            op.execute(f"DROP SCHEMA IF EXISTS {name}")
