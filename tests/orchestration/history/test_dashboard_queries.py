"""The history store's reads for the dashboard, on SQLite and PostgreSQL.

Runs per day, runs by creation time (filters and keyset pages), child runs, and a run's
capped timeline; each confined to the store's workspace.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from spine.core.clock import FrozenClock
from spine.core.ids import new_id
from spine.core.storage import Database
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history import (
    HistoryStore,
    HistoryTracker,
    RunFilter,
    StepRun,
    WorkflowRun,
    WorkflowStatus,
)
from spine.tenancy import OPERATOR, Actor, TenancyService
from spine.tenancy.store import TenancyStore
from tests.orchestration.history.factories import START, History


@pytest.fixture
def theirs(db: Database, clock: FrozenClock) -> HistoryStore:
    """A history store of another organization's workspace."""
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("acme")
    workspace = tenancy.create_workspace("data", "acme", OPERATOR)
    return HistoryStore(db, clock, actor=Actor(workspace_id=workspace.id))


def _in(store: HistoryStore, history: History) -> History:
    """A factory recording runs through ``store`` (another workspace's), on the same clock."""
    made = History(store.db, history.clock)
    made.store = store
    made.tracker = HistoryTracker(store)
    return made


def _saved(history: History, **fields: Any) -> WorkflowRun:
    """A PENDING run with ``fields``, saved as it is (the tracker sets no parent)."""
    run = WorkflowRun(run_id=new_id(), workflow_name="wf", created_at=history.clock.now(), **fields)
    history.store.save_workflow_run(run)
    return run


def test_runs_per_day_counts_by_creation_day_and_status(
    history: History, theirs: HistoryStore
) -> None:
    history.record(WorkflowStatus.COMPLETED)
    history.record(WorkflowStatus.FAILED)
    history.clock.advance(86400)
    history.record(WorkflowStatus.FAILED)
    history.record(WorkflowStatus.RUNNING)
    history.clock.advance(86400 * 5)
    history.record(WorkflowStatus.COMPLETED)  # after the window
    _in(theirs, history).record(WorkflowStatus.FAILED)

    day = START.date()
    counts = history.store.runs_per_day(day, day + timedelta(days=1))
    assert counts == {
        day.isoformat(): {"COMPLETED": 1, "FAILED": 1},
        (day + timedelta(days=1)).isoformat(): {"FAILED": 1, "RUNNING": 1},
    }
    assert theirs.runs_per_day(day, day + timedelta(days=1)) == {}


def test_runs_are_paged_newest_first_and_filtered(history: History, theirs: HistoryStore) -> None:
    made = []
    for i in range(5):
        status = WorkflowStatus.FAILED if i % 2 else WorkflowStatus.COMPLETED
        made.append(history.record(status, workflow_name=f"wf.{i % 2}"))
        history.clock.advance(60)
    newest_first = [r.run_id for r in reversed(made)]
    store = history.store

    first = store.page_runs(RunFilter(), limit=2).runs
    assert [r.run_id for r in first] == newest_first[:2]
    last = first[-1]
    rest = store.page_runs(RunFilter(), before=(last.created_at, last.run_id), limit=10).runs
    assert [r.run_id for r in rest] == newest_first[2:]

    failed = store.page_runs(RunFilter(status=WorkflowStatus.FAILED), limit=10).runs
    assert [r.run_id for r in failed] == [made[3].run_id, made[1].run_id]
    assert [r.run_id for r in store.page_runs(RunFilter(workflow_name="wf.0"), limit=10).runs] == [
        made[4].run_id,
        made[2].run_id,
        made[0].run_id,
    ]
    window = RunFilter(since=made[1].created_at, until=made[3].created_at)
    assert [r.run_id for r in store.page_runs(window, limit=10).runs] == [
        made[2].run_id,
        made[1].run_id,
    ]
    assert theirs.page_runs(RunFilter(), limit=10).runs == []


def test_the_partition_filter_matches_part_of_the_key(history: History) -> None:
    store = history.store
    keyed = _saved(history, partition_key='{"logical_time":"2026-11-30T00:00:00+00:00"}')
    other = _saved(history, partition_key="50%_off")

    found = store.page_runs(RunFilter(partition="2026-11-30"), limit=10).runs
    assert [r.run_id for r in found] == [keyed.run_id]
    # LIKE's wildcards are taken literally.
    assert [r.run_id for r in store.page_runs(RunFilter(partition="%_"), limit=10).runs] == [
        other.run_id
    ]


def test_child_runs_and_a_capped_timeline(history: History, theirs: HistoryStore) -> None:
    store = history.store
    parent = history.record(steps=[f"item[{i}]" for i in range(5)])
    child = _saved(history, parent_run_id=parent.run_id)

    assert [r.run_id for r in store.child_runs(parent.run_id)] == [child.run_id]
    assert theirs.child_runs(parent.run_id) == []

    attempts, total, events = store.run_timeline(parent.run_id, steps=3, events=4)
    assert total == 5
    assert [a.step_name for a in attempts] == ["item[0]", "item[1]", "item[2]"]
    assert all(isinstance(a, StepRun) for a in attempts)
    assert len(events) == 4
    whole, total, _ = store.run_timeline(parent.run_id)
    assert (len(whole), total) == (5, 5)
    with pytest.raises(RunNotFound):
        theirs.run_timeline(parent.run_id)


def test_a_filter_no_index_serves_looks_at_a_bounded_number_of_runs(history: History) -> None:
    made = []
    for i in range(5):
        made.append(_saved(history, partition_key=f"p{i}", status=WorkflowStatus.FAILED))
        history.clock.advance(1)
    store = history.store

    page = store.page_runs(RunFilter(partition="p0"), limit=10, budget=2)
    assert page.runs == []
    assert page.searched_to == (made[3].created_at, made[3].run_id)
    page = store.page_runs(RunFilter(partition="p0"), before=page.searched_to, limit=10, budget=2)
    assert page.runs == [] and page.searched_to == (made[1].created_at, made[1].run_id)
    page = store.page_runs(RunFilter(partition="p0"), before=page.searched_to, limit=10, budget=2)
    assert [r.run_id for r in page.runs] == [made[0].run_id] and page.searched_to is None
    # A full page needs no resume point; nor does a search that saw every run.
    page = store.page_runs(RunFilter(partition="p"), limit=2, budget=3)
    assert [r.run_id for r in page.runs] == [made[4].run_id, made[3].run_id]
    assert page.searched_to is None
    both = RunFilter(workflow_name="wf", status=WorkflowStatus.FAILED)
    page = store.page_runs(both, limit=10, budget=10)
    assert len(page.runs) == 5 and page.searched_to is None
