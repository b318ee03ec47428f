"""The columns of a user's table and their types, as the database describes them."""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.errors import InvalidInput
from spine.quality.sql.session import as_spine_error


def _where(engine_or_conn: sa.Engine | sa.Connection) -> str:
    url = engine_or_conn.engine.url
    return f"{url.get_backend_name()} database {url.database or ''!r}"


def read_columns(conn: sa.Connection, schema: str | None, table: str) -> dict[str, str]:
    """``{column: type text}`` in the table's order.

    Raises:
        InvalidInput: If the table does not exist.
    """
    name = f"{schema}.{table}" if schema else table
    if conn.dialect.name == "duckdb":
        found = _duckdb_columns(conn, schema, table)
        if not found:
            raise InvalidInput(f"table {name!r} not found in connection ({_where(conn)})")
        return found
    inspector = sa.inspect(conn)
    try:
        columns = inspector.get_columns(table, schema=schema)
    except sa.exc.NoSuchTableError:
        raise InvalidInput(f"table {name!r} not found in connection ({_where(conn)})") from None
    if not columns:
        # Some dialects answer an unknown table with no columns instead of an error.
        raise InvalidInput(f"table {name!r} not found in connection ({_where(conn)})")
    return {str(c["name"]): _type_text(c["type"], conn.dialect) for c in columns}


def _duckdb_columns(conn: sa.Connection, schema: str | None, table: str) -> dict[str, str]:
    # duckdb_engine's inspector reads pg_catalog tables DuckDB 2 no longer has.
    info = sa.table(
        "columns",
        sa.column("column_name"),
        sa.column("data_type"),
        sa.column("table_name"),
        sa.column("table_schema"),
        sa.column("ordinal_position"),
        schema="information_schema",
    )
    statement = (
        sa.select(info.c.column_name, info.c.data_type)
        .where(
            info.c.table_name == table,
            info.c.table_schema == (schema if schema else sa.func.current_schema()),
        )
        .order_by(info.c.ordinal_position)
    )
    return {str(name): str(kind) for name, kind in conn.execute(statement)}


def _type_text(kind: sa.types.TypeEngine[object], dialect: sa.Dialect) -> str:
    try:
        return str(kind.compile(dialect=dialect))
    except Exception:
        return type(kind).__name__.upper()


def describe_table(engine: sa.Engine, schema: str | None, table: str) -> dict[str, str]:
    """The columns of ``[schema.]table`` and their type text, read in one connection.

    Raises:
        InvalidInput: ``table X not found in connection ...`` when it does not exist.
        SpineError: ``UNAVAILABLE`` when the database cannot be reached (the caller
            decides whether that refuses an ``add``), ``DATABASE`` for other failures.
    """
    try:
        with engine.connect() as conn:
            return read_columns(conn, schema, table)
    except InvalidInput:
        raise
    except Exception as error:
        raise as_spine_error(error, engine) from None
