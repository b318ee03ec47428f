"""The embedded SQLite default needs no set-up; PostgreSQL still needs `spine db upgrade`."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command

from spine.core.storage import create_database
from spine.core.storage.migrator import Migrator
from tests.cli.spine_process import invoke_spine


def status(url: str, cwd: Path) -> dict[str, bool]:
    done = invoke_spine("--database-url", url, "db", "status", "--json", cwd=cwd)
    assert done.code == 0, done.stderr
    return {t["tier"]: t["up_to_date"] for t in json.loads(done.stdout)["tiers"]}


def test_the_first_command_creates_the_default_database(tmp_path: Path) -> None:
    first = invoke_spine("runs", "list", "--json", cwd=tmp_path)

    assert (first.code, first.stdout, first.stderr) == (0, "[]\n", "")
    assert (tmp_path / "spine.db").exists()
    url = f"sqlite:///{tmp_path / 'spine.db'}"
    assert status(url, tmp_path) == {"basic": True, "intermediate": True, "advanced": True}


def test_spine_db_commands_do_not_create_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    assert status(url, tmp_path) == {"basic": False, "intermediate": False, "advanced": False}


def test_a_sqlite_database_behind_is_upgraded_by_the_next_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    database = create_database(url)
    try:
        migrator = Migrator(database)
        migrator.upgrade()
        migrator._run(lambda config: command.downgrade(config, "intermediate_0003"))
    finally:
        database.dispose()
    assert status(url, tmp_path)["intermediate"] is False

    done = invoke_spine("--database-url", url, "runs", "list", "--json", cwd=tmp_path)

    assert (done.code, done.stderr) == (0, "")
    assert status(url, tmp_path) == {"basic": True, "intermediate": True, "advanced": True}


def test_postgresql_is_never_migrated_by_other_commands(empty_db_url: str, tmp_path: Path) -> None:
    done = invoke_spine("--database-url", empty_db_url, "runs", "list", cwd=tmp_path)

    if empty_db_url.startswith("sqlite"):
        assert (done.code, done.stderr) == (0, "")
        return
    assert done.code == 2
    assert done.stderr.count("\n") == 1
    assert "schema is missing" in done.stderr and "run `spine db upgrade`" in done.stderr
    assert status(empty_db_url, tmp_path) == {
        "basic": False,
        "intermediate": False,
        "advanced": False,
    }
