"""``spine db``: tiers up and down, status as JSON, offline DDL, PostgreSQL partitions."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.core.storage import create_database
from spine.core.storage.migrations.support import VERSION_TABLE
from spine.core.storage.schema import LEGACY_VIEWS, Tier, dq_platform, tables_up_to
from tests.cli.spine_process import Spine
from tests.core.storage.factories import add_check, add_check_result

STATUS_KEYS = {"tier", "applied", "current", "head", "pending", "up_to_date"}
PARTITIONED = ("check_results", "audit_log")


def table_names(url: str) -> set[str]:
    """Spine's tables in the database at ``url`` (no version table, no partitions)."""
    database = create_database(url)
    try:
        inspector = sa.inspect(database.engine)
        schemas: list[str | None] = [None]
        if database.dialect == "postgresql":
            schemas += ["workflow", "core"]
        names = {name for schema in schemas for name in inspector.get_table_names(schema=schema)}
    finally:
        database.dispose()
    partitions = {n for n in names if re.fullmatch(r"(check_results|audit_log)_\w+", n)}
    return names - partitions - {VERSION_TABLE}


def expected_tables(tier: Tier) -> set[str]:
    return {table.name for table in tables_up_to(tier)}


def status_by_tier(output: str) -> dict[str, dict[str, object]]:
    tiers = json.loads(output)["tiers"]
    assert all(set(entry) == STATUS_KEYS for entry in tiers)
    assert [entry["tier"] for entry in tiers] == ["basic", "intermediate", "advanced"]
    return {str(entry["tier"]): entry for entry in tiers}


def applied(statuses: dict[str, dict[str, object]]) -> list[str]:
    return [tier for tier, entry in statuses.items() if entry["applied"]]


def test_tiers_go_up_and_down_and_status_says_where_they_are(
    spine: Spine, empty_db_url: str
) -> None:
    url = ["--database-url", empty_db_url]

    up_basic = spine(*url, "db", "upgrade", "--tier", "basic")
    assert up_basic.code == 0, up_basic.stderr
    status = spine(*url, "db", "status", "--json")
    assert status.code == 0, status.stderr
    statuses = status_by_tier(status.stdout)
    assert applied(statuses) == ["basic"]
    assert statuses["basic"]["up_to_date"] is True
    assert statuses["basic"]["pending"] == []
    assert statuses["basic"]["current"] == statuses["basic"]["head"]
    assert statuses["intermediate"]["current"] is None
    pending = statuses["intermediate"]["pending"]
    assert isinstance(pending, list)
    assert pending[-1] == statuses["intermediate"]["head"]
    assert statuses["advanced"]["up_to_date"] is False
    assert table_names(empty_db_url) == expected_tables(Tier.BASIC)

    up_all = spine(*url, "db", "upgrade", "--json")
    assert up_all.code == 0, up_all.stderr
    statuses = status_by_tier(up_all.stdout)
    assert all(entry["up_to_date"] and entry["pending"] == [] for entry in statuses.values())
    assert table_names(empty_db_url) == expected_tables(Tier.ADVANCED)

    down = spine(*url, "db", "downgrade", "--tier", "intermediate", "--json", "--yes")
    assert down.code == 0, down.stderr
    assert applied(status_by_tier(down.stdout)) == ["basic"]
    assert table_names(empty_db_url) == expected_tables(Tier.BASIC)

    base = spine(*url, "db", "downgrade", "--tier", "base", "--json", "--yes")
    assert base.code == 0, base.stderr
    assert applied(status_by_tier(base.stdout)) == []
    assert table_names(empty_db_url) == set()


# --- offline DDL ----------------------------------------------------------------------


BATCH_COPY = "_alembic_tmp_"


def created_tables(ddl: str) -> set[str]:
    """Table names in CREATE TABLE statements, without schema prefixes."""
    return set(re.findall(r"^CREATE TABLE (?:\w+\.)?(\w+)", ddl, flags=re.MULTILINE))


def extra_tables(dialect: str, tier: Tier) -> set[str]:
    """What the DDL creates besides spine's tables: the version table, default partitions."""
    extra = {VERSION_TABLE}
    if dialect == "postgresql" and tier.rank >= Tier.INTERMEDIATE.rank:
        extra |= {f"{parent}_default" for parent in PARTITIONED}
    return extra


@pytest.mark.parametrize(
    ("dialect", "tier"),
    [
        ("sqlite", Tier.ADVANCED),
        ("sqlite", Tier.BASIC),
        ("postgresql", Tier.ADVANCED),
        ("postgresql", Tier.BASIC),
        ("db2", Tier.ADVANCED),
    ],
)
def test_sql_prints_create_table_for_every_table_of_the_tiers_asked(
    offline_ddl: Callable[[str, str | None], str], dialect: str, tier: Tier
) -> None:
    ddl = offline_ddl(dialect, None if tier is Tier.ADVANCED else tier.value)

    # SQLite alters a table by building a copy and renaming it over the original.
    copies = {t for t in created_tables(ddl) if t.startswith(BATCH_COPY)}
    for copy in copies:
        assert f"ALTER TABLE {copy} RENAME TO {copy.removeprefix(BATCH_COPY)};" in ddl
    assert created_tables(ddl) - copies == expected_tables(tier) | extra_tables(dialect, tier)


def test_sql_for_the_basic_tier_leaves_out_workflow_tables(
    offline_ddl: Callable[[str, str | None], str],
) -> None:
    ddl = offline_ddl("postgresql", "basic")

    assert "core_executions" in ddl
    assert "core_workflow_runs" not in ddl
    assert "CREATE VIEW" not in ddl


def test_postgresql_ddl_uses_jsonb_timestamptz_gin_and_partitions(
    offline_ddl: Callable[[str, str | None], str],
) -> None:
    ddl = offline_ddl("postgresql", None)

    assert "JSONB" in ddl
    assert "TIMESTAMP WITH TIME ZONE" in ddl
    assert re.search(r"CREATE INDEX gin_\w+ ON [\w.]+ USING gin \(\w+\)", ddl)
    assert "PARTITION BY RANGE (executed_at)" in ddl
    assert "PARTITION BY RANGE (created_at)" in ddl
    assert "CREATE SCHEMA IF NOT EXISTS workflow" in ddl
    assert "CREATE TABLE core.users" in ddl


@pytest.mark.parametrize("tier", [None, "basic"])
def test_sqlite_ddl_runs_in_a_fresh_sqlite_database(
    offline_ddl: Callable[[str, str | None], str], tmp_path: Path, tier: str | None
) -> None:
    ddl = offline_ddl("sqlite", tier)
    expected = expected_tables(Tier(tier) if tier else Tier.ADVANCED)

    with sqlite3.connect(tmp_path / "from-ddl.db") as conn:
        conn.executescript(ddl)
        objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
    conn.close()

    tables = {name for kind, name in objects if kind == "table" and not name.startswith("sqlite_")}
    assert tables == expected | {VERSION_TABLE}
    views = {name for kind, name in objects if kind == "view"}
    assert views == (set() if tier else {view.name for view in LEGACY_VIEWS})


# --- partitions -----------------------------------------------------------------------


def month_start(months_ahead: int) -> date:
    today = datetime.now(UTC).date()
    index = today.month - 1 + months_ahead
    return date(today.year + index // 12, index % 12 + 1, 1)


def month_name(parent: str, months_ahead: int) -> str:
    return f"{parent}_{month_start(months_ahead):%Y_%m}"


def at(day: date, *, hours: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_partitions_are_created_ahead_by_utc_month_and_adopt_rows_from_default(
    spine: Spine, db_url: str
) -> None:
    url = ["--database-url", db_url]
    # A server session in New York: month bounds must still be UTC midnights.
    new_york = {"PGTZ": "America/New_York"}
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)

    def partitions() -> dict[str, str]:
        with engine.connect() as conn:
            return dict(
                conn.execute(
                    sa.text(
                        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                        "JOIN pg_class c ON c.oid = i.inhrelid "
                        "JOIN pg_class p ON p.oid = i.inhparent "
                        "WHERE p.relname IN ('check_results', 'audit_log') "
                        "AND c.relname NOT LIKE '%_default'"
                    )
                ).all()
            )

    # Start from no month partitions at all, to see the command make them.
    with engine.begin() as conn:
        for name in partitions():
            conn.execute(sa.text(f"DROP TABLE {name}"))

    first = spine(*url, "db", "partitions", "--months-ahead", "2", "--json", env=new_york)
    assert first.code == 0, first.stderr
    wanted = [month_name(parent, n) for parent in PARTITIONED for n in range(3)]
    assert json.loads(first.stdout) == {"created": wanted}
    bounds = partitions()
    assert set(bounds) == set(wanted)
    low, high = month_start(0), month_start(1)
    assert bounds[month_name("check_results", 0)] == (
        f"FOR VALUES FROM ('{low} 00:00:00+00') TO ('{high} 00:00:00+00')"
    )

    again = spine(*url, "db", "partitions", "--months-ahead", "2", "--json", env=new_york)
    assert (again.code, json.loads(again.stdout)) == (0, {"created": []})
    assert set(partitions()) == set(wanted)

    # Rows dated beyond the last partition land in DEFAULT ...
    month_4, month_7 = month_start(4), month_start(7)
    with engine.begin() as conn:
        check_id = add_check(conn)
        first_instant = add_check_result(conn, check_id, at(month_4))
        mid_month = add_check_result(conn, check_id, at(month_4, hours=24 * 14 + 3))
        far_away = add_check_result(conn, check_id, at(month_7))
        conn.execute(
            sa.insert(dq_platform.audit_log).values(
                workspace_id=check_id,
                entity_type="check",
                entity_id=check_id,
                action="update",
                created_at=at(month_4, hours=5),
            )
        )

    with engine.connect() as conn:
        before = conn.execute(
            sa.text("SELECT DISTINCT tableoid::regclass::text FROM check_results")
        )
        assert before.all() == [("check_results_default",)]

    # ... and move into their month's partition when it is created.
    later = spine(*url, "db", "partitions", "--months-ahead", "5", env=new_york)
    assert later.code == 0, later.stderr
    assert f"created partition {month_name('check_results', 4)}" in later.stdout

    with engine.connect() as conn:
        homes = dict(
            conn.execute(sa.text("SELECT id, tableoid::regclass::text FROM check_results")).all()
        )
        audit_home = conn.execute(sa.text("SELECT tableoid::regclass::text FROM audit_log")).all()
    engine.dispose()

    assert homes == {
        first_instant: month_name("check_results", 4),
        mid_month: month_name("check_results", 4),
        far_away: "check_results_default",
    }
    assert audit_home == [(month_name("audit_log", 4),)]
