"""Workers whose host clocks are wrong decide leases and back-offs on the database's time.

Each process is wired as ``spine.bootstrap.build`` wires it in production; only its host
clock is replaced (:class:`tests.clocks.SkewedClock`). Before the database's clock, a
worker an hour ahead took over runs whose leases were being renewed (and ran their
steps a second time), and a back-off stamped by a slow host was over at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from spine import RetryPolicy, Step, Workflow
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.clock import ensure_utc
from spine.core.errors import ErrorCategory, SpineError
from spine.core.storage.schema.workflow_history import core_workflow_runs as runs_t
from spine.orchestration.history import StepStatus, WorkflowStatus
from spine.orchestration.models import Claim
from spine.orchestration.registry import PipelineRegistry, WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from tests.clocks import SkewedClock, database_time
from tests.orchestration.invariants import attempts

HOUR = 3600.0
DEADLINE_SECONDS = 60.0


class Processes:
    """Builds processes on one database, each with its own host clock."""

    def __init__(self, db_url: str, registry: WorkflowRegistry) -> None:
        self.db_url = db_url
        self.registry = registry
        self.built: list[Services] = []

    def runner(self, name: str, skew: float, lease_seconds: float = 30.0) -> WorkflowRunner:
        services = build(load_settings(database_url=self.db_url), host_clock=SkewedClock(skew))
        self.built.append(services)
        return WorkflowRunner(
            services.runs,
            clock=services.clock,
            workflow_registry=self.registry,
            pipeline_registry=PipelineRegistry(),
            lease_seconds=lease_seconds,
            worker_id=name,
        )

    def close(self) -> None:
        for services in self.built:
            services.close()


def lease_expiry(runner: WorkflowRunner, run_id: str) -> datetime:
    query = sa.select(runs_t.c.lease_expires_at).where(runs_t.c.run_id == run_id)
    with runner.store.db.read() as conn:
        value = conn.execute(query).scalar_one()
    assert value is not None
    return ensure_utc(value)


@pytest.fixture
def registry() -> WorkflowRegistry:
    return WorkflowRegistry()


@pytest.fixture
def processes(db_url: str, registry: WorkflowRegistry) -> Iterator[Processes]:
    made = Processes(db_url, registry)
    yield made
    made.close()


def test_a_worker_an_hour_ahead_does_not_take_over_a_run_whose_lease_is_renewed(
    processes: Processes, registry: WorkflowRegistry
) -> None:
    started = threading.Event()
    release = threading.Event()
    entries: list[str] = []

    def slow(ctx: object) -> dict[str, bool]:
        entries.append(threading.current_thread().name)
        started.set()
        assert release.wait(DEADLINE_SECONDS)
        return {"ok": True}

    Workflow("skew.slow", [Step.lambda_("slow", slow)], registry=registry)
    honest = processes.runner("honest", 0.0, lease_seconds=1.5)
    ahead = processes.runner("ahead", HOUR, lease_seconds=1.5)
    run = honest.submit("skew.slow")
    claim = honest.claim(run_id=run.run_id)
    assert claim is not None
    executing = [threading.Thread(target=honest.execute, args=(claim,), name="honest")]
    executing[0].start()
    assert started.wait(DEADLINE_SECONDS)

    # Two lease lengths: the honest worker renews its lease meanwhile; the one an hour
    # ahead must not see it as expired.
    taken: list[Claim] = []
    first_expiry = lease_expiry(honest, run.run_id)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        stolen = ahead.claim(run_id=run.run_id)
        if stolen is not None:  # what happened before: the step runs a second time
            taken.append(stolen)
            thread = threading.Thread(target=ahead.execute, args=(stolen,), name="ahead")
            thread.start()
            executing.append(thread)
        time.sleep(0.1)
    renewed_expiry = lease_expiry(honest, run.run_id)
    release.set()
    for thread in executing:
        thread.join(DEADLINE_SECONDS)

    assert renewed_expiry > first_expiry  # the lease was being renewed all along
    assert taken == []
    assert entries == ["honest"]
    finished = honest.store.run_row(run.run_id)
    assert finished.status is WorkflowStatus.COMPLETED
    assert [a.status for a in attempts(honest.store, run.run_id)["slow"]] == [StepStatus.COMPLETED]


def test_a_120_s_step_back_off_is_not_cut_short_by_skewed_workers(
    processes: Processes, registry: WorkflowRegistry
) -> None:
    calls: list[int] = []

    def flaky(ctx: object) -> dict[str, bool]:
        calls.append(1)
        if len(calls) == 1:
            raise SpineError("upstream down", category=ErrorCategory.NETWORK, retryable=True)
        return {"ok": True}

    retry = RetryPolicy(max_attempts=3, backoff_seconds=120, jitter=0)
    Workflow("skew.flaky", [Step.lambda_("flaky", flaky, retry=retry)], registry=registry)
    # The attempt fails on a host an hour slow, which stamps when the retry is due ...
    behind = processes.runner("behind", -HOUR)
    run = behind.submit("skew.flaky")
    claim = behind.claim(run_id=run.run_id)
    assert claim is not None
    assert behind.execute(claim) is None  # parked for its back-off
    failed_at = database_time(behind.store.db)

    # ... and no worker, an hour ahead, behind, or right, takes the retry early.
    for name, skew in (("ahead", HOUR), ("behind-too", -HOUR), ("honest", 0.0)):
        assert processes.runner(name, skew).claim(run_id=run.run_id) is None, name
    assert calls == [1]
    assert behind.store.run_row(run.run_id).status is not WorkflowStatus.COMPLETED

    wake = behind.store.wake_at_of(run.run_id)
    assert wake is not None
    assert abs(ensure_utc(wake) - (failed_at + timedelta(seconds=120))) < timedelta(seconds=5)
