"""Fixtures shared by the whole suite: real SQLite and real PostgreSQL databases.

Every store test takes ``db`` (a migrated :class:`Database`), which runs once on SQLite
and once on PostgreSQL. PostgreSQL tests need ``SPINE_TEST_POSTGRES_URL``; without it
they are skipped with a visible reason (CI sets it and fails when the server is absent).
Each PostgreSQL test gets a fresh database cloned from a migrated template, each SQLite
test a copy of a migrated file (procrastinate's and APScheduler's approach).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.core.storage import Database, create_database
from spine.core.storage.migrator import Migrator

POSTGRES_ENV = "SPINE_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def postgres_url() -> str | None:
    """The PostgreSQL server tests may use, or ``None``."""
    return os.environ.get(POSTGRES_ENV) or None


def require_postgres() -> str:
    """Return the test server URL, or skip the calling test with the reason."""
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (CI sets it)")
    return url


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class PostgresDatabases:
    """Creates throwaway databases on the test server, from an optional template."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.admin = _admin_engine(url)
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        """The URL of database ``name`` on the same server."""
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        """Create a new database and return its name."""
        name = f"spine_test_{_worker()}_{uuid.uuid4().hex[:10]}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}{clause}"))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        """Drop a database, closing other sessions on it first."""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        """Drop every database this object made."""
        for name in list(self.created):
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases | None]:
    """A factory of PostgreSQL databases, or ``None`` when no server is configured."""
    url = postgres_url()
    if url is None:
        yield None
        return
    factory = PostgresDatabases(url)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def pg_template(pg_databases: PostgresDatabases | None) -> str | None:
    """A PostgreSQL database migrated to head, used as a template for each test."""
    if pg_databases is None:
        return None
    name = pg_databases.create()
    database = create_database(pg_databases.url_for(name))
    Migrator(database).upgrade()
    database.dispose()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = create_database(f"sqlite:///{path}")
    Migrator(database).upgrade()
    # The last connection to close checkpoints the WAL into the file, so a plain copy of
    # the file is the whole database.
    database.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend a parametrised test runs on."""
    name: str = request.param
    if name == "postgresql":
        require_postgres()
    return name


@pytest.fixture
def db_url(
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    pg_databases: PostgresDatabases | None,
    pg_template: str | None,
) -> Iterator[str]:
    """The URL of a fresh database migrated to head, on each backend."""
    if backend == "sqlite":
        path = tmp_path / "spine.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert pg_databases is not None and pg_template is not None
    name = pg_databases.create(template=pg_template)
    yield pg_databases.url_for(name)
    pg_databases.drop(name)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A fresh database migrated to head, on SQLite and on PostgreSQL."""
    database = create_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def empty_db_url(
    backend: str, tmp_path: Path, pg_databases: PostgresDatabases | None
) -> Iterator[str]:
    """The URL of an empty database (nothing migrated), on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    assert pg_databases is not None
    name = pg_databases.create()
    yield pg_databases.url_for(name)
    pg_databases.drop(name)


@pytest.fixture
def empty_db(empty_db_url: str) -> Iterator[Database]:
    """An empty database, on SQLite and on PostgreSQL."""
    database = create_database(empty_db_url)
    yield database
    database.dispose()
