"""``spine automation watch|unwatch|entities`` through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli.spine_process import Completed, invoke_spine, run_spines
from tests.cli.test_checks_cli import one_line_error


class Cli:
    """``spine`` on one database, in one working directory."""

    def __init__(self, cwd: Path, url: str) -> None:
        self.cwd, self.url = cwd, url

    def __call__(self, *args: str) -> Completed:
        return invoke_spine(*args, cwd=self.cwd, env={"SPINE_DATABASE_URL": self.url})

    def json(self, *args: str) -> object:
        done = self(*args, "--json")
        assert (done.code, done.stderr) == (0, ""), done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    """Spine's database with a user's table ``orders`` in it."""
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
    engine.dispose()
    return Cli(tmp_path, db_url)


def test_watch_list_and_unwatch(cli: Cli, backend: str) -> None:
    watched = cli.json("automation", "watch", "orders")
    assert isinstance(watched, dict)
    assert {k: watched[k] for k in ("name", "entity_type", "is_active", "columns")} == {
        "name": "orders",
        "entity_type": "table",
        "is_active": True,
        "columns": ["id", "status"],
    }
    assert watched["schema_name"] == ("public" if backend == "postgresql" else None)
    assert set(watched) == {
        "id",
        "name",
        "entity_type",
        "schema_name",
        "is_active",
        "created_date",
        "workspace_id",
        "columns",
    }
    plain = cli("automation", "watch", "core_workflow_runs")
    assert (
        plain.code == 0
        and "watching table" in plain.stdout
        and "core_workflow_runs" in plain.stdout
    )

    listed = cli.json("automation", "entities")
    assert isinstance(listed, list)
    assert [(e["name"], e["is_active"]) for e in listed] == [
        ("core_workflow_runs", True),
        ("orders", True),
    ]
    table = cli("automation", "entities")
    assert table.code == 0 and "orders" in table.stdout

    gone = cli.json("automation", "unwatch", "orders")
    assert isinstance(gone, dict) and gone["is_active"] is False and gone["id"] == watched["id"]


def test_bad_tables_are_one_line_errors(cli: Cli) -> None:
    env = {"SPINE_DATABASE_URL": cli.url}
    nothing, own, unwatched = run_spines(
        [
            (["automation", "watch", "nothing"], env, cli.cwd),
            (["automation", "watch", "audit_log"], env, cli.cwd),
            (["automation", "unwatch", "orders"], env, cli.cwd),
        ],
        in_process=True,
    )
    one_line_error(nothing, "no table 'nothing'")
    one_line_error(own, "spine's own tables")
    one_line_error(unwatched, "table 'orders' is not watched")
