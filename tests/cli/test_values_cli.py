"""Retries and JSON values through the real ``spine run``, on SQLite and PostgreSQL.

- A step that raises a plain ``ValueError`` is retried by ``RetryPolicy(max_attempts=3)``.
- A step returning NaN fails at once, naming the field, in one attempt, whatever its
  retry policy (it used to hang on PostgreSQL and store invalid JSON on SQLite).
- ``--param``/``--partition-key`` holding NaN or Infinity is one error line, exit 2,
  nothing written; ``--param k=v`` keeps ``v`` text unless it is JSON that reads back as
  written, or the workflow declares a type for ``k``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from spine.core.clock import SystemClock
from spine.core.storage import Database, create_database
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.store import RunStore
from tests.cli.spine_process import Completed, run_spines
from tests.orchestration.invariants import assert_history_consistent, assert_nothing_running

APP = textwrap.dedent(
    """
    from datetime import date

    from spine import RetryPolicy, Step, Workflow

    AGAIN = RetryPolicy(max_attempts=3, backoff_seconds=0)


    def flaky(ctx):
        if ctx.attempt < 3:
            raise ValueError(f"flaky parser, attempt {ctx.attempt}")
        return {"attempt": ctx.attempt}


    def echo(ctx):
        return dict(ctx.params)


    Workflow("values.flaky", [Step.lambda_("parse", flaky, retry=AGAIN)])
    Workflow("values.nan", [Step.lambda_("price", lambda ctx: {"x": float("nan")}, retry=AGAIN)])
    Workflow("values.echo", [Step.lambda_("echo", echo)])
    Workflow(
        "values.typed",
        [Step.lambda_("echo", echo)],
        params={"week": date, "limit": int, "code": str},
    )
    """
)

TYPED = [
    "price=1.10",
    "n=10",
    "big=1e3",
    "flag=true",
    "items=[1,2]",
    'quoted="10"',
    "word=hello",
    "week=2025-01-10",
    "limit=7",
    "code=10",
]
BAD = {
    "param NaN": (["values.echo", "--param", "x=NaN"], "--param x: NaN is not valid JSON"),
    "param Infinity nested": (
        ["values.echo", "--param", "x=[1, -Infinity]"],
        "--param x: -Infinity is not valid JSON",
    ),
    "partition key NaN": (
        ["values.echo", "--partition-key", '{"week": "2025-01-10", "ratio": NaN}'],
        "--partition-key.ratio: NaN is not valid JSON",
    ),
    "declared int": (
        ["values.typed", "--param", "limit=ten"],
        "param 'limit' must be int, e.g. 10; got 'ten'",
    ),
    "declared date": (
        ["values.typed", "--param", "week=2025-13-01"],
        "param 'week' must be date, e.g. 2025-01-10; got '2025-13-01'",
    ),
}


@pytest.fixture
def outcomes(db_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, Completed], RunStore]]:
    """Every invocation run once against one database, side by side."""
    (tmp_path / "cli_app.py").write_text(APP)
    invocations = {
        "flaky": ["values.flaky"],
        "nan": ["values.nan"],
        "typed": ["values.typed", *(a for p in TYPED for a in ("--param", p))],
        **{name: args for name, (args, _) in BAD.items()},
    }
    base = ["--database-url", db_url, "--app", "cli_app", "run"]
    done = run_spines(
        [([*base, *args], None, tmp_path) for args in invocations.values()], in_process=True
    )
    database: Database = create_database(db_url)
    try:
        yield dict(zip(invocations, done, strict=True)), RunStore(database, SystemClock())
    finally:
        database.dispose()


def run_of(store: RunStore, done: Completed) -> str:
    assert "Traceback" not in done.stdout + done.stderr
    return done.stdout.splitlines()[0]


def test_values(outcomes: tuple[dict[str, Completed], RunStore]) -> None:
    done, store = outcomes

    # A plain ValueError is retried: the third attempt succeeds.
    flaky = done["flaky"]
    assert flaky.code == 0, flaky.stderr
    run_id = run_of(store, flaky)
    steps = store.get_step_runs(run_id)
    assert [(s.attempt, s.status) for s in steps] == [
        (1, StepStatus.FAILED),
        (2, StepStatus.FAILED),
        (3, StepStatus.COMPLETED),
    ]
    assert steps[0].error == "ValueError: flaky parser, attempt 1"
    assert steps[0].error_category == "VALIDATION"  # the category recorded is unchanged
    assert store.run_row(run_id).outputs == {"attempt": 3}
    assert_history_consistent(store, run_id)

    # NaN fails the step at once, in one attempt, naming the field; never stored.
    nan = done["nan"]
    assert nan.code == 1, nan.stdout + nan.stderr
    run_id = run_of(store, nan)
    (line,) = nan.stderr.strip().splitlines()
    assert line == f"run {run_id} FAILED: step 'price' failed: outputs.x: NaN is not valid JSON"
    run = store.run_row(run_id)
    (step,) = store.get_step_runs(run_id)
    assert (run.status, run.error_category, run.error_retryable) == (
        WorkflowStatus.FAILED,
        "VALIDATION",
        False,
    )
    assert (step.status, step.attempt, step.output_data) == (StepStatus.FAILED, 1, {})
    assert step.error == "outputs.x: NaN is not valid JSON"
    assert_history_consistent(store, run_id)

    # --param: text unless JSON that reads back as written, or typed by the workflow.
    typed = done["typed"]
    assert typed.code == 0, typed.stderr
    run = store.run_row(run_of(store, typed))
    expected = {
        "price": "1.10",
        "n": 10,
        "big": "1e3",
        "flag": True,
        "items": [1, 2],
        "quoted": "10",
        "word": "hello",
        "week": "2025-01-10",
        "limit": 7,
        "code": "10",
    }
    assert run.params == expected
    assert run.outputs == expected

    # Bad values: one line, exit 2, nothing written.
    for name, (_, message) in BAD.items():
        bad = done[name]
        assert (bad.code, bad.stdout) == (2, ""), (name, bad.stdout, bad.stderr)
        (line,) = bad.stderr.strip().splitlines()
        assert line.startswith(f"error: {message}"), (name, line)
    names = [r.workflow_name for r in store.list_workflow_runs(limit=100)]
    assert sorted(names) == ["values.flaky", "values.nan", "values.typed"]
    assert_nothing_running(store.db)
