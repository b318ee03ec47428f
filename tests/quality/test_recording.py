"""What a run records, and that it records it all or nothing: samples and their
switches, the anomaly band from the check's own history, events in the transaction."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.bootstrap import Services
from spine.core.clock import FrozenClock
from spine.core.events import EventType
from spine.core.storage.schema.dq_platform import check_results, incidents, jobs
from tests.event_recorder import Abort, Aborter, Recorder, create_seen_table, seen

from .conftest import make_orders


def _count(services: Services, table: sa.Table) -> int:
    return services.database.run_read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    )


def _negatives(services: Services, name: str, **config: object) -> None:
    services.quality.add_check(
        name,
        connection="shop",
        check_type="out_of_range_count",
        table="orders",
        column="amount",
        config={"min_value": 0, "max": 0, **config},
    )


def test_samples_are_bounded_and_can_be_turned_off(services: Services, target: Path) -> None:
    make_orders(target, bad=5)
    _negatives(services, "default_bound")
    _negatives(services, "two", samples=2)
    _negatives(services, "none", samples=0)
    outcomes = {o.check.name: o for o in services.quality.run_checks(table="orders")}
    assert len(outcomes["default_bound"].result.details["samples"]) == 5  # type: ignore[index]
    two = outcomes["two"].result.details or {}
    assert len(two["samples"]) == 2
    assert all(row["amount"] < 0 for row in two["samples"])
    assert "samples" not in (outcomes["none"].result.details or {})
    services.sources.connections.update("shop", {"allow_samples": False})
    again = services.quality.run_checks(["default_bound"])[0]
    assert "samples" not in (again.result.details or {})


def test_the_anomaly_rule_learns_from_the_checks_own_results(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    services.quality.add_check(
        "rows",
        connection="shop",
        check_type="row_count",
        table="orders",
        config={"anomaly": {"min_history": 5}},
    )
    for rows in (100, 101, 99, 100, 102, 100, 98):
        make_orders(target, rows=rows)
        clock.advance(timedelta(days=1))
        [outcome] = services.quality.run_checks(["rows"])
        assert outcome.result.rule_passed
    make_orders(target, rows=5000)
    clock.advance(timedelta(days=1))
    [spike] = services.quality.run_checks(["rows"])
    anomaly = (spike.result.details or {})["anomaly"]
    assert anomaly["flagged"] is True
    assert not spike.result.rule_passed
    assert spike.incident is not None


def test_a_listener_that_aborts_takes_the_result_incident_and_job_with_it(
    services: Services,
) -> None:
    create_seen_table(services.database)
    services.quality.add_check(
        "rows", connection="shop", check_type="row_count", table="orders", config={"max": 1}
    )
    job = services.quality.queue_job("rows")
    services.listeners = (
        *services.listeners,
        Recorder(EventType.CHECK_RESULT),
        Aborter(EventType.INCIDENT_CHANGED),
    )
    worker = services.check_worker()
    with pytest.raises(Abort):
        worker.work_once()
    assert _count(services, check_results) == 0
    assert _count(services, incidents) == 0
    assert seen(services.database) == []
    assert services.quality.get_job(str(job.id)).status.value == "running"
    assert _count(services, jobs) == 1


def test_two_runs_at_once_open_one_incident(services: Services, target: Path) -> None:
    # Two processes running the same failing check at once (two `spine checks run`, a
    # job and a step): the first failure of each check must open one incident, not
    # fail the second run on the one-open-incident index.
    make_orders(target, bad=3)
    names = [f"negatives_{i}" for i in range(8)]
    for name in names:
        _negatives(services, name)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            barrier.wait(timeout=30)
            services.quality.run_checks([name])
        except BaseException as error:  # reported below, with the check's name
            errors.append(error)

    for name in names:
        threads = [threading.Thread(target=run, args=(name,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, f"{name}: {errors[0]!r}"
        [incident] = services.quality.list_incidents(check=name)
        assert incident.failure_count == 2
