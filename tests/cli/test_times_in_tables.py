"""Every table prints times with their zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from spine.cli.output import when
from tests.cli.spine_process import run_spine, run_spines

ZONED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")
BARE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?![Z+-])")


def test_when_writes_utc_as_z_and_a_zone_with_its_offset() -> None:
    moment = datetime(2026, 12, 2, 7, 1, 0, 123456, tzinfo=UTC)

    assert when(moment) == "2026-12-02 07:01:00Z"
    assert when(moment.astimezone(timezone(timedelta(hours=2)))) == "2026-12-02 07:01:00Z"
    assert when(moment, ZoneInfo("America/New_York")) == "2026-12-02 02:01:00-05:00"
    assert when(moment.replace(tzinfo=None)) == "2026-12-02 07:01:00Z"  # naive is UTC
    assert when("2026-12-02T07:01:00+00:00") == "2026-12-02 07:01:00Z"
    assert when(None) == ""


def test_run_source_and_alert_tables_show_the_zone(db_url: str, tmp_path: Path) -> None:
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_APP": "spine.examples.finra", "COLUMNS": "250"}
    ran = run_spine("run", "finra.weekly_ingest", cwd=tmp_path, env=env)
    assert ran.code == 0, ran.stderr
    sent = run_spine(
        "alerts", "send", "--severity", "INFO", "--title", "t", "--message", "m",
        "--source", "test", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert sent.code == 0, sent.stderr
    tables = [
        ["runs", "list"],
        ["sources", "show", "finra.otc_weekly"],
        ["sources", "fetches", "finra.otc_weekly"],
        ["alerts", "list"],
    ]

    done = run_spines([(args, env, tmp_path) for args in tables])

    for args, output in zip(tables, done, strict=True):
        assert output.code == 0, (args, output.stderr)
        assert ZONED.search(output.stdout), (args, output.stdout)
        assert not BARE.search(output.stdout), (args, output.stdout)
    assert ZONED.search(ran.stdout) and not BARE.search(ran.stdout)
