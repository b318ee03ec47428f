"""``spine schedules ...`` and ``spine scheduler --once`` through the real console script."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spine.core.clock import FrozenClock
from spine.core.storage import create_database
from spine.examples.finra import workflow as _finra  # noqa: F401  (registers the workflow)
from spine.orchestration.registry import workflows
from spine.scheduling import ScheduleStore, new_schedule, next_fire_times
from tests.cli.spine_process import Completed, run_spine, run_spines

APP = ["--app", "spine.examples.finra"]
WF = "finra.weekly_ingest"

BAD = {
    "invalid cron": (
        ["schedules", "add", "s", "--workflow", WF, "--cron", "61 * * * *"],
        "cron '61 * * * *': minute 61 is outside 0-59",
    ),
    "impossible cron": (
        ["schedules", "add", "s", "--workflow", WF, "--cron", "0 0 30 2 *"],
        "cron '0 0 30 2 *' can never fire",
    ),
    "unknown zone": (
        ["schedules", "add", "s", "--workflow", WF, "--cron", "0 6 * * *", "--tz", "Mars/Base"],
        "unknown time zone 'Mars/Base'",
    ),
    "past one-off": (
        ["schedules", "add", "s", "--workflow", WF, "--at", "2020-01-01T00:00:00Z"],
        "--at 2020-01-01T00:00:00+00:00 is in the past",
    ),
    "unknown workflow": (
        ["schedules", "add", "s", "--workflow", "nope", "--every", "60"],
        "unknown workflow 'nope' (known: finra.weekly_ingest)",
    ),
    "bad catchup": (
        ["schedules", "add", "s", "--workflow", WF, "--every", "60", "--catchup", "maybe"],
        "unknown --catchup 'maybe'",
    ),
    "bad dst policy": (
        ["schedules", "add", "s", "--workflow", WF, "--cron", "0 2 * * *", "--dst-gap", "later"],
        "bad DST policy",
    ),
    "preview bad cron": (["schedules", "preview", "--cron", "* * *"], "has 3 fields"),
    "show unknown": (["schedules", "show", "nope"], "unknown schedule 'nope'"),
}
NO_APP = (
    ["schedules", "add", "s", "--workflow", WF, "--every", "60"],
    "unknown workflow 'finra.weekly_ingest' (did you pass --app or set SPINE_APP?)",
)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("schedules")
    shutil.copyfile(sqlite_template, cwd / "spine.db")
    return cwd, f"sqlite:///{cwd / 'spine.db'}"


def spine(place: tuple[Path, str], *args: str, app: bool = True) -> Completed:
    cwd, url = place
    return run_spine("--database-url", url, *(APP if app else []), *args, cwd=cwd)


def test_bad_input_is_one_line_exit_2_and_nothing_saved(place: tuple[Path, str]) -> None:
    cwd, url = place
    cases = [(["--database-url", url, *APP, *args], None, cwd) for args, _ in BAD.values()]
    cases.append((["--database-url", url, *NO_APP[0]], None, cwd))
    results = run_spines(cases)
    expected = [msg for _, msg in BAD.values()] + [NO_APP[1]]
    for done, message in zip(results, expected, strict=True):
        assert done.code == 2, (message, done)
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert message in done.stderr, done.stderr
    listed = spine(place, "schedules", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_preview_prints_what_next_fire_times_returns() -> None:
    after = "2025-03-08T12:00:00+00:00"
    args = ["schedules", "preview", "--cron", "30 2 * * *", "--tz", "America/New_York"]
    cwd = Path.cwd()
    as_json, as_text = run_spines(
        [
            ([*args, "--after", after, "--count", "3", "--json"], None, cwd),
            ([*args, "--after", after, "--count", "3"], None, cwd),
        ]
    )
    expected = next_fire_times("30 2 * * *", "America/New_York", datetime.fromisoformat(after), 3)
    assert json.loads(as_json.stdout) == [t.isoformat() for t in expected]
    assert as_text.stdout.split() == [t.isoformat() for t in expected]
    assert json.loads(as_json.stdout)[0] == "2025-03-09T03:00:00-04:00"


def spines(place: tuple[Path, str], *invocations: list[str]) -> list[Completed]:
    """Independent invocations side by side (start-up is most of their time)."""
    cwd, url = place
    return run_spines([(["--database-url", url, *APP, *args], None, cwd) for args in invocations])


def test_add_list_show_next_pause_resume_remove_and_fire(place: tuple[Path, str]) -> None:
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    added, one_off = spines(
        place,
        ["schedules", "add", "weekly", "--workflow", WF, "--cron", "0 6 * * 1-5",
         "--tz", "America/New_York", "--param", "tier=T1", "--max-instances", "2",
         "--misfire-grace", "600", "--catchup", "all", "--json"],
        ["schedules", "add", "once", "--workflow", WF, "--at", in_an_hour],
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert one_off.code == 0, one_off.stderr
    saved = json.loads(added.stdout)
    assert saved["schedule_type"] == "cron" and saved["timezone"] == "America/New_York"
    assert saved["params"] == {"tier": "T1"}
    assert (saved["max_instances"], saved["misfire_grace_seconds"], saved["catchup"]) == (
        2,
        600,
        "all",
    )
    # A one-off that fell due while no scheduler ran (saved with the clock in the past).
    database = create_database(place[1])
    past = FrozenClock(datetime.now(UTC) - timedelta(hours=1))
    due = new_schedule("due", workflow=WF, now=past.now(), registry=workflows,
                       at=past.now() + timedelta(minutes=1))  # fmt: skip
    ScheduleStore(database, past).add(due)
    database.dispose()
    # One scheduler pass fires the due one-off, late (no grace: any lateness is allowed).
    listing, nxt, fired = spines(
        place,
        ["schedules", "list", "--json"],
        ["schedules", "next", "weekly", "--count", "3", "--after", "2025-03-07T12:00:00Z",
         "--json"],
        ["scheduler", "--once"],
    )  # fmt: skip
    listed = json.loads(listing.stdout)
    assert [s["name"] for s in listed] == ["due", "once", "weekly"]
    assert {"id", "name", "target_name", "cron_expression", "next_run_at", "enabled"} <= set(
        listed[2]
    )
    assert json.loads(nxt.stdout) == [
        "2025-03-10T06:00:00-04:00",
        "2025-03-11T06:00:00-04:00",
        "2025-03-12T06:00:00-04:00",
    ]
    assert fired.code == 0, fired.stderr
    assert "after 1 fires" in fired.stdout
    shown, paused = spines(place, ["schedules", "show", "due", "--json"],
                           ["schedules", "pause", "weekly"])  # fmt: skip
    assert paused.code == 0, paused.stderr
    shown_due = json.loads(shown.stdout)
    assert shown_due["next_run_at"] is None and shown_due["last_run_status"] == "RUNNING"
    [fire] = shown_due["runs"]
    assert fire["status"] == "RUNNING" and fire["run_id"]
    assert due.run_at is not None and fire["scheduled_at"] == due.run_at.isoformat()
    after_pause, removed = spines(place, ["schedules", "show", "weekly", "--json"],
                                  ["schedules", "remove", "once"])  # fmt: skip
    assert removed.code == 0, removed.stderr
    assert json.loads(after_pause.stdout)["enabled"] is False
    assert json.loads(after_pause.stdout)["next_run_at"] is None
    assert spine(place, "schedules", "resume", "weekly").code == 0
    resumed, listing = spines(place, ["schedules", "show", "weekly", "--json"],
                              ["schedules", "list", "--json"])  # fmt: skip
    assert json.loads(resumed.stdout)["enabled"] is True
    assert json.loads(resumed.stdout)["next_run_at"]
    assert [s["name"] for s in json.loads(listing.stdout)] == ["due", "weekly"]


def test_the_scheduler_without_an_app_refuses(place: tuple[Path, str]) -> None:
    done = spine(place, "scheduler", "--once", app=False)
    assert done.code == 2
    assert "no workflow is registered" in done.stderr


def test_a_cron_over_200_characters_is_refused_and_nothing_saved(
    db_url: str, tmp_path: Path
) -> None:
    # Parses, were it not for its length: SQLite stored it, PostgreSQL's column refused it.
    too_long = "0" + ",0" * 3400 + " 6 * * *"
    base = ["--database-url", db_url, *APP]
    added, previewed = run_spines(
        [
            ([*base, "schedules", "add", "long", "--workflow", WF, "--cron", too_long], None,
             tmp_path),
            ([*base, "schedules", "preview", "--cron", too_long], None, tmp_path),
        ]
    )  # fmt: skip
    for done in (added, previewed):
        assert (done.code, done.stdout) == (2, ""), done
        assert done.stderr.strip().splitlines() == [
            f"error: cron expression is {len(too_long)} characters long; the most is 200"
        ]
    listed = run_spine(*base, "schedules", "list", "--json", cwd=tmp_path)
    assert json.loads(listed.stdout) == []
