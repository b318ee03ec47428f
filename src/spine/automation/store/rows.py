"""SQL over watched tables for actions: ``update_field`` sets a column of the changed row.

Table, schema and column names come from the change and the rule's config; SQLAlchemy
quotes them as identifiers, and values go as bound parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from spine.automation.store.changes import cascade_depth
from spine.core.errors import InvalidInput
from spine.core.events import Connection as EventConnection
from spine.core.storage import sql_connection

__all__ = ["update_row"]


def update_row(
    conn: EventConnection,
    *,
    table: str,
    schema: str | None,
    key: Mapping[str, Any],
    values: Mapping[str, Any],
    depth: int,
) -> int:
    """Set ``values`` on the rows of ``table`` whose ``key`` columns equal the given ones.

    Runs inside :func:`~spine.automation.store.changes.cascade_depth` so that the change
    the table's capture trigger records carries ``depth``. Returns how many rows changed.

    Raises:
        InvalidInput: If the database refuses the statement (no such column, a value
            of the wrong type); the transaction is then unusable and is rolled back.
    """
    sql = sql_connection(conn)
    columns = [*key, *values]
    target = sa.table(
        table,
        *(sa.column(c) for c in dict.fromkeys(columns)),
        schema=schema if sql.dialect.name == "postgresql" else None,
    )
    statement = (
        sa.update(target)
        .where(*(target.c[name] == value for name, value in key.items()))
        .values(dict(values))
    )
    with cascade_depth(sql, depth):
        try:
            result = sql.execute(statement)
        except sa.exc.DBAPIError as error:
            reason = str(error.orig).splitlines()[0] if error.orig else str(error)
            raise InvalidInput(f"cannot update {table}: {reason}") from None
    return int(result.rowcount or 0)
