"""Idempotent starts: one run per workflow and idempotency key; steps' side-effect keys."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from spine import RetryPolicy, Step, Workflow
from spine.core.clock import FrozenClock
from spine.core.errors import InvalidInput
from spine.core.storage import Database, create_database
from spine.core.storage.schema.workflow_history import core_workflow_runs
from spine.orchestration.history import WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from tests.orchestration.invariants import assert_history_consistent, event_types


def runs_of(db: Database, workflow_name: str) -> list[sa.RowMapping]:
    query = sa.select(core_workflow_runs).where(core_workflow_runs.c.workflow_name == workflow_name)
    with db.read() as conn:
        return list(conn.execute(query).mappings())


def test_a_used_key_returns_the_existing_run_and_writes_nothing(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore, db: Database
) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)

    first = runner.submit("wf", {"n": 1}, idempotency_key="2025-01-10")
    again = runner.submit("wf", {"n": 2}, idempotency_key="2025-01-10")

    assert again.run_id == first.run_id
    assert again.params == {"n": 1}  # the stored run, as it is
    assert again.idempotency_key == "2025-01-10"
    assert len(runs_of(db, "wf")) == 1
    assert event_types(store, first.run_id) == ["run.created"]
    created = store.get_events(first.run_id)[0]
    assert created.payload["idempotency_key"] == "2025-01-10"
    stats = store.get_run_statistics(workflow_name="wf")
    assert (stats["total_runs"], stats["pending"]) == (1, 1)


def test_the_same_key_with_another_workflow_is_another_run(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    Workflow("wf.one", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    Workflow("wf.two", [Step.lambda_("a", lambda ctx: None)], registry=workflows)

    one = runner.submit("wf.one", idempotency_key="k")
    two = runner.submit("wf.two", idempotency_key="k")

    assert one.run_id != two.run_id
    assert runner.submit("wf.two", idempotency_key="k").run_id == two.run_id


def test_runs_without_a_key_are_never_merged(
    runner: WorkflowRunner, workflows: WorkflowRegistry, db: Database
) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)

    runner.submit("wf")
    runner.submit("wf")

    assert [row["idempotency_key"] for row in runs_of(db, "wf")] == [None, None]


def test_five_concurrent_submissions_with_one_key_make_one_run(
    db_url: str,
    db: Database,
    clock: FrozenClock,
    workflows: WorkflowRegistry,
) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)
    # Each submitter has its own engine, as separate processes would.
    databases = [create_database(db_url) for _ in range(5)]
    runners = [WorkflowRunner(RunStore(d, clock), workflow_registry=workflows) for d in databases]
    barrier = threading.Barrier(len(runners))
    run_ids: list[str] = []
    errors: list[BaseException] = []

    def submit(runner: WorkflowRunner) -> None:
        try:
            barrier.wait()
            run_ids.append(runner.submit("wf", idempotency_key="once").run_id)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(r,)) for r in runners]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for database in databases:
            database.dispose()

    assert errors == []
    rows = runs_of(db, "wf")
    assert len(rows) == 1
    assert run_ids == [rows[0]["run_id"]] * 5
    store = RunStore(db, clock)
    assert event_types(store, rows[0]["run_id"]) == ["run.created"]
    assert store.get_run_statistics(workflow_name="wf")["total_runs"] == 1


def test_run_with_a_used_key_returns_the_finished_run_without_running_it_again(
    runner: WorkflowRunner, workflows: WorkflowRegistry, store: RunStore
) -> None:
    calls: list[str] = []
    Workflow("wf", [Step.lambda_("a", lambda ctx: calls.append(ctx.run_id))], registry=workflows)

    first = runner.run("wf", idempotency_key="k")
    again = runner.run("wf", idempotency_key="k")

    assert first.status is again.status is WorkflowStatus.COMPLETED
    assert again.run_id == first.run_id
    assert calls == [first.run_id]
    assert again.to_dict()["idempotency_key"] == "k"
    assert_history_consistent(store, first.run_id)


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_an_empty_or_too_long_key_is_refused(
    runner: WorkflowRunner, workflows: WorkflowRegistry, key: str
) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)

    with pytest.raises(InvalidInput, match="idempotency key must be 1 to 255 characters"):
        runner.submit("wf", idempotency_key=key)


def test_a_255_character_key_is_stored(runner: WorkflowRunner, workflows: WorkflowRegistry) -> None:
    Workflow("wf", [Step.lambda_("a", lambda ctx: None)], registry=workflows)

    run = runner.submit("wf", idempotency_key="x" * 255)

    assert runner.store.run_row(run.run_id).idempotency_key == "x" * 255


# ---------------------------------------------------------------- ctx.idempotency_key


def recording(keys: dict[str, list[str]], fail_first: int = 0) -> Callable[[Any], None]:
    def step(ctx: Any) -> None:
        seen = keys.setdefault(ctx.step_name, [])
        seen.append(ctx.idempotency_key)
        if len(seen) <= fail_first:
            raise ConnectionError("reset by peer")

    return step


def test_step_key_is_stable_across_retries_and_differs_between_steps_and_runs(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    keys: dict[str, list[str]] = {}
    retry = RetryPolicy(max_attempts=3, backoff_seconds=0.1, jitter=0)
    Workflow(
        "wf",
        [
            Step.lambda_("charge", recording(keys, fail_first=2), retry=retry),
            Step.lambda_("notify", recording(keys)),
        ],
        registry=workflows,
    )

    first = runner.run("wf")
    first_keys = {name: list(seen) for name, seen in keys.items()}
    keys.clear()
    second = runner.run("wf")

    assert first.status is second.status is WorkflowStatus.COMPLETED
    assert first_keys["charge"] == [f"{first.run_id}:charge"] * 3
    assert first_keys["notify"] == [f"{first.run_id}:notify"]
    assert keys["charge"] == [f"{second.run_id}:charge"] * 3
    assert keys["charge"][0] != first_keys["charge"][0]


def test_step_key_is_stable_across_a_parked_retry(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    # A back-off longer than the inline limit parks the run: the retry is another claim.
    keys: dict[str, list[str]] = {}
    retry = RetryPolicy(max_attempts=2, backoff_seconds=60, jitter=0)
    Workflow(
        "wf",
        [Step.lambda_("charge", recording(keys, fail_first=1), retry=retry)],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    assert keys["charge"] == [f"{run.run_id}:charge"] * 2


def test_map_items_have_keys_of_their_own(
    runner: WorkflowRunner, workflows: WorkflowRegistry
) -> None:
    keys: dict[str, list[str]] = {}
    Workflow(
        "wf",
        [Step.map("send", lambda ctx: ["a", "b", "c"], Step.lambda_("one", recording(keys)))],
        registry=workflows,
    )

    run = runner.run("wf")

    assert run.status is WorkflowStatus.COMPLETED
    assert sorted(k for seen in keys.values() for k in seen) == [
        f"{run.run_id}:send[0]",
        f"{run.run_id}:send[1]",
        f"{run.run_id}:send[2]",
    ]
