"""Every check type measured on real databases against values computed in Python."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from spine.quality.models import CheckDefinition, CheckResult
from spine.quality.sql import count_statements, measure
from spine.quality.sql.dialects import GROUP_BY_DUPLICATES
from tests.quality.sql.conftest import NOW, SITES, Target, make_check

Rows = list[dict[str, Any]]


def values(rows: Rows, column: str) -> list[Any]:
    return [r[column] for r in rows if r[column] is not None]


def percent(part: int, whole: int) -> Fraction:
    return Fraction(part * 100, whole) if whole else Fraction(0)


def interpolated(data: list[Any], q: float) -> Fraction:
    ordered = sorted(Fraction(v) for v in data)
    position = Fraction(str(q)) * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _dups(rows: Rows, *columns: str) -> tuple[int, int]:
    keys = [tuple(r[c] for c in columns) for r in rows]
    keys = [k for k in keys if None not in k]
    return len(keys) - len(set(keys)), len(keys)


Expected = Callable[[Rows], Any]

CASES: list[tuple[str, str | None, dict[str, Any], Expected]] = [
    ("row_count", None, {}, len),
    ("null_count", "grp", {}, lambda rs: sum(r["grp"] is None for r in rs)),
    (
        "null_percent",
        "amount",
        {},
        lambda rs: percent(sum(r["amount"] is None for r in rs), len(rs)),
    ),
    ("empty_text_count", "email", {}, lambda rs: sum(r["email"] == "" for r in rs)),
    ("distinct_count", "grp", {}, lambda rs: len(set(values(rs, "grp")))),
    (
        "distinct_percent",
        "grp",
        {},
        lambda rs: percent(len(set(values(rs, "grp"))), len(values(rs, "grp"))),
    ),
    ("duplicate_count", "grp", {}, lambda rs: _dups(rs, "grp")[0]),
    ("duplicate_percent", "site_id", {}, lambda rs: percent(*_dups(rs, "site_id"))),
    (
        "duplicate_count",
        None,
        {"columns": ["grp", "label"]},
        lambda rs: _dups(rs, "grp", "label")[0],
    ),
    (
        "duplicate_percent",
        None,
        {"columns": ["grp", "qty"]},
        lambda rs: percent(*_dups(rs, "grp", "qty")),
    ),
    ("min", "amount", {}, lambda rs: min(values(rs, "amount"))),
    ("max", "qty", {}, lambda rs: max(values(rs, "qty"))),
    ("min", "price", {}, lambda rs: min(values(rs, "price"))),
    ("mean", "qty", {}, lambda rs: Fraction(sum(values(rs, "qty")), len(values(rs, "qty")))),
    ("mean", "amount", {}, lambda rs: statistics.fmean(values(rs, "amount"))),
    ("sum", "price", {}, lambda rs: sum(values(rs, "price"))),
    ("sum", "qty", {}, lambda rs: sum(values(rs, "qty"))),
    ("median", "qty", {}, lambda rs: interpolated(values(rs, "qty"), 0.5)),
    ("median", "amount", {}, lambda rs: interpolated(values(rs, "amount"), 0.5)),
    ("percentile", "amount", {"q": 0.9}, lambda rs: interpolated(values(rs, "amount"), 0.9)),
    ("percentile", "qty", {"q": 0.25}, lambda rs: interpolated(values(rs, "qty"), 0.25)),
    ("stddev", "amount", {}, lambda rs: statistics.stdev(values(rs, "amount"))),
    (
        "out_of_range_count",
        "qty",
        {"min_value": 0, "max_value": 100},
        lambda rs: sum(not 0 <= v <= 100 for v in values(rs, "qty")),
    ),
    (
        "out_of_range_percent",
        "amount",
        {"max_value": 400},
        lambda rs: percent(sum(v > 400 for v in values(rs, "amount")), len(values(rs, "amount"))),
    ),
    (
        "not_in_set_count",
        "label",
        {"values": ["a", "b", "c"]},
        lambda rs: sum(v not in ("a", "b", "c") for v in values(rs, "label")),
    ),
    (
        "not_in_set_percent",
        "label",
        {"values": ["a", "b"]},
        lambda rs: percent(
            sum(v not in ("a", "b") for v in values(rs, "label")), len(values(rs, "label"))
        ),
    ),
    (
        "regex_mismatch_count",
        "email",
        {"pattern": "^user[0-9]+[.]"},
        lambda rs: sum(not re.search("^user[0-9]+[.]", v) for v in values(rs, "email")),
    ),
    (
        "regex_mismatch_percent",
        "email",
        {"pattern": "example"},
        lambda rs: percent(
            sum("example" not in v for v in values(rs, "email")), len(values(rs, "email"))
        ),
    ),
    ("min_length", "email", {}, lambda rs: min(len(v) for v in values(rs, "email"))),
    ("max_length", "email", {}, lambda rs: max(len(v) for v in values(rs, "email"))),
    (
        "mean_length",
        "email",
        {},
        lambda rs: Fraction(sum(len(v) for v in values(rs, "email")), len(values(rs, "email"))),
    ),
    (
        "failed_rows",
        None,
        {"condition": "qty < 0 OR amount > 450"},
        lambda rs: sum(
            (r["qty"] is not None and r["qty"] < 0)
            or (r["amount"] is not None and r["amount"] > 450)
            for r in rs
        ),
    ),
    (
        "missing_reference_count",
        "site_id",
        {"reference_table": "sites", "reference_column": "id"},
        lambda rs: sum(v not in SITES for v in values(rs, "site_id")),
    ),
    (
        "row_count_match",
        None,
        {"reference_table": "sites"},
        lambda rs: Fraction(abs(len(rs) - len(SITES)) * 100, len(SITES)),
    ),
    (
        "freshness",
        "ts",
        {},
        lambda rs: Fraction(
            str((NOW.replace(tzinfo=None) - max(values(rs, "ts"))).total_seconds())
        ),
    ),
    (
        "custom_sql",
        None,
        {"sql": "SELECT count(*) FROM readings WHERE qty > 50"},
        lambda rs: sum(v > 50 for v in values(rs, "qty")),
    ),
    ("column_exists", "email", {}, lambda rs: 1),
    ("column_exists", "no_such_column", {}, lambda rs: 0),
    ("column_count", None, {}, lambda rs: 10),
]


def assert_value(actual: Any, expected: Any, label: str) -> None:
    assert actual is not None, label
    if isinstance(expected, float) or isinstance(actual, float):
        assert math.isclose(float(actual), float(expected), rel_tol=1e-9), (label, actual, expected)
    else:
        exact = Fraction(actual)
        # Decimal division keeps 28 digits: a repeating fraction is close, not equal.
        assert abs(exact - Fraction(expected)) <= abs(Fraction(expected)) * Fraction(1, 10**20), (
            label,
            actual,
            expected,
        )


def test_every_type_matches_python(target: Target) -> None:
    checks = [make_check(kind, column, **config) for kind, column, config, _ in CASES]
    measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert [m.check_id for m in measured] == [c.id for c in checks]
    for (kind, column, config, expected), result in zip(CASES, measured, strict=True):
        label = f"{target.name} {kind} {column} {config}"
        assert result.error is None, (label, result.error)
        assert_value(result.sensor_value, expected(target.rows), label)


def _aggregate_checks() -> list[CheckDefinition]:
    return [
        make_check(kind, column, **config)
        for kind, column, config, _ in CASES
        if kind
        not in (
            "custom_sql",
            "column_exists",
            "column_count",
            "row_count_match",
            "missing_reference_count",
            "median",
            "percentile",
        )
        and "columns" not in config
    ]


def test_aggregates_share_one_select(target: Target) -> None:
    checks = _aggregate_checks()
    with count_statements(target.engine) as statements:
        measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert all(m.error is None for m in measured), [m.error for m in measured]
    dialect = target.engine.dialect.name
    duplicates = sum(c.check_type.startswith("duplicate") for c in checks)
    expected = 1 + (duplicates if dialect in GROUP_BY_DUPLICATES else 0)
    assert len(statements) == expected, statements
    assert statements[0].lstrip().upper().startswith("SELECT")


def test_percentiles_ride_the_scan_where_the_database_has_them(target: Target) -> None:
    checks = [
        make_check("row_count"),
        make_check("median", "qty"),
        make_check("percentile", "amount", q=0.75),
    ]
    with count_statements(target.engine) as statements:
        measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert all(m.error is None for m in measured)
    # MariaDB has no percentile aggregate: one bounded ordered read per percentile.
    assert len(statements) == (3 if target.name == "mariadb" else 1), statements
    if target.name == "mariadb":
        assert all("LIMIT" in s.upper() for s in statements[1:])


def test_scope_filter_and_window_mixed_in_one_scan(target: Target) -> None:
    since = NOW.replace(tzinfo=None) - timedelta(days=7)
    checks = [
        make_check("row_count"),
        make_check("row_count", time_column="ts", window="7d"),
        make_check("null_count", "amount", filter="qty > 10"),
        make_check("mean", "qty", filter="qty > 10"),
        make_check("max", "amount", time_column="ts", window="168h"),
    ]
    rows = target.rows
    recent = [r for r in rows if r["ts"] is not None and r["ts"] >= since]
    filtered = [r for r in rows if r["qty"] is not None and r["qty"] > 10]
    expected = [
        len(rows),
        len(recent),
        sum(r["amount"] is None for r in filtered),
        Fraction(sum(r["qty"] for r in filtered), len(filtered)),
        max(values(recent, "amount")),
    ]
    with count_statements(target.engine) as statements:
        measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert len(statements) == 1
    for result, value in zip(measured, expected, strict=True):
        assert result.error is None, result.error
        assert_value(result.sensor_value, value, target.name)


def test_one_shared_scope_becomes_the_where_clause(target: Target) -> None:
    checks = [
        make_check("row_count", filter="label = 'a'"),
        make_check("null_count", "amount", filter="label = 'a'"),
    ]
    with count_statements(target.engine) as statements:
        measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    subset = [r for r in target.rows if r["label"] == "a"]
    assert measured[0].sensor_value == len(subset)
    assert measured[1].sensor_value == sum(r["amount"] is None for r in subset)
    where = statements[0].upper().split("WHERE", 1)
    assert len(where) == 2 and "LABEL" in where[1] and "LABEL" not in where[0]


def _previous(check: CheckDefinition, value: Any, details: dict[str, Any]) -> CheckResult:
    return CheckResult(
        id=1,
        check_id=check.id,
        executed_at=NOW - timedelta(days=1),
        execution_time_ms=1,
        sensor_value=value,
        rule_passed=True,
        details=details,
    )


def test_row_count_change_and_schema_change_use_the_previous_result(target: Target) -> None:
    change = make_check("row_count_change")
    schema = make_check("schema_change")
    first = measure(target.engine, [change, schema], previous={}, now=NOW, timeout_seconds=30)
    assert first[0].sensor_value is None and first[0].details["row_count"] == len(target.rows)
    assert first[1].sensor_value == 0
    seen = first[1].details["schema"]
    assert list(seen) == [
        "id",
        "site_id",
        "grp",
        "amount",
        "qty",
        "price",
        "email",
        "code",
        "ts",
        "label",
    ]
    before = {k: v for k, v in seen.items() if k != "label"} | {"gone": "TEXT", "qty": "TEXT"}
    previous = {
        change.id: _previous(change, Decimal(0), {"row_count": 320}),
        schema.id: _previous(schema, Decimal(0), {"schema": before}),
    }
    second = measure(
        target.engine, [change, schema], previous=previous, now=NOW, timeout_seconds=30
    )
    assert second[0].sensor_value == Decimal(len(target.rows) - 320) * 100 / 320
    assert second[1].sensor_value == 3
    assert second[1].details["added"] == ["label"]
    assert second[1].details["removed"] == ["gone"]
    assert second[1].details["retyped"] == ["qty"]


def test_a_bad_check_fails_alone(target: Target) -> None:
    checks = [
        make_check("row_count"),
        make_check("failed_rows", condition="no_such_col > 1"),
        make_check("null_count", "grp", filter="nope = 1"),
        make_check("max", "qty"),
        make_check("custom_sql", sql="SELECT nothing FROM nowhere"),
    ]
    measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert measured[0].sensor_value == len(target.rows) and measured[0].error is None
    assert measured[3].sensor_value == max(values(target.rows, "qty"))
    for broken in (measured[1], measured[2], measured[4]):
        assert broken.error and "\n" not in broken.error and broken.sensor_value is None


def test_an_unknown_table_fails_every_check_with_a_line(target: Target) -> None:
    checks = [
        make_check("row_count", table="missing_table"),
        make_check("column_count", table="missing_table"),
    ]
    measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert all(m.error and "\n" not in m.error for m in measured)
    assert "missing_table" in (measured[1].error or "")


def test_an_empty_scope_gives_zero_counts_and_no_means(target: Target) -> None:
    checks = [
        make_check("row_count", filter="1 = 0"),
        make_check("null_percent", "grp", filter="1 = 0"),
        make_check("mean", "qty", filter="1 = 0"),
        make_check("freshness", "ts", filter="1 = 0"),
    ]
    measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert [m.sensor_value for m in measured] == [0, 0, None, None]
    assert all(m.error is None for m in measured)


def test_a_broken_check_is_found_without_scanning_once_per_check(target: Target) -> None:
    good = [
        make_check("row_count"),
        make_check("max", "qty"),
        make_check("null_count", "grp"),
        make_check("mean", "amount"),
        make_check("sum", "qty"),
    ]
    broken = make_check("failed_rows", condition="no_such_col > 1")
    with count_statements(target.engine) as statements:
        measured = measure(target.engine, [*good, broken], previous={}, now=NOW, timeout_seconds=30)
    # The failed scan, one probe per check that reads no rows, one scan of the good ones.
    assert len(statements) == 1 + len(good) + 1 + 1
    assert measured[-1].error and "no_such_col" in measured[-1].error
    assert measured[0].sensor_value == len(target.rows)
    assert measured[1].sensor_value == max(values(target.rows, "qty"))
    assert measured[4].sensor_value == sum(values(target.rows, "qty"))


def test_a_check_failing_on_the_data_fails_alone(target: Target) -> None:
    if target.name in ("sqlite", "mariadb"):
        pytest.skip("SQLite and MariaDB cast text to numbers without an error")
    good = [make_check("row_count"), make_check("max", "qty")]
    broken = make_check("failed_rows", condition="CAST(email AS INTEGER) > 0")
    measured = measure(target.engine, [*good, broken], previous={}, now=NOW, timeout_seconds=30)
    assert measured[0].sensor_value == len(target.rows)
    assert measured[1].sensor_value == max(values(target.rows, "qty"))
    assert measured[2].error and measured[2].sensor_value is None


def test_checks_of_two_tables_get_a_scan_each(target: Target) -> None:
    checks = [
        make_check("row_count"),
        make_check("row_count", table="sites"),
        make_check("max", "qty"),
    ]
    with count_statements(target.engine) as statements:
        measured = measure(target.engine, checks, previous={}, now=NOW, timeout_seconds=30)
    assert [m.sensor_value for m in measured] == [
        len(target.rows),
        len(SITES),
        max(values(target.rows, "qty")),
    ]
    assert len(statements) == 2
