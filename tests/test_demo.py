"""``scripts/demo`` tells its story on a new database and again on the same one."""

from __future__ import annotations

import os
import re
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


def _section(output: str, number: int) -> str:
    """The text of the demo's section ``== N.`` (up to the next one)."""
    start = output.index(f"== {number}. ")
    end = output.find(f"== {number + 1}. ", start)
    return output[start : end if end >= 0 else None]


def _incidents(section: str) -> dict[str, str]:
    """Check name -> status, from a ``spine incidents list`` table (columns by header)."""
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("┃") and " check " in line)
    names = [cell.strip() for cell in header.strip("┃").split("┃")]
    rows = [
        dict(zip(names, (cell.strip() for cell in line.strip("│").split("│")), strict=True))
        for line in lines
        if line.startswith("│")
    ]
    return {row["check"]: row["status"] for row in rows}


@pytest.mark.slow
def test_the_demo_tells_a_story_the_first_time_and_the_second(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"

    first = demo(database)
    second = demo(database)

    assert first.count("-> SUCCESS: the week's files were fetched") == 3
    assert "-> UNCHANGED: the files hash the same as at the last fetch" in first
    assert "tier T1: malformed lines rejected, by reason: {'PARSE_ERROR': 2" in first
    # Week 2025-01-24 loads, then fails its checks and opens incidents ...
    broken = _section(first, 3)
    assert "failed: finra.rows_t1 = 51 (error)" in broken
    assert "-> FAILED at quality_check: 1 check(s) of finra_otc_weekly failed" in broken
    assert _incidents(_section(first, 4)) == {"finra.rows_t1": "open", "finra.venues_t1": "open"}
    # ... which the good week and a second pass of the checks resolve.
    assert "Checks on the loaded table: 10 of 10 passed." in _section(first, 5)
    checked = _section(first, 6)
    assert re.search(r"finra\.rows_t1\s+83\s+passed", checked), checked
    assert _incidents(_section(first, 7)) == {
        "finra.rows_t1": "resolved",
        "finra.venues_t1": "resolved",
    }

    # The failed run fired the example's rule: one alert for the role finra-oncall.
    fired = _section(first, 10)
    assert "-> The rule finra-ingest-failed fired: 1 alert(s) for the role" in fired
    assert "[high, active] finra.weekly_ingest failed: run " in fired
    assert "Its e-mail was not sent: role 'finra-oncall' has no members" in fired

    assert "-> SUCCESS" not in second
    assert second.count("-> UNCHANGED: demo.db already holds week") == 3
    assert "Remove demo.db to watch the first load again" in second
    assert "tier T1: malformed lines rejected then, by reason: {'PARSE_ERROR': 2" in second
    assert "Its checks failed then: " in second
    # Nothing new was loaded: the incidents stay resolved, none opened.
    assert _incidents(_section(second, 4)) == {
        "finra.rows_t1": "resolved",
        "finra.venues_t1": "resolved",
    }
    # No run failed this time: the alert of the first demo is the only one.
    assert "-> The rule finra-ingest-failed fired: 1 alert(s) for the role" in _section(second, 10)
