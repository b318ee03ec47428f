"""``spine runs prune`` and ``spine db downgrade`` say what goes and ask before deleting.

On a terminal they ask ``[y/N]``; ``--yes`` does not ask; without a terminal and
without ``--yes`` they refuse in one line, exit 2, and delete nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spine.core.clock import SystemClock
from spine.core.storage import create_database
from spine.core.storage.schema import Tier
from spine.orchestration import Step, Workflow
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.cli.spine_process import run_spine
from tests.cli.terminal import run_spine_on_terminal
from tests.cli.test_db_cli import expected_tables, table_names

PRUNE = ("runs", "prune", "--older-than-days", "0")


def finished_runs(db_url: str, count: int) -> list[str]:
    """``count`` COMPLETED runs of a two-step workflow, created just now."""
    registry = WorkflowRegistry()
    Workflow(
        "confirm.job",
        [Step.lambda_("a", lambda ctx: None), Step.lambda_("b", lambda ctx: None)],
        registry=registry,
    )
    database = create_database(db_url)
    try:
        runner = WorkflowRunner(RunStore(database, SystemClock()), workflow_registry=registry)
        return [runner.run("confirm.job").run_id for _ in range(count)]
    finally:
        database.dispose()


def run_ids(db_url: str) -> set[str]:
    database = create_database(db_url)
    try:
        return {run.run_id for run in RunStore(database).list_workflow_runs(limit=100)}
    finally:
        database.dispose()


def test_prune_without_a_terminal_refuses_and_deletes_nothing(db_url: str, tmp_path: Path) -> None:
    ids = finished_runs(db_url, 2)

    done = run_spine("--database-url", db_url, *PRUNE, cwd=tmp_path)

    assert done.code == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        "error: runs prune --older-than-days 0 would delete 2 finished runs created more "
        "than 0 days ago, with their 4 step attempts and "
    )
    assert done.stderr.rstrip().endswith("refusing without a terminal: pass --yes")
    assert run_ids(db_url) == set(ids)


def test_prune_with_yes_deletes_without_asking(db_url: str, tmp_path: Path) -> None:
    finished_runs(db_url, 2)

    done = run_spine("--database-url", db_url, *PRUNE, "--yes", "--json", cwd=tmp_path)

    assert (done.code, done.stderr) == (0, "")
    assert done.stdout.split() == ["{", '"deleted":', "2", "}"]
    assert run_ids(db_url) == set()


def test_prune_with_nothing_to_delete_does_not_ask(db_url: str, tmp_path: Path) -> None:
    done = run_spine("--database-url", db_url, *PRUNE, cwd=tmp_path)

    assert (done.code, done.stdout, done.stderr) == (0, "deleted 0 runs\n", "")


@pytest.mark.parametrize(("answer", "code"), [("n", 1), ("y", 0)])
def test_prune_on_a_terminal_asks_first(
    db_url: str, tmp_path: Path, answer: str, code: int
) -> None:
    ids = finished_runs(db_url, 1)

    done = run_spine_on_terminal("--database-url", db_url, *PRUNE, answer=answer, cwd=tmp_path)

    assert done.code == code, done.stderr
    assert "will delete 1 finished run created more than 0 days ago" in done.stderr
    assert "Continue? [y/N]" in done.stderr
    if code == 0:
        assert done.stdout == "deleted 1 runs\n"
        assert run_ids(db_url) == set()
    else:
        assert "aborted: nothing deleted" in done.stderr
        assert run_ids(db_url) == set(ids)


def test_downgrade_refuses_without_a_terminal_and_asks_on_one(
    empty_db_url: str, tmp_path: Path
) -> None:
    url = ("--database-url", empty_db_url)
    assert run_spine(*url, "db", "upgrade", cwd=tmp_path).code == 0
    down = (*url, "db", "downgrade", "--tier", "intermediate")

    refused = run_spine(*down, cwd=tmp_path)
    declined = run_spine_on_terminal(*down, answer="no", cwd=tmp_path)

    assert refused.code == 2
    assert refused.stderr.strip() == (
        "error: db downgrade --tier intermediate would delete the tables and rows of 11 "
        "migrations (advanced_0002, advanced_0001, intermediate_0009, intermediate_0008, "
        "intermediate_0007, "
        "intermediate_0006, "
        "intermediate_0005, "
        "intermediate_0004, "
        "intermediate_0003, intermediate_0002, intermediate_0001); refusing without a "
        "terminal: pass --yes"
    )
    assert declined.code == 1
    assert "  intermediate_0001: Intermediate tier" in declined.stderr
    assert table_names(empty_db_url) == expected_tables(Tier.ADVANCED)

    accepted = run_spine_on_terminal(*down, answer="y", cwd=tmp_path)

    assert accepted.code == 0, accepted.stderr
    assert table_names(empty_db_url) == expected_tables(Tier.BASIC)
    # Nothing left above basic: nothing to confirm.
    again = run_spine(*down, cwd=tmp_path)
    assert again.code == 0, again.stderr
