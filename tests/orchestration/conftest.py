"""Fixtures for the workflow engine: a frozen clock, a run store, fresh registries, a runner.

Every test defines its workflows in the ``workflows`` registry (and pipelines in
``pipelines``) that the ``runner`` looks in, so no name leaks from one test to another.
The store and the runner share a :class:`FrozenClock`: waits and back-offs advance it
instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore

START = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    """Time that moves only when the engine sleeps or the test advances it."""
    return FrozenClock(START)


@pytest.fixture
def store(db: Database, clock: FrozenClock) -> RunStore:
    """The run store on a fresh database (SQLite and PostgreSQL)."""
    return RunStore(db, clock)


@pytest.fixture
def workflows() -> WorkflowRegistry:
    """A registry of this test's own workflows."""
    return WorkflowRegistry()


@pytest.fixture
def pipelines() -> PipelineRegistry:
    """A registry of this test's own pipelines."""
    return PipelineRegistry()


@pytest.fixture
def make_runner(
    store: RunStore,
    clock: FrozenClock,
    workflows: WorkflowRegistry,
    pipelines: PipelineRegistry,
) -> Callable[..., WorkflowRunner]:
    """``make_runner(**overrides)``: a runner over this test's registries and clock."""

    def make(**overrides: Any) -> WorkflowRunner:
        options: dict[str, Any] = {
            "clock": clock,
            "workflow_registry": workflows,
            "pipeline_registry": pipelines,
            **overrides,
        }
        return WorkflowRunner(store, **options)

    return make


@pytest.fixture
def runner(make_runner: Callable[..., WorkflowRunner]) -> WorkflowRunner:
    """A runner with the default lease and back-off settings."""
    return make_runner()
