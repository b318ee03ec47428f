"""Each check type compiled: the aggregates it adds to the scan, and how it reads them.

A compiler function takes a :class:`Context` and returns a :class:`Finish`, which turns the
scan's values (and, where one scan cannot answer, its own statement) into the sensor value
and its details. Values are computed exactly from the database's integers and Decimals:
percentages and means are divided by spine, never rounded by the database (MySQL's AVG
would keep four decimals).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from spine.quality.catalogue import FORMATS
from spine.quality.models import CheckDefinition
from spine.quality.sql import dialects
from spine.quality.sql.scan import (
    Context,
    Finish,
    Outcome,
    Reader,
    Values,
    number,
    percent,
    split_table,
    table_clause,
    to_decimal,
    utc,
)
from spine.quality.sql.session import interpolate

Compiler = Callable[[Context], Finish]

_BAD_KEYS = frozenset({"min_value", "max_value", "values", "pattern", "format"})

_MICROSECOND = timedelta(microseconds=1)


def _column(ctx: Context) -> ColumnElement[Any]:
    return sa.column(ctx.check.target_column or "")


def uses_scan(check: CheckDefinition, dialect: str) -> bool:
    """Whether the check adds aggregates to the table's shared scan."""
    if check.check_type in ("custom_sql", "column_exists", "column_count", "schema_change"):
        return False
    if check.check_type == "missing_reference_count":
        return False
    return not (check.check_type.startswith("duplicate_") and _group_by_duplicates(check, dialect))


def _group_by_duplicates(check: CheckDefinition, dialect: str) -> bool:
    return bool(check.config.get("columns")) or dialect in dialects.GROUP_BY_DUPLICATES


def bad_condition(check: CheckDefinition, dialect: str) -> ColumnElement[bool] | None:
    """The condition true for an offending row of a row-level check (for counts, samples).

    ``None`` for ``missing_reference_count``, whose bad rows need an anti-join.
    """
    config = check.config
    value: ColumnElement[Any] = sa.column(check.target_column or "")
    kind = check.check_type
    if kind.startswith("null_"):
        return value.is_(None)
    if kind == "empty_text_count":
        return value == sa.bindparam(None, "", type_=sa.String())
    if kind.startswith("out_of_range"):
        parts = []
        if config.get("min_value") is not None:
            parts.append(value < sa.bindparam(None, config["min_value"]))
        if config.get("max_value") is not None:
            parts.append(value > sa.bindparam(None, config["max_value"]))
        return sa.or_(*parts)
    if kind.startswith("not_in_set"):
        return value.not_in(list(config["values"]))
    if kind.startswith("regex_mismatch"):
        return sa.not_(dialects.regex_match(dialect, value, config["pattern"]))
    if kind.startswith("invalid_format"):
        return sa.not_(dialects.regex_match(dialect, value, FORMATS[config["format"]]))
    if kind == "failed_rows":
        # User SQL by design: it runs only inside the read-only, timed session.
        return sa.literal_column(f"({config['condition']})")
    return None


# Table level.


def _row_count(ctx: Context) -> Finish:
    rows = ctx.rows()
    return lambda values, _: (values[rows], {})


def _row_count_change(ctx: Context) -> Finish:
    rows = ctx.rows()
    previous = (ctx.previous.details or {}).get("row_count") if ctx.previous else None

    def finish(values: Values, _: Reader) -> Outcome:
        count = values[rows]
        details: dict[str, Any] = {"row_count": count, "previous_row_count": previous}
        if previous is None:
            return None, details
        if previous == 0:
            return (Decimal(0) if count == 0 else None), details
        return (to_decimal(count) - to_decimal(previous)) * 100 / to_decimal(previous), details

    return finish


def _freshness(ctx: Context) -> Finish:
    newest = ctx.aggregate(("max",), sa.func.max, _column(ctx))
    now = ctx.now.astimezone(UTC)

    def finish(values: Values, _: Reader) -> Outcome:
        if values[newest] is None:
            return None, {"newest": None}
        seen = utc(values[newest])
        micros = (now - seen) // _MICROSECOND
        return Decimal(micros) / 1_000_000, {"newest": seen.isoformat()}

    return finish


def _column_exists(ctx: Context) -> Finish:
    wanted = ctx.check.target_column or ""

    def finish(_: Values, reader: Reader) -> Outcome:
        names = list(reader.columns())
        found = wanted in names or wanted.casefold() in {n.casefold() for n in names}
        return (1 if found else 0), {}

    return finish


def _column_count(ctx: Context) -> Finish:
    return lambda _, reader: (len(reader.columns()), {})


def _schema_change(ctx: Context) -> Finish:
    before = (ctx.previous.details or {}).get("schema") if ctx.previous else None

    def finish(_: Values, reader: Reader) -> Outcome:
        now = reader.columns()
        if not isinstance(before, dict):
            return 0, {"schema": now}
        added = sorted(set(now) - set(before))
        removed = sorted(set(before) - set(now))
        retyped = sorted(c for c in set(now) & set(before) if now[c] != before[c])
        details = {"schema": now, "added": added, "removed": removed, "retyped": retyped}
        return len(added) + len(removed) + len(retyped), details

    return finish


def _custom_sql(ctx: Context) -> Finish:
    sql = str(ctx.check.config["sql"]).strip().rstrip(";")
    # Wrapped as a derived table: whatever the text is, it can only be a query.
    statement = sa.select(sa.text("*")).select_from(sa.text(f"({sql}) AS spine_custom")).limit(1)

    def finish(_: Values, reader: Reader) -> Outcome:
        rows = reader.run(statement)
        if not rows or not len(rows[0]):
            return None, {"rows": 0}
        return number(rows[0][0]), {}

    return finish


def _failed_rows(ctx: Context) -> Finish:
    condition = bad_condition(ctx.check, ctx.dialect)
    assert condition is not None
    bad = ctx.count_where(("failed", ctx.check.config["condition"]), condition)
    return lambda values, _: (values[bad], {})


def _row_count_match(ctx: Context) -> Finish:
    rows = ctx.rows()
    schema, name = split_table(ctx.check.config["reference_table"])
    statement = sa.select(sa.func.count()).select_from(table_clause(name, schema))

    def finish(values: Values, reader: Reader) -> Outcome:
        reference = reader.run(statement)[0][0]
        count = values[rows]
        details = {"row_count": count, "reference_row_count": reference}
        if not reference:
            return (Decimal(0) if count == 0 else None), details
        difference = abs(to_decimal(count) - to_decimal(reference))
        return difference * 100 / to_decimal(reference), details

    return finish


# Column level.


def _counted(kind: str) -> Compiler:
    """``*_count`` and ``*_percent`` of offending values (null, range, set, regex, format)."""

    def compile_(ctx: Context) -> Finish:
        check = ctx.check
        condition = bad_condition(check, ctx.dialect)
        assert condition is not None
        own = {k: check.config[k] for k in sorted(check.config) if k in _BAD_KEYS}
        key = (check.check_type.rsplit("_", 1)[0], check.target_column, repr(own))
        bad = ctx.count_where(key, condition)
        if kind == "count":
            return lambda values, _: (values[bad], {})
        if check.check_type == "null_percent":
            whole = ctx.rows()
        else:
            whole = ctx.aggregate(("count", check.target_column), sa.func.count, _column(ctx))
        return lambda values, _: (percent(values[bad], values[whole]), {})

    return compile_


def _simple(name: str, build: Callable[[ColumnElement[Any]], ColumnElement[Any]]) -> Compiler:
    def compile_(ctx: Context) -> Finish:
        label = ctx.aggregate((name, ctx.check.target_column), build, _column(ctx))
        return lambda values, _: (number(values[label]), {})

    return compile_


def _distinct(kind: str) -> Compiler:
    def compile_(ctx: Context) -> Finish:
        column = ctx.check.target_column
        distinct = ctx.aggregate(
            ("distinct", column), lambda v: sa.func.count(sa.distinct(v)), _column(ctx)
        )
        if kind == "count":
            return lambda values, _: (values[distinct], {})
        whole = ctx.aggregate(("count", column), sa.func.count, _column(ctx))
        return lambda values, _: (percent(values[distinct], values[whole], empty=None), {})

    return compile_


def _duplicates(kind: str) -> Compiler:
    def compile_(ctx: Context) -> Finish:
        check = ctx.check
        if _group_by_duplicates(check, ctx.dialect):
            return _duplicates_by_group_by(ctx, kind)
        distinct = ctx.aggregate(
            ("distinct", check.target_column),
            lambda v: sa.func.count(sa.distinct(v)),
            _column(ctx),
        )
        whole = ctx.aggregate(("count", check.target_column), sa.func.count, _column(ctx))

        def finish(values: Values, _: Reader) -> Outcome:
            duplicates = values[whole] - values[distinct]
            if kind == "count":
                return duplicates, {}
            return percent(duplicates, values[whole]), {}

        return finish

    return compile_


def _duplicates_by_group_by(ctx: Context, kind: str) -> Finish:
    names = list(ctx.check.config.get("columns") or [ctx.check.target_column])
    columns: list[ColumnElement[Any]] = [sa.column(n) for n in names]
    groups = (
        sa.select(sa.func.count().label("n"))
        .select_from(ctx.table)
        .where(*ctx.where(*(c.is_not(None) for c in columns)))
        .group_by(*columns)
        .subquery("spine_groups")
    )
    statement = sa.select(
        sa.func.coalesce(sa.func.sum(groups.c.n - 1), 0),
        sa.func.coalesce(sa.func.sum(groups.c.n), 0),
    )

    def finish(_: Values, reader: Reader) -> Outcome:
        duplicates, rows = tuple(reader.run(statement)[0])
        details = {"columns": names} if len(names) > 1 else {}
        if kind == "count":
            return duplicates, details
        return percent(duplicates, rows), details

    return finish


def _percentile(ctx: Context) -> Finish:
    check = ctx.check
    q = 0.5 if check.check_type == "median" else float(check.config["q"])
    column = _column(ctx)
    aggregate = dialects.percentile(ctx.dialect, ctx.scoped(column), q)
    if aggregate is not None:
        label = ctx.scan.add(ctx.key("percentile", check.target_column, q), aggregate)
        return lambda values, _: (number(values[label]), {})
    # No percentile aggregate (MySQL, SQL Server, BigQuery): the scan counts the values,
    # then one ordered statement reads the one or two middle values.
    count = ctx.aggregate(("count", check.target_column), sa.func.count, column)

    def finish(values: Values, reader: Reader) -> Outcome:
        n = values[count]
        if not n:
            return None, {}
        position = Decimal(repr(q)) * (n - 1)
        low = int(position)
        statement = (
            sa.select(column)
            .select_from(ctx.table)
            .where(*ctx.where(column.is_not(None)))
            .order_by(column)
            .offset(low)
            .limit(2)
        )
        ordered = [row[0] for row in reader.run(statement)]
        middle = interpolate(ordered, float(position - low))
        return number(middle), {}

    return finish


def _length(name: str) -> Compiler:
    def compile_(ctx: Context) -> Finish:
        column = ctx.check.target_column
        length = dialects.text_length(ctx.dialect, _column(ctx))
        if name == "mean":
            total = ctx.aggregate(("length_sum", column), sa.func.sum, length)
            count = ctx.aggregate(("count", column), sa.func.count, _column(ctx))
            return lambda values, _: (_mean(values[total], values[count]), {})
        build = sa.func.min if name == "min" else sa.func.max
        label = ctx.aggregate((f"length_{name}", column), build, length)
        return lambda values, _: (number(values[label]), {})

    return compile_


def _mean_of(ctx: Context) -> Finish:
    column = ctx.check.target_column
    total = ctx.aggregate(("sum", column), sa.func.sum, _column(ctx))
    count = ctx.aggregate(("count", column), sa.func.count, _column(ctx))
    return lambda values, _: (_mean(values[total], values[count]), {})


def _mean(total: Any, count: Any) -> Any:
    if not count or total is None:
        return None
    if isinstance(total, float):
        return total / count
    return to_decimal(number(total)) / to_decimal(count)


def _stddev(ctx: Context) -> Finish:
    label = ctx.aggregate(
        ("stddev", ctx.check.target_column),
        lambda v: dialects.stddev(ctx.dialect, v),
        _column(ctx),
    )
    return lambda values, _: (number(values[label]), {})


def _missing_reference(ctx: Context) -> Finish:
    check = ctx.check
    config = check.config
    column = check.target_column or ""
    main = table_clause(ctx.table.name, ctx.table.schema, column)
    schema, name = split_table(config["reference_table"])
    reference = table_clause(name, schema, config["reference_column"]).alias("spine_ref")
    found = sa.exists(
        sa.select(sa.literal(1)).where(reference.c[config["reference_column"]] == main.c[column])
    )
    statement = (
        sa.select(sa.func.count())
        .select_from(main)
        .where(*ctx.where(main.c[column].is_not(None), sa.not_(found)))
    )
    return lambda _, reader: (reader.run(statement)[0][0], {})


COMPILERS: dict[str, Compiler] = {
    "row_count": _row_count,
    "row_count_change": _row_count_change,
    "freshness": _freshness,
    "column_exists": _column_exists,
    "column_count": _column_count,
    "schema_change": _schema_change,
    "custom_sql": _custom_sql,
    "failed_rows": _failed_rows,
    "row_count_match": _row_count_match,
    "null_count": _counted("count"),
    "null_percent": _counted("percent"),
    "empty_text_count": _counted("count"),
    "distinct_count": _distinct("count"),
    "distinct_percent": _distinct("percent"),
    "duplicate_count": _duplicates("count"),
    "duplicate_percent": _duplicates("percent"),
    "min": _simple("min", sa.func.min),
    "max": _simple("max", sa.func.max),
    "mean": _mean_of,
    "sum": _simple("sum", sa.func.sum),
    "median": _percentile,
    "stddev": _stddev,
    "percentile": _percentile,
    "out_of_range_count": _counted("count"),
    "out_of_range_percent": _counted("percent"),
    "not_in_set_count": _counted("count"),
    "not_in_set_percent": _counted("percent"),
    "regex_mismatch_count": _counted("count"),
    "regex_mismatch_percent": _counted("percent"),
    "invalid_format_count": _counted("count"),
    "invalid_format_percent": _counted("percent"),
    "min_length": _length("min"),
    "max_length": _length("max"),
    "mean_length": _length("mean"),
    "missing_reference_count": _missing_reference,
}
