"""Retention (``HistoryStore.delete_old_runs``): terminal runs only, in batches, live."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest

from spine.core.errors import InvalidInput
from spine.core.storage import Database
from spine.orchestration.history import HistoryStore, HistoryTracker, WorkflowStatus
from tests.orchestration.history.factories import History

FINISHED = (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)


def test_delete_old_runs_takes_old_terminal_runs_with_steps_and_events_in_batches(
    history: History,
) -> None:
    old = [history.record(status, steps=("fetch", "load")) for status in (FINISHED * 2)[:5]]
    old_running = history.record(WorkflowStatus.RUNNING, steps=("fetch",))
    history.clock.advance(timedelta(days=91))
    recent = history.record(WorkflowStatus.COMPLETED)
    assert all(history.all_rows(run.run_id) == (1, 2, 6) for run in old)

    deleted = history.store.delete_old_runs(90, batch_size=2)

    assert deleted == 5
    assert [history.all_rows(run.run_id) for run in old] == [(0, 0, 0)] * 5
    kept = {run.run_id for run in history.store.list_workflow_runs()}
    assert kept == {old_running.run_id, recent.run_id}
    assert history.all_rows(old_running.run_id) == (1, 1, 3)
    assert history.all_rows(recent.run_id) == (1, 1, 4)


def test_delete_old_runs_keeps_runs_that_are_not_finished(history: History) -> None:
    running = history.record(WorkflowStatus.RUNNING)
    pending = history.tracker.track_workflow("finra.weekly_ingest").run
    history.store.save_workflow_run(pending)
    history.clock.advance(timedelta(days=400))

    assert history.store.delete_old_runs(90) == 0

    assert {r.run_id: r.status for r in history.store.list_workflow_runs()} == {
        running.run_id: WorkflowStatus.RUNNING,
        pending.run_id: WorkflowStatus.PENDING,
    }


def test_delete_old_runs_keeps_runs_younger_than_the_cutoff(history: History) -> None:
    old = history.record()
    history.clock.advance(timedelta(days=3))
    young = history.record()
    history.clock.advance(timedelta(days=2))

    assert history.store.delete_old_runs(4) == 1

    assert [r.run_id for r in history.store.list_workflow_runs()] == [young.run_id]
    assert history.store.get_workflow_run(old.run_id) is None


@pytest.mark.parametrize("backend", ["sqlite"])  # refused before any query
def test_delete_old_runs_refuses_negative_days_and_empty_batches(history: History) -> None:
    history.record()
    with pytest.raises(InvalidInput, match="days"):
        history.store.delete_old_runs(-1)
    with pytest.raises(InvalidInput, match="batch_size"):
        history.store.delete_old_runs(0, batch_size=0)  # would loop for ever
    assert history.store.count_workflow_runs() == 1


def test_delete_old_runs_while_a_writer_records_new_runs(history: History, db: Database) -> None:
    statuses = itertools.islice(itertools.cycle(FINISHED), 60)
    old = [history.record(status, seconds=1) for status in statuses]
    old_running = history.record(WorkflowStatus.RUNNING)
    history.clock.advance(timedelta(days=100))

    # The writer has its own store, as a worker process would; both share the clock.
    writer = HistoryTracker(HistoryStore(db, clock=history.clock))
    written: list[str] = []
    errors: list[BaseException] = []
    writing = threading.Event()
    done = threading.Event()

    def write() -> None:
        try:
            while not done.is_set() or len(written) < 20:
                with writer.track_workflow("finra.live", domain="finra") as run:
                    with run.track_step("fetch", "lambda") as step:
                        step.record_records(1)
                    writing.set()
                written.append(run.run_id)
        except BaseException as error:
            errors.append(error)
        finally:
            writing.set()

    thread = threading.Thread(target=write, name="history-writer")
    thread.start()
    try:
        assert writing.wait(30)
        deleted = history.store.delete_old_runs(90, batch_size=4)
    finally:
        done.set()
        thread.join(60)
    assert not thread.is_alive()

    assert errors == []
    assert deleted == len(old)
    assert all(history.all_rows(run.run_id) == (0, 0, 0) for run in old)
    remaining = history.store.list_workflow_runs(limit=10_000)
    assert {r.run_id for r in remaining} == {*written, old_running.run_id}
    for run_id in written:
        assert history.all_rows(run_id) == (1, 1, 4)
