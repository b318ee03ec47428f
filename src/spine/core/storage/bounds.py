"""Text that must fit its column is checked against the column before it is written.

A ``VARCHAR(n)`` column takes at most ``n`` characters: PostgreSQL refuses more with a
driver error, SQLite stores any length. Stores call :func:`check_lengths` with the
values of the row they are about to write, before their transaction starts, so an
over-long value is refused with the field's name and its limit and nothing is written.
The limit is read from the table (``table.c.name.type.length``), never repeated.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from spine.core.errors import InvalidInput


def column_length(table: sa.Table, name: str) -> int | None:
    """The most characters column ``name`` of ``table`` takes, or None if unbounded.

    Raises:
        KeyError: If ``table`` has no such column.
    """
    length = getattr(table.c[name].type, "length", None)
    return length if isinstance(length, int) else None


def check_lengths(
    table: sa.Table,
    values: Mapping[str, object],
    *,
    what: str,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Refuse any text value of ``values`` longer than its column of ``table`` takes.

    Values that are not text, and names that are not columns of ``table``, are ignored.

    Args:
        table: The table the values are written to.
        values: Column name to value, as the store is about to write them.
        what: What a row is, for the message: ``"schedule"`` gives ``schedule name``.
        labels: Names for the message instead of ``"{what} {column}"``, by column.

    Raises:
        InvalidInput: Naming the first over-long field, its length and its limit.
    """
    for name, value in values.items():
        if not isinstance(value, str) or name not in table.c:
            continue
        limit = column_length(table, name)
        if limit is not None and len(value) > limit:
            label = (labels or {}).get(name, f"{what} {name}")
            raise InvalidInput(f"{label} is {len(value)} characters long; the most is {limit}")
