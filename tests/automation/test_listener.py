"""Spine's own runs, check results and incidents are recorded in the transaction of the change."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from spine import Step, Workflow
from spine.automation.capture import EntityService
from spine.automation.models import Change, Operation
from spine.automation.store.changes import ChangeLog
from spine.automation.store.entities import EntityStore
from spine.bootstrap import Services, build, event_listeners
from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.core.events import EventType
from spine.core.storage import Database
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.tenancy import DEFAULT_WORKSPACE_ID, OPERATOR, Actor, TenancyService
from spine.tenancy.store import TenancyStore
from tests.event_recorder import Abort, Aborter

START = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def entities(db: Database, clock: FrozenClock) -> EntityService:
    return EntityService(EntityStore(db, clock))


@pytest.fixture
def workflows() -> WorkflowRegistry:
    registry = WorkflowRegistry()
    Workflow("ok", [Step.lambda_("a", lambda ctx: None)], registry=registry)
    Workflow("bad", [Step.lambda_("a", _boom)], registry=registry)
    return registry


def _boom(ctx: Any) -> None:
    raise ValueError("bad row")


def _runner(db: Database, clock: FrozenClock, workflows: WorkflowRegistry) -> WorkflowRunner:
    # bootstrap's listeners: the wiring under test.
    store = RunStore(db, clock, listeners=event_listeners(clock))
    return WorkflowRunner(
        store, clock=clock, workflow_registry=workflows, pipeline_registry=PipelineRegistry()
    )


def _changes(db: Database) -> list[Change]:
    log = ChangeLog(db)
    log.sequence()
    return log.read(0, 1000)


def test_a_finished_run_of_a_watched_table_records_one_change(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, entities: EntityService
) -> None:
    entities.watch("core_workflow_runs")
    run = _runner(db, clock, workflows).run("bad")

    [change] = _changes(db)
    assert (change.table_name, change.operation) == ("core_workflow_runs", Operation.UPDATE)
    assert change.workspace_id == DEFAULT_WORKSPACE_ID
    assert change.new is not None and change.old is not None
    assert change.new["run_id"] == run.run_id and change.new["workflow_name"] == "bad"
    assert (change.old["status"], change.new["status"]) == ("RUNNING", "FAILED")
    assert change.old["completed_at"] is None and change.new["completed_at"] is not None
    assert "bad row" in change.new["error"]


def test_an_unwatched_table_records_nothing(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, entities: EntityService
) -> None:
    runner = _runner(db, clock, workflows)
    runner.run("ok")
    entities.watch("core_workflow_runs")
    entities.unwatch("core_workflow_runs")
    runner.run("ok")
    assert _changes(db) == []


def test_another_workspaces_watch_does_not_record_this_ones_runs(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, entities: EntityService
) -> None:
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("acme")
    other = Actor(workspace_id=tenancy.create_workspace("data", "acme", OPERATOR).id)
    EntityService(entities.store.acting_as(other)).watch("core_workflow_runs")
    _runner(db, clock, workflows).run("ok")
    assert _changes(db) == []


def test_the_change_is_written_in_the_finishing_transaction(
    db: Database, clock: FrozenClock, workflows: WorkflowRegistry, entities: EntityService
) -> None:
    entities.watch("core_workflow_runs")
    run = _runner(db, clock, workflows).submit("ok")
    aborting = RunStore(
        db, clock, listeners=[*event_listeners(clock), Aborter(EventType.RUN_FINISHED)]
    )
    with pytest.raises(Abort):
        aborting.request_cancel(run.run_id)
    assert _changes(db) == []

    RunStore(db, clock, listeners=event_listeners(clock)).request_cancel(run.run_id)
    [change] = _changes(db)
    assert change.old is not None and change.new is not None
    assert (change.old["status"], change.new["status"]) == ("PENDING", "CANCELLED")


# ---------------------------------------------------------------- quality


@pytest.fixture
def services(db_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Services]:
    """Services with connection ``shop``: a user's SQLite file with 20 orders."""
    target = tmp_path / "shop.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO orders VALUES (?)", [(i,) for i in range(20)])
    settings = load_settings(
        database_url=db_url,
        secret_key=Fernet.generate_key().decode(),
        sources_cache_dir=str(tmp_path / "cache"),
    )
    made = build(settings, clock=clock)
    made.sources.connections.add("shop", dialect="sqlite", database=str(target))
    yield made
    made.close()


def test_check_results_and_incidents_are_recorded_when_watched(services: Services) -> None:
    quality = services.quality
    quality.add_check(
        "rows_max", connection="shop", check_type="row_count", table="orders", config={"max": 5}
    )
    services.automation.entities.watch("check_results")
    services.automation.entities.watch("incidents")
    [outcome] = quality.run_checks(["rows_max"])
    assert outcome.incident is not None
    incident_id = str(outcome.incident.id)
    quality.acknowledge(incident_id, by="ana")
    quality.resolve(incident_id, notes="fixed")

    changes = _changes(services.database)
    assert [(c.table_name, c.operation) for c in changes] == [
        ("check_results", Operation.INSERT),
        ("incidents", Operation.INSERT),
        ("incidents", Operation.UPDATE),
        ("incidents", Operation.UPDATE),
    ]
    result, created, acked, resolved = changes
    assert result.new is not None and result.new["rule_passed"] is False
    assert created.new is not None and created.new["status"] == "open"
    assert acked.old is not None and acked.new is not None
    assert (acked.old["status"], acked.new["status"]) == ("open", "acknowledged")
    assert acked.new["acknowledged_by"] == "ana"
    assert resolved.old is not None and resolved.new is not None
    assert (resolved.old["status"], resolved.new["status"]) == ("acknowledged", "resolved")
    assert {c.workspace_id for c in changes} == {DEFAULT_WORKSPACE_ID}


def test_unwatched_check_results_record_nothing(services: Services) -> None:
    services.quality.add_check(
        "rows_max", connection="shop", check_type="row_count", table="orders", config={"max": 5}
    )
    services.quality.run_checks(["rows_max"])
    assert _changes(services.database) == []
