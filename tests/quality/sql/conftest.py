"""Real target databases for the SQL compiler: SQLite, DuckDB, PostgreSQL and MariaDB.

Each target gets a generated table ``readings`` (nulls, duplicates, emails, formats,
timestamps) and a reference table ``sites``; the same rows are returned so tests compute
the expected values in Python, independently of SQL. PostgreSQL needs
``SPINE_TEST_POSTGRES_URL``; MariaDB is 127.0.0.1:3306 as root, in a database
``spine_q_<random>`` made and dropped here; either is skipped with the reason when absent
outside CI, and fails in CI (``CI`` set).
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spine.quality.catalogue import CATALOGUE
from spine.quality.models import CheckDefinition
from tests.conftest import PostgresDatabases, require_postgres

TARGETS = ("sqlite", "duckdb", "postgresql", "mariadb")
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
ROWS = 400

metadata = sa.MetaData()
readings = sa.Table(
    "readings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("site_id", sa.Integer),
    sa.Column("grp", sa.Integer),
    sa.Column("amount", sa.Double),
    sa.Column("qty", sa.Integer),
    sa.Column("price", sa.Numeric(12, 4)),
    sa.Column("email", sa.String(100)),
    sa.Column("code", sa.String(80)),
    sa.Column("ts", sa.DateTime),
    sa.Column("label", sa.String(10)),
)
sites = sa.Table(
    "sites", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)
)


def _maybe(rnd: random.Random, share: float, value: Any) -> Any:
    return None if rnd.random() < share else value


def _code(rnd: random.Random, i: int) -> str:
    kind = i % 7
    if kind == 0:
        return str(uuid.UUID(int=rnd.getrandbits(128)))
    if kind == 1:
        return ".".join(str(rnd.randrange(0, 300)) for _ in range(4))
    if kind == 2:
        return ":".join(f"{rnd.randrange(0, 65536):x}" for _ in range(rnd.choice((8, 8, 3))))
    if kind == 3:
        return f"20{rnd.randrange(10, 30)}-{rnd.randrange(1, 14):02d}-{rnd.randrange(1, 29):02d}"
    if kind == 4:
        return (
            "+"
            + str(rnd.randrange(0, 10))
            + "".join(str(rnd.randrange(10)) for _ in range(rnd.randrange(1, 17)))
        )
    if kind == 5:
        return "::" + f"{rnd.randrange(0, 65536):x}"
    return rnd.choice(["not a value", "1.2.3", "abc@", "x" * rnd.randrange(1, 20)])


def _email(rnd: random.Random, i: int) -> str | None:
    choice = rnd.random()
    if choice < 0.04:
        return None
    if choice < 0.08:
        return ""
    if choice < 0.2:
        return rnd.choice(["no-at-sign", "a@b", "@example.com", "a b@c.org", "x@y.z"])
    return f"user{i % 97}.{rnd.randrange(10)}@mail{rnd.randrange(3)}.example.com"


def generate(rows: int = ROWS, seed: int = 14) -> list[dict[str, Any]]:
    """The readings, deterministic for a seed."""
    rnd = random.Random(seed)
    data = []
    for i in range(1, rows + 1):
        data.append(
            {
                "id": i,
                "site_id": _maybe(rnd, 0.05, rnd.randrange(1, 25)),
                "grp": _maybe(rnd, 0.05, rnd.randrange(1, 40)),
                "amount": _maybe(rnd, 0.03, round(rnd.uniform(-50, 500), 3)),
                "qty": _maybe(rnd, 0.02, rnd.randrange(-5, 120)),
                "price": _maybe(rnd, 0.04, Decimal(rnd.randrange(0, 10**7)) / 10000),
                "email": _email(rnd, i),
                "code": _code(rnd, i),
                "ts": _maybe(
                    rnd,
                    0.02,
                    NOW.replace(tzinfo=None) - timedelta(minutes=rnd.randrange(30, 60 * 24 * 30)),
                ),
                "label": _maybe(rnd, 0.05, rnd.choice(["a", "b", "c", "bb", "x"])),
            }
        )
    return data


SITES = list(range(1, 21))  # site_id 21..24 are missing references


@dataclass
class Target:
    """A target database holding ``readings`` and ``sites``."""

    name: str
    engine: sa.Engine
    rows: list[dict[str, Any]]

    def table_rows(self) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(readings).order_by(readings.c.id))]


def _load(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        if rows:
            conn.execute(readings.insert(), rows)
        conn.execute(sites.insert(), [{"id": i} for i in SITES])


def _mariadb_admin() -> sa.Engine:
    engine = sa.create_engine(MARIADB_URL, poolclass=sa.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"MariaDB at 127.0.0.1:3306 is unreachable outside CI: {error.orig}")
    return engine


@pytest.fixture(scope="session")
def sql_pg_databases() -> Iterator[PostgresDatabases]:
    factory = PostgresDatabases(require_postgres())
    yield factory
    factory.close()


@contextmanager
def open_target(
    name: str, request: pytest.FixtureRequest, folder: Path, rows: list[dict[str, Any]]
) -> Iterator[Target]:
    """A fresh database of kind ``name`` loaded with ``rows``; dropped afterwards."""
    if name == "sqlite":
        engine = sa.create_engine(f"sqlite:///{folder / 'target.db'}")
    elif name == "duckdb":
        engine = sa.create_engine(f"duckdb:///{folder / 'target.duckdb'}", poolclass=sa.NullPool)
    elif name == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("sql_pg_databases")
        database = databases.create()
        engine = sa.create_engine(databases.url_for(database), poolclass=sa.NullPool)
    else:
        admin = _mariadb_admin()
        database = f"spine_q_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {database}"))
        engine = sa.create_engine(f"{MARIADB_URL}{database}", poolclass=sa.NullPool)
    try:
        _load(engine, rows)
        yield Target(name=name, engine=engine, rows=rows)
    finally:
        engine.dispose()
        if name == "postgresql":
            databases.drop(database)
        elif name == "mariadb":
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database}"))
            admin.dispose()


@pytest.fixture(scope="module", params=TARGETS)
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """Each target database with the generated tables (shared by a module's tests)."""
    folder = tmp_path_factory.mktemp(request.param)
    with open_target(request.param, request, folder, generate()) as loaded:
        yield loaded


@pytest.fixture(params=TARGETS)
def fresh_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """Each target database, fresh for one test (for tests that try to change data)."""
    with open_target(request.param, request, tmp_path, generate(60)) as loaded:
        yield loaded


def make_check(
    check_type: str,
    column: str | None = None,
    *,
    table: str = "readings",
    schema: str | None = None,
    **config: Any,
) -> CheckDefinition:
    """A check definition as the store would give it."""
    return CheckDefinition(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        connection_name="target",
        name=f"{check_type}_{column or 'table'}_{uuid.uuid4().hex[:6]}",
        check_type=check_type,
        target_type=CATALOGUE[check_type].level,
        target_table=table,
        target_schema=schema,
        target_column=column,
        config=dict(config),
        created_at=NOW,
        updated_at=NOW,
    )
