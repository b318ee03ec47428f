"""``spine schedules trigger`` and ``spine backfill`` through the real console script,
on SQLite and PostgreSQL: data intervals, templates, dry runs, reruns and the FINRA week."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli.spine_process import Completed, invoke_spine, run_spine, run_spines

APP = textwrap.dedent(
    """
    from spine import Step, Workflow


    def echo(ctx):
        if ctx.params.get("day") == ctx.params.get("fail_day"):
            raise ValueError("no data for " + ctx.params["day"])
        return {
            "logical_time": ctx.logical_time.isoformat() if ctx.logical_time else None,
            "start": ctx.data_interval_start.isoformat() if ctx.data_interval_start else None,
            "end": ctx.data_interval_end.isoformat() if ctx.data_interval_end else None,
            "day": ctx.params.get("day"),
        }


    Workflow("dates.echo", [Step.lambda_("echo", echo)])
    """
)
DAY = "day={{ data_interval_start | date }}"
FINRA_PARAM = "week_ending={{ data_interval_end | previous_friday }}"


class Cli:
    """``spine`` against one database, in a directory holding the test app."""

    def __init__(self, cwd: Path, url: str, app: str) -> None:
        self.cwd, self.env = cwd, {"SPINE_DATABASE_URL": url, "SPINE_APP": app}
        # In-process (no start-up) but for the FINRA example, which keeps process state.
        self.in_process = app != "spine.examples.finra"

    def __call__(self, *args: str) -> Completed:
        run = invoke_spine if self.in_process else run_spine
        return run(*args, cwd=self.cwd, env=self.env)

    def ok(self, *args: str) -> Any:
        done = self(*args)
        assert done.code == 0, (args, done.stderr)
        return json.loads(done.stdout) if "--json" in args else done.stdout

    def many(self, *invocations: list[str]) -> list[Completed]:
        return run_spines(
            [(args, self.env, self.cwd) for args in invocations], in_process=self.in_process
        )


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    (tmp_path / "dates_app.py").write_text(APP)
    return Cli(tmp_path, db_url, "dates_app")


def _one_line_error(done: Completed, message: str) -> None:
    assert done.code == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message in done.stderr, done.stderr


def test_bad_templates_and_ranges_are_one_line_errors_and_nothing_is_written(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("schedules", "add", "daily", "--workflow", "dates.echo", "--cron", "0 0 * * *")
    backfill = ["backfill", "dates.echo", "--from", "2025-01-01", "--to", "2025-01-05"]
    cases = {
        "unknown filter 'previous_fri' (known: date, iso": [
            "schedules", "add", "bad", "--workflow", "dates.echo", "--cron", "0 0 * * *",
            "--param", "week_ending={{ data_interval_end | previous_fri }}"],
        "unknown variable 'ds' (known: logical_time": [
            *backfill, "--every", "1d", "--param", "day={{ ds }}"],
        "give exactly one of --schedule and --every": [
            *backfill, "--every", "1d", "--schedule", "daily"],
        "--to 2025-01-01T00:00:00+00:00 is before --from": [
            "backfill", "dates.echo", "--from", "2025-01-05", "--to", "2025-01-01",
            "--every", "1d"],
        "more than 3 logical times between --from and --to": [
            *backfill, "--schedule", "daily", "--max-runs", "3"],
        "--param goes with --every": [*backfill, "--schedule", "daily", "--param", "a=1"],
        "--every '1y' is not a span": [*backfill, "--every", "1y"],
        "unknown workflow 'nope'": ["backfill", "nope", "--from", "2025-01-01", "--to",
                                    "2025-01-02", "--every", "1d"],
        "schedule 'daily' runs 'dates.echo', not 'other'": [
            "backfill", "other", "--from", "2025-01-01", "--to", "2025-01-02", "--schedule",
            "daily"],
    }  # fmt: skip
    (cli.cwd / "dates_app.py").write_text(APP + "\nWorkflow('other', [Step.lambda_('a', echo)])\n")
    for done, message in zip(cli.many(*cases.values()), cases, strict=True):
        _one_line_error(done, message)
    assert [s["name"] for s in cli.ok("schedules", "list", "--json")] == ["daily"]
    assert cli.ok("runs", "list", "--json") == []


def test_trigger_at_makes_one_run_for_that_logical_time_and_trigger_fires_now(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("schedules", "add", "daily", "--workflow", "dates.echo", "--cron", "0 0 * * *",
           "--param", DAY)  # fmt: skip
    before = datetime.now(UTC)
    at, again, now = cli.many(
        ["schedules", "trigger", "daily", "--at", "2025-01-05T00:00:00Z", "--json"],
        ["schedules", "trigger", "daily", "--at", "2025-01-05T00:00:00Z", "--json"],
        ["schedules", "trigger", "daily", "--json"],
    )
    after = datetime.now(UTC)
    runs = [json.loads(done.stdout) for done in (at, again, now)]
    assert [r["created"] for r in runs].count(True) == 2, runs
    assert runs[0]["run_id"] == runs[1]["run_id"]
    first = runs[0]
    assert first["params"] == {"day": "2025-01-04"}
    assert (first["logical_time"], first["data_interval_start"], first["data_interval_end"]) == (
        "2025-01-05T00:00:00+00:00",
        "2025-01-04T00:00:00+00:00",
        "2025-01-05T00:00:00+00:00",
    )
    assert first["triggered_by"] == "manual" and first["status"] == "PENDING"
    assert before <= datetime.fromisoformat(runs[2]["logical_time"]) <= after
    assert runs[2]["data_interval_end"] == runs[2]["logical_time"]
    assert runs[2]["data_interval_start"] == before.strftime("%Y-%m-%dT00:00:00+00:00")
    cli.ok("worker", "--once")
    shown = cli.ok("runs", "show", first["run_id"], "--json")["run"]
    assert shown["status"] == "COMPLETED"
    assert shown["outputs"] == {
        "logical_time": "2025-01-05T00:00:00+00:00",
        "start": "2025-01-04T00:00:00+00:00",
        "end": "2025-01-05T00:00:00+00:00",
        "day": "2025-01-04",
    }
    assert json.loads(shown["partition_key"])["logical_time"] == "2025-01-05T00:00:00+00:00"


def test_backfill_dry_runs_creates_resumes_and_never_duplicates(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    cli.ok("schedules", "add", "daily", "--workflow", "dates.echo", "--cron", "0 0 * * *",
           "--param", DAY)  # fmt: skip
    week = ["backfill", "dates.echo", "--schedule", "daily", "--from", "2025-01-01",
            "--to", "2025-01-05"]  # fmt: skip
    dry = cli.ok(*week, "--dry-run", "--json")
    assert [r["action"] for r in dry["runs"]] == ["create"] * 5
    assert [r["params"]["day"] for r in dry["runs"]] == [f"2024-12-{31}"] + [
        f"2025-01-0{d}" for d in range(1, 5)
    ]
    assert cli.ok("runs", "list", "--json") == []
    # An interrupted backfill: the first two runs made, not executed.
    partial = cli.ok(*week[:-1], "2025-01-02", "--no-wait")
    assert partial.count("  created  ") == 2, partial
    text = cli.ok(*week, "--dry-run")
    assert text.count("would create") == 3 and text.count("exists") == 2, text
    done = cli.ok(*week, "--concurrency", "2", "--json")
    assert (done["created"], done["existing"]) == (3, 2)
    assert [r["status"] for r in done["runs"]] == ["COMPLETED"] * 5
    again = cli.ok(*week)
    assert "0 runs created, 5 existed; 5 COMPLETED" in again, again
    runs = cli.ok("runs", "list", "--json")
    assert len(runs) == 5 and {r["triggered_by"] for r in runs} == {"backfill"}
    last = cli.ok("runs", "show", done["runs"][-1]["run_id"], "--json")["run"]
    assert last["outputs"]["day"] == "2025-01-04"
    assert last["outputs"]["start"] == "2025-01-04T00:00:00+00:00"


def test_an_every_backfill_renders_templates_and_skips_what_the_schedule_covered(
    cli: Cli,
) -> None:
    cli.ok("db", "upgrade")
    cli.ok("schedules", "add", "daily", "--workflow", "dates.echo", "--cron", "0 0 * * *",
           "--param", DAY)  # fmt: skip
    cli.ok("schedules", "trigger", "daily", "--at", "2025-01-02T00:00:00Z")
    every = ["backfill", "dates.echo", "--every", "1d", "--from", "2025-01-02", "--to",
             "2025-01-04", "--param", DAY]  # fmt: skip
    made = cli.ok(*every, "--json")
    assert (made["created"], made["existing"]) == (2, 1)
    assert [r["params"]["day"] for r in made["runs"]] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    failing = cli(*every[:-2], "--to", "2025-01-05", "--param", DAY,
                  "--param", "fail_day=2025-01-04")  # fmt: skip
    assert failing.code == 1, failing
    assert "1 COMPLETED, 3 FAILED" not in failing.stdout
    assert "4 runs created, 0 existed; 3 COMPLETED, 1 FAILED" in failing.stdout, failing.stdout


def test_the_readme_finra_schedule_loads_the_week_ending_the_friday_before(
    tmp_path: Path, db_url: str
) -> None:
    cli = Cli(tmp_path, db_url, "spine.examples.finra")
    cli.ok("db", "upgrade")
    cli.ok("schedules", "add", "weekly-finra", "--workflow", "finra.weekly_ingest",
           "--cron", "0 6 * * SAT", "--tz", "America/New_York", "--param", FINRA_PARAM,
           "--misfire-grace", "3600")  # fmt: skip
    saturday = cli.ok("schedules", "trigger", "weekly-finra", "--at", "2025-01-11T06:00", "--json")
    assert saturday["params"] == {"week_ending": "2025-01-10"}
    assert saturday["logical_time"] == "2025-01-11T11:00:00+00:00"
    # One run at a time, in week order: each run's checks judge the week it loaded (the
    # example's checks look at the newest week), and 2025-01-24 fails them.
    backfill = cli("backfill", "finra.weekly_ingest", "--schedule", "weekly-finra",
                   "--from", "2025-01-11", "--to", "2025-01-25T12:00", "--json")  # fmt: skip
    assert backfill.code == 1, backfill
    done = json.loads(backfill.stdout)
    assert (done["created"], done["existing"]) == (2, 1)
    assert done["runs"][0]["run_id"] == saturday["run_id"]
    assert [r["status"] for r in done["runs"]] == ["COMPLETED", "COMPLETED", "FAILED"]
    for run, week in zip(done["runs"], ["2025-01-10", "2025-01-17", "2025-01-24"], strict=True):
        shown = cli.ok("runs", "show", run["run_id"], "--json")
        assert shown["run"]["params"]["week_ending"] == week
        load = next(s for s in shown["steps"] if s["step_name"] == "load")
        assert load["output_data"]["row_count"] > 0, load
    failed = cli.ok("runs", "show", done["runs"][2]["run_id"], "--json")["run"]
    assert "finra.rows_t1" in failed["error"], failed


def test_the_scheduler_process_gives_each_fire_its_interval_and_rendered_params(
    cli: Cli,
) -> None:
    cli.ok("db", "upgrade")
    cli.ok("schedules", "add", "often", "--workflow", "dates.echo", "--every", "2",
           "--param", "day={{ data_interval_end | iso }}")  # fmt: skip
    deadline = time.monotonic() + 120
    runs: list[dict[str, Any]] = []
    while not runs and time.monotonic() < deadline:
        cli.ok("scheduler", "--once")
        runs = cli.ok("runs", "list", "--json")
    [run] = runs
    interval = json.loads(run["partition_key"])
    end = datetime.fromisoformat(interval["data_interval_end"])
    assert end == datetime.fromisoformat(interval["logical_time"])
    assert (end - datetime.fromisoformat(interval["data_interval_start"])).total_seconds() == 2
    assert run["params"] == {"day": end.isoformat()}
    assert run["triggered_by"] == "schedule"
    assert run["idempotency_key"] == f"schedule:often@{end.isoformat()}"
