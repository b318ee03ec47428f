"""``spine run``, ``spine worker`` and ``spine runs ...``, through the real console script.

Invocations that do not depend on each other run side by side (start-up is most of
their time), each in its own working directory with its own copy of a migrated SQLite
database; one test repeats the main path on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spine import Step, Workflow
from spine.core.clock import FrozenClock, SystemClock
from spine.core.storage import Database, create_database
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.cli.spine_process import Completed, run_spine, run_spines
from tests.orchestration.invariants import assert_history_consistent, assert_nothing_running

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

APP = textwrap.dedent(
    """
    import subprocess
    import sys
    from pathlib import Path

    from spine import Step, Workflow


    def greet(ctx):
        return {"greeting": f"hello {ctx.params.get('name', 'world')}", "n": ctx.params.get("n")}


    def parse(ctx):
        raise ValueError("bad week_ending '2025-13-01'")


    def cancel_myself(ctx):
        spine = Path(sys.executable).parent / "spine"
        subprocess.run([str(spine), "runs", "cancel", ctx.run_id], check=True, timeout=60)
        return {}


    Workflow("demo.hello", [Step.lambda_("greet", greet)], domain="demo")
    Workflow("demo.boom", [Step.lambda_("parse", parse)], domain="demo")
    Workflow("demo.nondict", [Step.lambda_("oops", lambda ctx: 42)])
    Workflow("demo.cancel", [Step.lambda_("cancel", cancel_myself), Step.lambda_("never", greet)])
    """
)


@dataclass(frozen=True, slots=True)
class Case:
    args: tuple[str, ...]
    app: bool = True  # pass --app cli_app
    env: bool = False  # give the database and the app through SPINE_* variables


OK_CASES = {
    "completed": Case(
        (
            "run",
            "demo.hello",
            "--param",
            "name=finra",
            "--param",
            "n=3",
            "--partition-key",
            '{"week_ending": "2025-01-10", "tier": "T1"}',
        )
    ),
    "failed": Case(("run", "demo.boom")),
    "non-dict": Case(("run", "demo.nondict")),
    "cancelled": Case(("run", "demo.cancel"), app=False, env=True),
    "no-wait": Case(("run", "demo.hello", "--no-wait")),
}
BAD_CASES = {
    "unknown workflow": (Case(("run", "nope")), "unknown workflow 'nope' (known: demo."),
    "param without =": (
        Case(("run", "demo.hello", "--param", "novalue")),
        "bad --param 'novalue': expected key=value",
    ),
    "partition key not JSON": (
        Case(("run", "demo.hello", "--partition-key", "{week")),
        "--partition-key is not valid JSON",
    ),
    "bad status": (Case(("runs", "list", "--status", "DONE")), "unknown status 'DONE'"),
    "bad since": (
        Case(("runs", "list", "--since", "yesterday")),
        "--since 'yesterday' is not an ISO-8601 time",
    ),
    "show unknown run": (
        Case(("runs", "show", "01J0000000000000000000000X")),
        "unknown run '01J0000000000000000000000X'",
    ),
    "cancel unknown run": (
        Case(("runs", "cancel", "01J0000000000000000000000X")),
        "unknown run '01J0000000000000000000000X'",
    ),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    done: Completed
    url: str
    cwd: Path


def prepare(cwd: Path, template: Path) -> str:
    """A working directory with the app module and a migrated database; return its URL."""
    shutil.copyfile(template, cwd / "spine.db")
    (cwd / "cli_app.py").write_text(APP)
    return f"sqlite:///{cwd / 'spine.db'}"


def invocation(case: Case, url: str) -> tuple[list[str], dict[str, str] | None]:
    if case.env:
        return list(case.args), {"SPINE_DATABASE_URL": url, "SPINE_APP": "cli_app"}
    app = ["--app", "cli_app"] if case.app else []
    return ["--database-url", url, *app, *case.args], None


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> dict[str, Outcome]:
    """Every independent case, run once, side by side."""
    cases = {**OK_CASES, **{name: case for name, (case, _) in BAD_CASES.items()}}
    invocations = []
    places = []
    for index, case in enumerate(cases.values()):
        cwd = tmp_path_factory.mktemp(f"run{index}")
        url = prepare(cwd, sqlite_template)
        args, env = invocation(case, url)
        invocations.append((args, env, cwd))
        places.append((url, cwd))
    # In-process but for the run whose step cancels it through a `spine` process of its
    # own: that process writes to the run's stdout, which must be a real one.
    real = list(cases).index("cancelled")
    results = run_spines(invocations[:real] + invocations[real + 1 :], in_process=True)
    args, env, cwd = invocations[real]
    results.insert(real, run_spine(*args, cwd=cwd, env=env))
    return {
        name: Outcome(done, url, cwd)
        for name, done, (url, cwd) in zip(cases, results, places, strict=True)
    }


@pytest.fixture
def open_db() -> Iterator[list[Database]]:
    opened: list[Database] = []
    yield opened
    for database in opened:
        database.dispose()


def store_at(url: str, opened: list[Database], clock: object = None) -> RunStore:
    database = create_database(url)
    opened.append(database)
    return RunStore(database, clock or SystemClock())  # type: ignore[arg-type]


def test_run_prints_the_id_first_and_exits_0_when_completed(
    outcomes: dict[str, Outcome], open_db: list[Database]
) -> None:
    outcome = outcomes["completed"]
    lines = outcome.done.stdout.splitlines()

    assert outcome.done.code == 0, outcome.done.stderr
    assert ULID.match(lines[0])
    assert re.fullmatch(rf"run {lines[0]} COMPLETED in \d+\.\d{{3}}s", lines[-1])
    store = store_at(outcome.url, open_db)
    run = store.run_row(lines[0])
    assert run.status is WorkflowStatus.COMPLETED
    assert run.params == {"name": "finra", "n": 3}
    assert json.loads(run.partition_key or "") == {"week_ending": "2025-01-10", "tier": "T1"}
    assert run.outputs == {"greeting": "hello finra", "n": 3}
    assert (run.domain, run.triggered_by) == ("demo", "manual")
    assert_history_consistent(store, run.run_id)


@pytest.mark.parametrize(
    ("case", "error", "category"),
    [
        ("failed", "ValueError: bad week_ending '2025-13-01'", "VALIDATION"),
        ("non-dict", "step 'oops' returned int; a step returns a dict or None", "VALIDATION"),
    ],
)
def test_failing_step_exits_1_with_its_error_recorded(
    outcomes: dict[str, Outcome], open_db: list[Database], case: str, error: str, category: str
) -> None:
    outcome = outcomes[case]

    assert outcome.done.code == 1
    assert "Traceback" not in outcome.done.stdout + outcome.done.stderr
    run_id = outcome.done.stdout.splitlines()[0]
    summary = outcome.done.stderr.strip().splitlines()
    assert len(summary) == 1, outcome.done.stderr
    assert summary[0].startswith(f"run {run_id} FAILED: step ")
    assert error in summary[0]
    store = store_at(outcome.url, open_db)
    run = store.run_row(run_id)
    (step,) = store.get_step_runs(run_id)
    assert (step.status, step.error, step.error_category) == (StepStatus.FAILED, error, category)
    assert run.status is WorkflowStatus.FAILED
    assert run.error is not None and error in run.error
    assert (run.error_category, run.failed_steps) == (category, 1)
    assert_nothing_running(store.db)


def test_run_cancelled_while_running_exits_1(
    outcomes: dict[str, Outcome], open_db: list[Database]
) -> None:
    outcome = outcomes["cancelled"]

    assert outcome.done.code == 1, outcome.done.stderr
    run_id = outcome.done.stdout.splitlines()[0]
    assert f"run {run_id} will be cancelled at its next step" in outcome.done.stdout
    assert outcome.done.stderr.strip() == f"run {run_id} CANCELLED: cancelled"
    store = store_at(outcome.url, open_db)
    assert store.run_row(run_id).status is WorkflowStatus.CANCELLED
    assert [s.step_name for s in store.get_step_runs(run_id)] == ["cancel"]
    assert_nothing_running(store.db)


def test_no_wait_leaves_the_run_pending_for_a_worker(
    outcomes: dict[str, Outcome], open_db: list[Database]
) -> None:
    outcome = outcomes["no-wait"]
    run_id = outcome.done.stdout.strip()

    assert outcome.done.code == 0
    assert ULID.match(run_id) and outcome.done.stdout == f"{run_id}\n"
    store = store_at(outcome.url, open_db)
    assert store.run_row(run_id).status is WorkflowStatus.PENDING

    worker = run_spine(
        "--database-url", outcome.url, "--app", "cli_app", "worker", "--once", cwd=outcome.cwd
    )

    assert worker.code == 0, worker.stderr
    assert "worker stopped after 1 run executions" in worker.stdout
    assert store.run_row(run_id).status is WorkflowStatus.COMPLETED


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_and_exit_2(outcomes: dict[str, Outcome], case: str) -> None:
    done = outcomes[case].done

    assert "Traceback" not in done.stdout + done.stderr
    assert (done.code, done.stdout) == (2, ""), done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert BAD_CASES[case][1] in lines[0]


# ---------------------------------------------------------------------- runs ...


def seed(store: RunStore, old_clock: FrozenClock) -> dict[str, str]:
    """Runs of three workflows, some from January 2025, some from now; return their ids."""
    registry = WorkflowRegistry()

    def boom(ctx: object) -> None:
        raise ConnectionError("peer reset")

    Workflow(
        "demo.hello", [Step.lambda_("greet", lambda ctx: {})], domain="demo", registry=registry
    )
    Workflow("demo.boom", [Step.lambda_("parse", boom)], domain="demo", registry=registry)
    Workflow("other.job", [Step.lambda_("x", lambda ctx: None)], domain="other", registry=registry)
    old = WorkflowRunner(RunStore(store.db, old_clock), workflow_registry=registry)
    new = WorkflowRunner(store, workflow_registry=registry)
    return {
        "old": old.run("demo.hello").run_id,
        "old-failed": old.run("demo.boom").run_id,
        "new": new.run("demo.hello").run_id,
        "new-failed": new.run("demo.boom").run_id,
        "other": new.run("other.job").run_id,
        "pending": new.submit("demo.hello").run_id,
    }


def test_runs_list_show_stats_cancel_and_prune(
    tmp_path: Path, sqlite_template: Path, open_db: list[Database]
) -> None:
    january = FrozenClock(datetime(2025, 1, 10, 12, tzinfo=UTC))
    (tmp_path / "reads").mkdir()
    (tmp_path / "writes").mkdir()
    url = prepare(tmp_path / "reads", sqlite_template)
    ids = seed(store_at(url, open_db), january)
    write_url = prepare(tmp_path / "writes", sqlite_template)
    writes = store_at(write_url, open_db)
    write_ids = seed(writes, january)
    queries = {
        "all": [url, "runs", "list", "--json"],
        "failed": [url, "runs", "list", "--status", "failed", "--json"],
        "workflow": [url, "runs", "list", "--workflow", "demo.boom", "--limit", "1", "--json"],
        "domain": [url, "runs", "list", "--domain", "demo", "--since", "2025-06-01", "--json"],
        "show": [url, "runs", "show", ids["new-failed"], "--json"],
        "show-table": [url, "runs", "show", ids["new"]],
        "stats": [url, "runs", "stats", "--workflow", "demo.boom", "--json"],
        "stats-since": [url, "runs", "stats", "--since", "2025-06-01T00:00:00Z", "--json"],
        "cancel-finished": [url, "runs", "cancel", ids["new"]],
        "cancel": [write_url, "runs", "cancel", write_ids["pending"]],
        "prune": [write_url, "runs", "prune", "--older-than-days", "30", "--yes"],
    }

    done = dict(
        zip(
            queries,
            run_spines(
                [(["--database-url", *q], None, tmp_path) for q in queries.values()],
                in_process=True,
            ),
            strict=True,
        )
    )

    def listed(name: str) -> list[str]:
        assert done[name].code == 0, done[name].stderr
        return [run["run_id"] for run in json.loads(done[name].stdout)]

    newest_first = ("pending", "other", "new-failed", "new", "old-failed", "old")
    assert listed("all") == [ids[k] for k in newest_first]
    assert set(listed("failed")) == {ids["old-failed"], ids["new-failed"]}
    assert listed("workflow") == [ids["new-failed"]]
    assert set(listed("domain")) == {ids["new"], ids["new-failed"]}
    shown = json.loads(done["show"].stdout)
    assert set(shown) == {"run", "steps", "events"}
    assert shown["run"]["error"] == "step 'parse' failed: ConnectionError: peer reset"
    assert shown["run"]["error_category"] == "NETWORK"
    assert [s["status"] for s in shown["steps"]] == ["FAILED"]
    assert [e["event_type"] for e in shown["events"]][-1] == "run.failed"
    table = done["show-table"]
    assert table.code == 0 and "Events" in table.stdout and "run.completed" in table.stdout
    stats = json.loads(done["stats"].stdout)
    assert (stats["total_runs"], stats["completed"], stats["failed"]) == (2, 0, 2)
    recent = json.loads(done["stats-since"].stdout)  # by creation time
    assert (recent["total_runs"], recent["completed"], recent["failed"], recent["pending"]) == (
        4,
        2,
        1,
        1,
    )
    refused = done["cancel-finished"]
    assert refused.code == 2
    assert refused.stderr.strip() == f"error: run {ids['new']} is already COMPLETED"
    cancel, prune = done["cancel"], done["prune"]
    assert (cancel.code, cancel.stdout) == (0, f"run {write_ids['pending']} CANCELLED\n")
    assert writes.run_row(write_ids["pending"]).status is WorkflowStatus.CANCELLED
    assert (prune.code, prune.stdout) == (0, "deleted 2 runs\n")
    assert writes.get_workflow_run(write_ids["old"]) is None
    assert writes.get_workflow_run(write_ids["old-failed"]) is None
    assert writes.get_events(write_ids["old"]) == []
    assert writes.run_row(write_ids["new"]).status is WorkflowStatus.COMPLETED
