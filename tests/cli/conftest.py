"""Fixtures that run the real ``spine`` console script."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.cli.spine_process import Completed, Spine, invoke_spine, run_spines

# Every `spine db sql` output a test reads, made at once on first use.
DDL_WANTED: list[tuple[str, str | None]] = [
    ("sqlite", None),
    ("sqlite", "basic"),
    ("postgresql", None),
    ("postgresql", "basic"),
    ("db2", None),
]


@pytest.fixture
def spine(tmp_path: Path) -> Spine:
    """``spine(*args, env=None)`` runs the console script in an empty working directory."""

    def run(*args: str, env: Mapping[str, str] | None = None) -> Completed:
        return invoke_spine(*args, cwd=tmp_path, env=env)

    return run


@pytest.fixture(scope="session")
def offline_ddl(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str | None], str]:
    """``offline_ddl(dialect, tier)``: the stdout of ``spine db sql`` (no database)."""
    cwd = tmp_path_factory.mktemp("ddl")
    # Offline means offline: a database that cannot be reached must not matter.
    nowhere = {"SPINE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}
    invocations = [
        (["db", "sql", "--dialect", dialect, *(["--tier", tier] if tier else [])], nowhere, cwd)
        for dialect, tier in DDL_WANTED
    ]
    outputs: dict[tuple[str, str | None], str] = {}
    for wanted, done in zip(DDL_WANTED, run_spines(invocations, in_process=True), strict=True):
        assert (done.code, done.stderr) == (0, ""), done.stderr
        outputs[wanted] = done.stdout
    assert list(cwd.iterdir()) == []

    def ddl(dialect: str, tier: str | None = None) -> str:
        return outputs[(dialect, tier)]

    return ddl
