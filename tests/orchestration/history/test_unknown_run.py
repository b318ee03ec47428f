"""Writing a step or an event for a run that does not exist names the run."""

from __future__ import annotations

import pytest

from spine.core.storage import Database
from spine.orchestration.errors import RunNotFound
from spine.orchestration.history import HistoryStore, StepRun


def test_step_of_unknown_run_raises_run_not_found(db: Database) -> None:
    store = HistoryStore(db)
    with pytest.raises(RunNotFound, match="nope"):
        store.save_step_run(
            StepRun(step_id="s1", run_id="nope", step_name="a", step_type="lambda", step_order=0)
        )


def test_event_of_unknown_run_raises_run_not_found(db: Database) -> None:
    store = HistoryStore(db)
    with pytest.raises(RunNotFound, match="nope"):
        store.record_event("nope", "custom.thing", {"x": 1})
