"""``scripts/demo`` tells its story on a new database and again on the same one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def demo(database: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env["SPINE_DATABASE_URL"] = f"sqlite:///{database}"
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_the_demo_tells_a_story_the_first_time_and_the_second(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"

    first = demo(database)
    second = demo(database)

    assert first.count("-> SUCCESS: the week's files were fetched") == 2
    assert "-> UNCHANGED: the files hash the same as at the last fetch" in first
    assert "tier T1: malformed lines rejected, by reason: {'PARSE_ERROR': 2" in first
    assert "-> SUCCESS" not in second
    assert second.count("-> UNCHANGED: demo.db already holds week") == 2
    assert "Remove demo.db to watch the first load again" in second
    assert "tier T1: malformed lines rejected then, by reason: {'PARSE_ERROR': 2" in second
