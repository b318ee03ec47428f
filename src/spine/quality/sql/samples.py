"""Failed-row samples: a few offending rows of a failed row-level check.

The statement is ``SELECT * ... WHERE scope AND bad LIMIT n``: the database stops at the
n-th offending row, so a sample never repeats the aggregate scan. It runs in the same
read-only, timed session as the checks.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from spine.quality.catalogue import check_type
from spine.quality.models import CheckDefinition
from spine.quality.sql.compiler import bad_condition
from spine.quality.sql.scan import scope_condition, split_table, table_clause
from spine.quality.sql.session import as_spine_error, read_only


def sample_rows(
    engine: sa.Engine,
    check: CheckDefinition,
    *,
    limit: int,
    timeout_seconds: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` offending rows of a row-level check, as JSON-able dicts.

    ``now`` places a ``time_column`` + ``window`` scope (default: the current time); pass
    the run's time so the sample reads the rows the check measured.

    Returns an empty list for a type without rows (``row_count`` ...) or ``limit`` 0.

    Raises:
        SpineError: What went wrong, in one line (``TIMEOUT``, ``UNAVAILABLE`` or
            ``DATABASE``): the caller records the check without samples.
    """
    if limit <= 0 or not check_type(check.check_type).row_level:
        return []
    dialect = engine.dialect.name
    column = check.target_column or ""
    table = table_clause(check.target_table, check.target_schema, column)
    if check.check_type == "missing_reference_count":
        config = check.config
        schema, name = split_table(config["reference_table"])
        reference = table_clause(name, schema, config["reference_column"]).alias("spine_ref")
        bad: Any = sa.and_(
            table.c[column].is_not(None),
            sa.not_(
                sa.exists(
                    sa.select(sa.literal(1)).where(
                        reference.c[config["reference_column"]] == table.c[column]
                    )
                )
            ),
        )
    else:
        bad = bad_condition(check, dialect)
    scope = scope_condition(check, dialect, now or datetime.now(UTC))
    conditions = [bad] if scope is None else [scope, bad]
    statement = sa.select(sa.text("*")).select_from(table).where(*conditions).limit(limit)
    try:
        with engine.connect() as conn, read_only(conn, timeout_seconds) as run:
            rows = run(statement)
    except Exception as error:
        raise as_spine_error(error, engine) from None
    return [{key: jsonable(value) for key, value in row._mapping.items()} for row in rows]


def jsonable(value: Any) -> Any:
    """A database value as JSON can hold it, without losing digits."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
