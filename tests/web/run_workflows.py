"""Workflows the runs and overview pages' tests run, and runs seeded with them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from spine import Step, Workflow
from spine.orchestration.history import WorkflowRun, WorkflowStatus
from spine.orchestration.registry import workflows
from spine.orchestration.retry import RetryPolicy
from tests.web.conftest import Workspace

ETL = "web_tests.etl"
PAUSE = "web_tests.pause"


def _extract(ctx: Any) -> dict[str, Any]:
    if ctx.attempt == 1:
        raise ConnectionError("the source timed out")
    return {"rows": 3}


def _load(ctx: Any) -> dict[str, Any]:
    if ctx.params.get("fail"):
        raise ValueError("bad rows in batch 7")
    return {"loaded": 3}


@contextmanager
def registered() -> Iterator[None]:
    """A two-step workflow whose first step fails once, and one that waits an hour."""
    retry = RetryPolicy(max_attempts=2, backoff_seconds=0, jitter=0)
    Workflow(
        ETL,
        [Step.lambda_("extract", _extract, retry=retry), Step.lambda_("load", _load)],
        params={"fail": bool},
    )
    Workflow(PAUSE, [Step.wait("pause", seconds=3600)])
    try:
        yield
    finally:
        workflows._workflows.pop(ETL, None)
        workflows._workflows.pop(PAUSE, None)


def seed_runs(workspace: Workspace) -> dict[str, WorkflowRun]:
    """A failed run (a retried step, then a failed one), a completed one, a pending one."""
    runner = workspace.services.runner()
    failed = runner.run(ETL, {"fail": True}, partition_key="2026-11-29")
    completed = runner.run(ETL, {"fail": False}, partition_key="2026-11-30")
    pending = runner.submit(PAUSE)
    assert failed.status is WorkflowStatus.FAILED
    assert completed.status is WorkflowStatus.COMPLETED
    return {"failed": failed, "completed": completed, "pending": pending}
