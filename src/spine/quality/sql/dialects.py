"""What differs between databases: regex, percentiles, standard deviation, text length.

Each function takes the dialect's name (``engine.dialect.name``) and returns a SQLAlchemy
Core expression; the rest of the compiler is dialect-free. Where a database has no
aggregate for a value (a percentile on MySQL, SQL Server, BigQuery), the function returns
``None`` and the compiler reads the value with a bounded ordered statement instead.
SQLite gets Python functions registered on the connection (:mod:`.session`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

#: Databases whose percentile_cont is an ordered-set aggregate.
_WITHIN_GROUP = frozenset({"postgresql", "redshift", "snowflake"})

#: Databases where duplicates are counted by a separate GROUP BY statement rather than by
#: count(distinct) in the shared scan. Empty: on PostgreSQL, the one engine where a hash
#: GROUP BY was expected to beat count(distinct)'s sort, the separate statements cost 3x
#: the scan (docs/benchmarks.md, "Quality checks"); DuckDB, SQLite and MariaDB count
#: distinct values in the scan as fast as anything. Multi-column duplicates always group.
GROUP_BY_DUPLICATES: frozenset[str] = frozenset()

SQLITE_REGEXP = "regexp"
SQLITE_PERCENTILE = "spine_percentile"
SQLITE_STDDEV = "spine_stddev"


def regex_match(dialect: str, value: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """True where ``value`` contains a match of ``pattern`` (a search, not a full match).

    The pattern is bound, never formatted into the SQL.
    """
    bound = sa.bindparam(None, pattern, type_=sa.String())
    if dialect == "duckdb":
        return sa.func.regexp_matches(value, bound, type_=sa.Boolean)
    if dialect in ("postgresql", "redshift"):
        return value.op("~", is_comparison=True)(bound)
    if dialect == "mysql":
        return value.op("REGEXP", is_comparison=True)(bound)
    if dialect == "sqlite":
        # SQLite's `X REGEXP Y` calls the registered regexp(Y, X).
        return value.op("REGEXP", is_comparison=True)(bound)
    if dialect == "snowflake":
        # Snowflake's REGEXP_LIKE/RLIKE match the whole value; REGEXP_INSTR searches.
        return sa.func.regexp_instr(value, bound) > 0
    if dialect == "bigquery":
        return sa.func.regexp_contains(value, bound, type_=sa.Boolean)
    if dialect == "databricks":
        return value.op("RLIKE", is_comparison=True)(bound)
    if dialect == "mssql":
        # SQL Server 2025's REGEXP_LIKE searches (it is not anchored). It is a predicate,
        # not a value: untyped, so SQLAlchemy writes `NOT regexp_like(...)`, not `= 0`.
        return sa.func.regexp_like(value, bound)
    return value.regexp_match(bound)


def text_length(dialect: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The length of a text value in characters (MySQL's LENGTH counts bytes)."""
    if dialect == "mysql":
        return sa.func.char_length(value)
    if dialect == "mssql":
        return sa.func.len(value)
    return sa.func.length(value)


def stddev(dialect: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The sample standard deviation aggregate."""
    if dialect == "sqlite":
        return sa.func.spine_stddev(value)
    if dialect == "mssql":
        return sa.func.stdev(value)
    return sa.func.stddev_samp(value)


def percentile(dialect: str, value: ColumnElement[Any], q: float) -> ColumnElement[Any] | None:
    """The continuous percentile aggregate, or ``None`` where the database has none.

    ``q`` is a validated float, written as a literal: some databases want a constant.
    """
    fraction: ColumnElement[Any] = sa.literal_column(repr(float(q)))
    if dialect in _WITHIN_GROUP:
        return sa.func.percentile_cont(fraction).within_group(value)
    if dialect == "duckdb":
        return sa.func.quantile_cont(value, fraction)
    if dialect == "databricks":
        return sa.func.percentile(value, fraction)
    if dialect == "sqlite":
        return sa.func.spine_percentile(value, fraction)
    return None
