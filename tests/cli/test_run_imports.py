"""``spine run`` imports only what running a step needs.

The real console script runs a one-step workflow; the app module records, when the
process exits, every module it imported. Migrations (Alembic), alert channel clients
(Apprise, httpx), the source fetchers, the API and the other commands are not among them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.spine_process import run_spine

APP = """
import atexit
import json
import os
import sys

from spine import Step, Workflow

Workflow("imports.one", [Step.lambda_("only", lambda ctx: {"ok": True})])


@atexit.register
def _record() -> None:
    with open(os.environ["IMPORTS_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""

NOT_NEEDED = (
    "alembic",
    "apprise",
    "httpx",
    "cryptography",
    "fastapi",
    "uvicorn",
    "boto3",
    "asyncssh",
    "spine.sources",
    "spine.core.storage.migrator",
    "spine.cli.alerts",
    "spine.cli.connections",
    "spine.cli.db",
    "spine.cli.serve",
    "spine.cli.sources",
)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_spine_run_imports_neither_migrations_nor_channels_nor_fetchers(
    db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "imports_app.py").write_text(APP)
    out = tmp_path / "modules.json"
    done = run_spine(
        "run",
        "imports.one",
        cwd=tmp_path,
        env={"SPINE_DATABASE_URL": db_url, "SPINE_APP": "imports_app", "IMPORTS_OUT": str(out)},
    )
    assert done.code == 0, done.stderr
    modules = json.loads(out.read_text())
    assert "spine.orchestration.runner" in modules  # the record is of a real run
    imported = sorted(
        name
        for name in modules
        for unwanted in NOT_NEEDED
        if name == unwanted or name.startswith(unwanted + ".")
    )
    assert imported == []
