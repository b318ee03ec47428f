"""User databases are safe: read-only sessions, statement timeouts, no secrets in errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from spine.core.errors import ErrorCategory, SpineError
from spine.quality.sql import describe_table, measure, sample_rows
from spine.quality.sql.session import WriteRefused, read_only
from tests.quality.sql.conftest import NOW, Target, make_check, readings, sites

SLOW = {
    "sqlite": "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
    "SELECT count(*) FROM c",
    "duckdb": "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b",
    "postgresql": "SELECT count(*) FROM pg_sleep(60)",
    "mariadb": "SELECT SLEEP(60)",
}

# A function that deletes, called from a SELECT: only the read-only transaction stops it.
WRITING_FUNCTION = {
    "postgresql": (
        "CREATE FUNCTION spine_evil() RETURNS integer LANGUAGE plpgsql AS "
        "$$ BEGIN DELETE FROM readings; RETURN 1; END $$"
    ),
    "mariadb": (
        "CREATE FUNCTION spine_evil() RETURNS INT MODIFIES SQL DATA "
        "BEGIN DELETE FROM readings; RETURN 1; END"
    ),
}


def _snapshot(target: Target) -> tuple[list[tuple[object, ...]], int, list[str]]:
    with target.engine.connect() as conn:
        counted = conn.execute(sa.select(sa.func.count()).select_from(sites)).scalar_one()
    tables = sorted(sa.inspect(target.engine).get_table_names()) if target.name != "duckdb" else []
    return target.table_rows(), counted, tables


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM readings",
        "UPDATE readings SET qty = 0",
        "INSERT INTO sites (id) VALUES (999)",
        "DROP TABLE sites",
        "CREATE TABLE spine_intruder (a INTEGER)",
    ],
)
def test_the_session_refuses_writes(fresh_target: Target, statement: str) -> None:
    before = _snapshot(fresh_target)
    with (
        fresh_target.engine.connect() as conn,
        pytest.raises((sa.exc.DBAPIError, WriteRefused)),
        read_only(conn, 10) as run,
    ):
        run(sa.text(statement))
    assert _snapshot(fresh_target) == before


def test_checks_that_try_to_write_fail_and_change_nothing(fresh_target: Target) -> None:
    name = fresh_target.name
    if name in WRITING_FUNCTION:
        with fresh_target.engine.begin() as conn:
            conn.execute(sa.text(WRITING_FUNCTION[name]))
    before = _snapshot(fresh_target)
    checks = [
        make_check("custom_sql", sql="DELETE FROM readings"),
        make_check("custom_sql", sql="SELECT 1; DELETE FROM readings"),
        make_check(
            "custom_sql", sql="WITH d AS (DELETE FROM readings RETURNING id) SELECT count(*) FROM d"
        ),
        make_check("failed_rows", condition="1 = 1) ; DELETE FROM readings; SELECT (1"),
        make_check("row_count", filter="id IN (SELECT id FROM (DELETE FROM readings) x)"),
    ]
    if name in WRITING_FUNCTION:
        checks += [
            make_check("custom_sql", sql="SELECT spine_evil()"),
            make_check("failed_rows", condition="spine_evil() = 1"),
        ]
    measured = measure(fresh_target.engine, checks, previous={}, now=NOW, timeout_seconds=10)
    for check, result in zip(checks, measured, strict=True):
        assert result.error, (check.config, result)
        assert result.sensor_value is None
    if name in WRITING_FUNCTION:
        assert "read" in (measured[-1].error or "").lower()  # "read-only transaction"
    assert _snapshot(fresh_target) == before
    assert len(fresh_target.table_rows()) == len(fresh_target.rows)


def test_a_slow_check_times_out_and_the_next_run_works(fresh_target: Target) -> None:
    slow = make_check("custom_sql", sql=SLOW[fresh_target.name])
    quick = make_check("row_count")
    measured = measure(
        fresh_target.engine, [slow, quick], previous={}, now=NOW, timeout_seconds=0.5
    )
    assert measured[0].error == "timed out after 0.5 s"
    assert measured[1].sensor_value == len(fresh_target.rows)
    again = measure(fresh_target.engine, [quick], previous={}, now=NOW, timeout_seconds=10)
    assert again[0].sensor_value == len(fresh_target.rows)


def test_a_slow_shared_scan_times_out_every_check_it_served(fresh_target: Target) -> None:
    if fresh_target.name == "mariadb":
        scope = "SLEEP(60) = 0"
    elif fresh_target.name == "postgresql":
        scope = "(SELECT count(*) FROM pg_sleep(60)) = 1"
    else:
        pytest.skip("no per-row sleep on this engine; the custom_sql case covers the timer")
    checks = [make_check("row_count", filter=scope), make_check("null_count", "grp", filter=scope)]
    measured = measure(fresh_target.engine, checks, previous={}, now=NOW, timeout_seconds=0.5)
    assert [m.error for m in measured] == ["timed out after 0.5 s"] * 2


def test_an_unreachable_database_fails_every_check_without_the_password() -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://spine:s3cr3t-pw@127.0.0.1:1/nowhere?connect_timeout=2",
        poolclass=sa.NullPool,
    )
    checks = [make_check("row_count"), make_check("custom_sql", sql="SELECT 1")]
    measured = measure(engine, checks, previous={}, now=NOW, timeout_seconds=5)
    for result in measured:
        assert result.error and "\n" not in result.error
        assert "s3cr3t-pw" not in result.error
        assert result.sensor_value is None


def test_identifiers_are_quoted_and_values_bound(tmp_path: object) -> None:
    engine = sa.create_engine("sqlite://")
    table = sa.Table('we"ird table', sa.MetaData(), sa.Column("sel ect", sa.String))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"sel ect": "a'); DROP TABLE x; --"}, {"sel ect": "b"}])
    checks = [
        make_check("not_in_set_count", "sel ect", table='we"ird table', values=["b"]),
        make_check("regex_mismatch_count", "sel ect", table='we"ird table', pattern="^b$"),
    ]
    measured = measure(engine, checks, previous={}, now=NOW, timeout_seconds=5)
    assert [m.sensor_value for m in measured] == [1, 1]


def test_readings_table_is_what_tests_compare(fresh_target: Target) -> None:
    assert readings.name == "readings" and len(fresh_target.table_rows()) == 60


@pytest.mark.parametrize("statement", ["DELETE FROM readings", "UPDATE readings SET qty = 0"])
def test_the_database_itself_refuses_writes_in_the_session(
    fresh_target: Target, statement: str
) -> None:
    # Straight to the driver, past spine's own refusal: the transaction must hold.
    before = _snapshot(fresh_target)
    with (
        fresh_target.engine.connect() as conn,
        pytest.raises(sa.exc.DBAPIError),
        read_only(conn, 10),
    ):
        conn.exec_driver_sql(statement)
    assert _snapshot(fresh_target) == before


def test_describe_and_samples_raise_one_line_spine_errors_when_unreachable() -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://spine:s3cr3t-pw@127.0.0.1:1/nowhere?connect_timeout=2",
        poolclass=sa.NullPool,
    )
    with pytest.raises(SpineError) as described:
        describe_table(engine, None, "readings")
    with pytest.raises(SpineError) as sampled:
        sample_rows(engine, make_check("null_count", "grp"), limit=5, timeout_seconds=5)
    for raised in (described.value, sampled.value):
        assert raised.category is ErrorCategory.UNAVAILABLE
        assert "s3cr3t-pw" not in str(raised) and "\n" not in str(raised)
