"""A run whose write fails because the database went away is handed back, not lost.

PostgreSQL behind a loopback proxy that the run's first step cuts (the shared server is
never stopped) and a timer restores a few seconds later, longer than
``Database.run_write`` retries on its own. The worker's execution stops, waits for the
database, ends the run's lease at once (5 minutes would outlast the test), and logs the
outage once and its end once; the worker claims the run again, records the attempt that
was under way as interrupted, and finishes the run from its committed steps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from spine import Step, Workflow
from spine.core.clock import SystemClock
from spine.core.storage import create_database
from spine.orchestration.history.types import StepStatus, WorkflowStatus
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore
from spine.orchestration.worker import Worker
from tests.cli.tcp_proxy import TcpProxy

OUTAGE_SECONDS = 4.0  # past run_write's own retries (about 2 s)


@pytest.fixture
def proxy(db_url: str) -> Iterator[TcpProxy]:
    url = sa.make_url(db_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.restore()
    yield proxy
    proxy.cut()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_run_cut_off_from_the_database_is_handed_back_and_resumed(
    db_url: str, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    direct = create_database(db_url)
    database = create_database(proxy.url(db_url))
    registry = WorkflowRegistry()
    cuts: list[threading.Timer] = []

    def cut(ctx: Any) -> dict[str, Any]:
        if not cuts:  # the first attempt only
            proxy.cut()
            cuts.append(threading.Timer(OUTAGE_SECONDS, proxy.restore))
            cuts[0].start()
        return {"cut": True}

    Workflow(
        "outage.cut",
        [Step.lambda_("cut", cut), Step.lambda_("after", lambda ctx: {"ok": True})],
        registry=registry,
    )
    runner = WorkflowRunner(
        RunStore(database, SystemClock()), workflow_registry=registry, lease_seconds=300
    )
    worker = Worker(runner, concurrency=1, poll_seconds=0.1)
    caplog.set_level(logging.INFO, logger="spine.orchestration")
    try:
        run_id = runner.submit("outage.cut").run_id
        assert worker.run(once=True) == 2  # handed back, then claimed again and finished
    finally:
        for timer in cuts:
            timer.join()
        database.dispose()
    (finished,) = worker.finished
    assert finished.run_id == run_id and finished.status is WorkflowStatus.COMPLETED
    steps = RunStore(direct, SystemClock()).get_step_runs(run_id)
    direct.dispose()
    done = sorted(s.step_name for s in steps if s.status is StepStatus.COMPLETED)
    assert done == ["after", "cut"]
    for step in steps:  # nothing left RUNNING: the cut attempt is recorded interrupted
        assert step.status is StepStatus.COMPLETED or (
            step.status is StepStatus.FAILED and (step.error or "").startswith("interrupted:")
        ), step
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("the database is unavailable" in m for m in messages) == 1, messages
    assert sum("the database is back after" in m for m in messages) == 1, messages
