"""Text that lands in a bounded column is refused when longer, through the real CLI.

On SQLite such text used to be stored whatever its length; on PostgreSQL it failed with
the driver's error. Now it is one line naming the field and its limit, exit code 2, and
nothing is saved, on both backends.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.spine_process import run_spines

APP = ["--app", "spine.examples.finra"]
WF = "finra.weekly_ingest"
FILE_CONFIG = json.dumps({"path": "/nowhere/w_{week}.psv", "format": "psv"})


def _long(length: int) -> str:
    return "x" * length


CASES = [
    (
        [*APP, "schedules", "add", _long(201), "--workflow", WF, "--every", "60"],
        "schedule name is 201 characters long; the most is 200",
    ),
    (
        ["sources", "add", "s", "--type", "file", "--config", FILE_CONFIG, "--domain", _long(250)],
        "source domain is 250 characters long; the most is 200",
    ),
    (
        ["connections", "add", "c1", "--dialect", "postgresql", "--database", "d",
         "--host", _long(256)],
        "connection host is 256 characters long; the most is 255",
    ),
    (
        ["connections", "add", "c2", "--dialect", "postgresql", "--database", _long(501)],
        "connection database is 501 characters long; the most is 500",
    ),
    (
        ["connections", "add", "c3", "--dialect", "postgresql", "--database", "d",
         "--username", _long(201)],
        "connection username is 201 characters long; the most is 200",
    ),
    (
        ["alerts", "send", "--severity", "ERROR", "--title", _long(501), "--message", "m",
         "--source", "s"],
        # Alerts were bounded before, with limits of their own; now read from the columns.
        "alert title is 501 characters long; the most is 500",
    ),
]  # fmt: skip

LISTS = [
    ["schedules", "list", "--json"],
    ["sources", "list", "--json"],
    ["connections", "list", "--json"],
    ["alerts", "list", "--json"],
]


def test_over_long_fields_are_one_line_exit_2_and_nothing_is_saved(
    db_url: str, tmp_path: Path
) -> None:
    env = {"SPINE_DATABASE_URL": db_url}
    results = run_spines([(args, env, tmp_path) for args, _ in CASES])
    for (args, message), done in zip(CASES, results, strict=True):
        assert (done.code, done.stdout) == (2, ""), (args[:3], done)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert message in lines[0], (message, done.stderr)

    listed = run_spines([(args, env, tmp_path) for args in LISTS])
    for args, done in zip(LISTS, listed, strict=True):
        assert done.code == 0, (args, done.stderr)
        assert json.loads(done.stdout) == [], (args, done.stdout)
