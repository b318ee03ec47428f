from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.core.errors import Conflict, InvalidInput, SpineError
from spine.sources import ConnectionNotFound, FetchStatus, SourceService
from tests.conftest import PostgresDatabases, require_postgres

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"


def _trades(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE trades (id INTEGER, day TEXT, symbol TEXT, shares INTEGER)")
        conn.executemany(
            "INSERT INTO trades VALUES (?, ?, ?, ?)",
            [
                (1, "2025-01-10", "AAPL", 100),
                (2, "2025-01-10", "MSFT", 50),
                (3, "2025-01-17", "AAPL", 7),
            ],
        )
    return path


QUERY = "SELECT id, symbol, shares FROM trades WHERE day = :date ORDER BY id"


def test_registry_keeps_references_never_passwords(sources: SourceService) -> None:
    registry = sources.connections
    added = registry.add(
        "warehouse",
        dialect="postgresql",
        host="db",
        port=5432,
        database="dw",
        username="etl",
        password_ref="env:DW_PASSWORD",
        pool_size=3,
    )
    assert added.password_ref == "env:DW_PASSWORD"
    assert (added.pool_size, added.max_overflow, added.pool_timeout) == (3, 10, 30)
    assert [c.name for c in registry.list_connections()] == ["warehouse"]
    with pytest.raises(Conflict):
        registry.add("warehouse", dialect="postgresql", database="dw")
    with pytest.raises(InvalidInput, match="env:VARIABLE or file:PATH"):
        registry.add("clear", dialect="postgresql", database="dw", password_ref="hunter2")
    with pytest.raises(InvalidInput, match="unknown dialect 'oracle'"):
        registry.add("o", dialect="oracle", database="x")
    registry.remove("warehouse")
    with pytest.raises(ConnectionNotFound):
        registry.get("warehouse")


def test_query_binds_parameters_counts_and_hashes_rows(
    sources: SourceService, tmp_path: Path
) -> None:
    path = _trades(tmp_path / "trades.db")
    sources.connections.add("local", dialect="sqlite", database=str(path))
    sources.add("trades", "database", {"connection": "local", "query": QUERY})
    result = sources.fetch("trades", {"date": "2025-01-10"})
    assert result.status is FetchStatus.SUCCESS
    assert result.record_count == 2
    assert isinstance(result.content, bytes)
    assert result.content.splitlines()[0] == b'{"id": 1, "symbol": "AAPL", "shares": 100}'
    assert sources.fetch("trades", {"date": "2025-01-10"}).status is FetchStatus.UNCHANGED
    # A value that would change the SQL if it were formatted in is only a value.
    injected = sources.fetch("trades", {"date": "x' OR '1'='1"})
    assert (injected.status, injected.record_count) == (FetchStatus.SUCCESS, 0)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO trades VALUES (4, '2025-01-10', 'NVDA', 1)")
    changed = sources.fetch("trades", {"date": "2025-01-10"})
    assert (changed.status, changed.record_count) == (FetchStatus.SUCCESS, 3)
    assert changed.content_hash != result.content_hash


def test_missing_query_parameter_fails_with_validation(
    sources: SourceService, tmp_path: Path
) -> None:
    sources.connections.add("local", dialect="sqlite", database=str(_trades(tmp_path / "t.db")))
    sources.add("trades", "database", {"connection": "local", "query": QUERY})
    result = sources.fetch("trades")
    assert (result.status, result.error_category) == (FetchStatus.FAILED, "VALIDATION")
    assert ":date" in (result.error or "") or "date" in (result.error or "")


def test_unknown_connection_is_recorded_as_a_configuration_failure(
    sources: SourceService,
) -> None:
    sources.add("orphan", "database", {"connection": "nowhere", "query": "SELECT 1"})
    result = sources.fetch("orphan")
    assert (result.status, result.error_category) == (FetchStatus.FAILED, "CONFIGURATION")
    assert "no database connection named 'nowhere'" in (result.error or "")
    assert sources.fetches("orphan")[0]["error_category"] == "CONFIGURATION"


def test_duckdb_connection(sources: SourceService, tmp_path: Path) -> None:
    pytest.importorskip("duckdb_engine")
    path = tmp_path / "d.duckdb"
    engine = sa.create_engine(f"duckdb:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t AS SELECT range AS n FROM range(10)"))
    engine.dispose()
    sources.connections.add("duck", dialect="duckdb", database=str(path))
    sources.add("ten", "database", {"connection": "duck", "query": "SELECT n FROM t WHERE n < :k"})
    assert sources.fetch("ten", {"k": 4}).record_count == 4


# -- real servers ---------------------------------------------------------------------


@pytest.fixture
def pg_source_db(pg_databases: PostgresDatabases | None) -> Iterator[sa.URL]:
    require_postgres()
    assert pg_databases is not None
    name = pg_databases.create()
    url = sa.make_url(pg_databases.url_for(name))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE trades (id int, day date, symbol text)"))
        conn.execute(
            sa.text("INSERT INTO trades VALUES (1, '2025-01-10', 'AAPL'), (2, '2025-01-17', 'X')")
        )
    engine.dispose()
    yield url
    pg_databases.drop(name)


def test_postgresql_connection_test_query_and_pool(
    sources: SourceService, pg_source_db: sa.URL
) -> None:
    registry = sources.connections
    registry.add(
        "pg",
        dialect="postgresql",
        host=pg_source_db.host,
        port=pg_source_db.port,
        database=str(pg_source_db.database),
        username=pg_source_db.username,
        pool_size=2,
        max_overflow=1,
        pool_timeout=7,
    )
    tested = registry.test("pg")
    assert tested.last_connected_at is not None and tested.last_error is None
    sources.add(
        "pg.trades",
        "database",
        {"connection": "pg", "query": "SELECT id, symbol FROM trades WHERE day = :date"},
    )
    result = sources.fetch("pg.trades", {"date": "2025-01-10"})
    assert (result.status, result.record_count) == (FetchStatus.SUCCESS, 1)
    engine = registry.databases.engine(registry.get("pg"), None)
    pool = engine.pool
    assert isinstance(pool, sa.QueuePool)
    assert (pool.size(), pool._max_overflow, pool._timeout) == (2, 1, 7)


@pytest.fixture
def mariadb_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A throwaway MariaDB database and user with a password (root has none)."""
    pytest.importorskip("pymysql")
    admin = sa.create_engine(MARIADB, poolclass=sa.NullPool)
    try:
        admin.connect().close()
    except sa.exc.OperationalError as error:
        pytest.skip(f"MariaDB is not reachable at 127.0.0.1:3306 as root: {error.orig}")
    suffix = uuid.uuid4().hex[:8]
    database, user, password = f"spine_src_{suffix}", f"spine_{suffix}", f"pw-{suffix}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {database}"))
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        conn.execute(sa.text(f"GRANT ALL ON {database}.* TO '{user}'@'%'"))
        conn.execute(sa.text(f"CREATE TABLE {database}.t (id INT, day DATE)"))
        conn.execute(
            sa.text(f"INSERT INTO {database}.t VALUES (1, '2025-01-10'), (2, '2025-01-10')")
        )
    monkeypatch.setenv("MARIADB_TEST_PASSWORD", password)
    yield database, user
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP USER '{user}'@'%'"))
        conn.execute(sa.text(f"DROP DATABASE {database}"))
    admin.dispose()


def test_mariadb_password_from_reference_and_wrong_password(
    sources: SourceService, mariadb_user: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, user = mariadb_user
    registry = sources.connections
    registry.add(
        "maria",
        dialect="mysql",
        host="127.0.0.1",
        port=3306,
        database=database,
        username=user,
        password_ref="env:MARIADB_TEST_PASSWORD",
    )
    assert registry.test("maria").last_connected_at is not None
    sources.add(
        "maria.t", "database", {"connection": "maria", "query": "SELECT * FROM t WHERE day = :d"}
    )
    assert sources.fetch("maria.t", {"d": "2025-01-10"}).record_count == 2

    registry.add(
        "maria.bad",
        dialect="mysql",
        host="127.0.0.1",
        port=3306,
        database=database,
        username=user,
        password_ref="env:MARIADB_WRONG",
    )
    monkeypatch.setenv("MARIADB_WRONG", "not-the-password")
    with pytest.raises(SpineError) as raised:
        registry.test("maria.bad")
    assert raised.value.category.value == "AUTHENTICATION"
    assert "not-the-password" not in str(raised.value)
    bad = registry.get("maria.bad")
    assert bad.last_error is not None and "Access denied" in bad.last_error
    assert bad.last_error_at is not None and bad.last_connected_at is None
    sources.add("maria.bad.t", "database", {"connection": "maria.bad", "query": "SELECT * FROM t"})
    failed = sources.fetch("maria.bad.t")
    assert (failed.status, failed.error_category) == (FetchStatus.FAILED, "AUTHENTICATION")


def test_unreachable_server_is_recorded(sources: SourceService) -> None:
    registry = sources.connections
    registry.add(
        "nobody", dialect="postgresql", host="127.0.0.1", port=1, database="x", username="postgres"
    )
    with pytest.raises(SpineError) as raised:
        registry.test("nobody")
    assert raised.value.category.value == "UNAVAILABLE"
    assert registry.get("nobody").last_error_at is not None
