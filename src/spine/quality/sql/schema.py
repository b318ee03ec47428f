"""The columns of a user's table and their types, as the database describes them."""

from __future__ import annotations

import sqlalchemy as sa

from spine.core.errors import InvalidInput


def _where(engine_or_conn: sa.Engine | sa.Connection) -> str:
    url = engine_or_conn.engine.url
    return f"{url.get_backend_name()} database {url.database or ''!r}"


def read_columns(conn: sa.Connection, schema: str | None, table: str) -> dict[str, str]:
    """``{column: type text}`` in the table's order.

    Raises:
        InvalidInput: If the table does not exist.
    """
    name = f"{schema}.{table}" if schema else table
    inspector = sa.inspect(conn)
    try:
        columns = inspector.get_columns(table, schema=schema)
    except sa.exc.NoSuchTableError:
        raise InvalidInput(f"table {name!r} not found in connection ({_where(conn)})") from None
    if not columns:
        # Some dialects answer an unknown table with no columns instead of an error.
        raise InvalidInput(f"table {name!r} not found in connection ({_where(conn)})")
    return {str(c["name"]): _type_text(c["type"], conn.dialect) for c in columns}


def _type_text(kind: sa.types.TypeEngine[object], dialect: sa.Dialect) -> str:
    try:
        return str(kind.compile(dialect=dialect))
    except Exception:
        return type(kind).__name__.upper()


def describe_table(engine: sa.Engine, schema: str | None, table: str) -> dict[str, str]:
    """The columns of ``[schema.]table`` and their type text, read in one connection.

    Raises:
        InvalidInput: ``table X not found in connection ...`` when it does not exist.
        sqlalchemy.exc.DBAPIError: When the database cannot be reached (the caller
            decides whether that refuses an ``add``).
    """
    with engine.connect() as conn:
        return read_columns(conn, schema, table)
