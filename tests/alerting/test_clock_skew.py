"""Delivery workers whose host clocks are wrong keep to due times on the database's time.

Each process is wired as ``spine.bootstrap.build`` wires it in production; only its host
clock is replaced (:class:`tests.clocks.SkewedClock`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from spine.alerting import AlertService, DeliveryWorker
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.clock import ensure_utc
from spine.core.storage.schema.alerting import core_alert_deliveries as deliveries_t
from tests.alerting.receiver import Receiver
from tests.clocks import SkewedClock, database_time

HOUR = 3600.0


class Processes:
    """Builds delivery processes on one database, each with its own host clock."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.built: list[Services] = []
        self.workers: list[DeliveryWorker] = []

    def service(self, skew: float) -> AlertService:
        settings = load_settings(
            database_url=self.db_url,
            alerting_allow_private_urls=True,
            # Jitter fixed at 0.5 below: the first retry waits 3/4 of 160 s, 120 s.
            alerting_backoff_base_seconds=160,
            alerting_backoff_max_seconds=160,
        )
        services = build(settings, host_clock=SkewedClock(skew))
        self.built.append(services)
        return services.alerting()

    def worker(self, skew: float) -> DeliveryWorker:
        service = self.service(skew)
        worker = DeliveryWorker(service.store, service.policy, rand=lambda: 0.5)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        for services in self.built:
            services.close()


@pytest.fixture
def processes(db_url: str) -> Iterator[Processes]:
    made = Processes(db_url)
    yield made
    made.close()


def test_an_alert_recorded_on_a_host_an_hour_ahead_is_delivered_at_once(
    processes: Processes, receiver: Receiver
) -> None:
    ahead = processes.service(HOUR)
    ahead.add_channel("hook", "webhook", {"url": receiver.url(), "secret": "env:HOOK_SECRET"})
    ahead.send("ERROR", "t", "m", source="s")

    # Due when it was recorded, on the database's time: not an hour later.
    assert processes.worker(0.0).drain() == 1
    assert len(receiver.requests) == 1


def test_a_120_s_delivery_back_off_is_kept_by_skewed_workers(
    processes: Processes, receiver: Receiver
) -> None:
    honest = processes.service(0.0)
    honest.add_channel("hook", "webhook", {"url": receiver.url(), "secret": "env:HOOK_SECRET"})
    receiver.status = 503
    honest.send("ERROR", "t", "m", source="s")

    # The first attempt fails; the worker records when to try again.
    assert processes.worker(0.0).drain() == 1
    failed_at = database_time(honest.store.database)
    assert len(receiver.requests) == 1

    # No worker, an hour ahead, behind or right, tries again before the 120 s are over.
    receiver.status = 200
    for skew in (HOUR, -HOUR, 0.0):
        assert processes.worker(skew).drain() == 0, f"retried early by a worker {skew} s off"
    assert len(receiver.requests) == 1

    with honest.store.database.read() as conn:
        [due] = conn.execute(
            sa.select(deliveries_t.c.next_retry_at).where(deliveries_t.c.status == "PENDING")
        ).scalars()
    expected = failed_at + timedelta(seconds=120)
    assert abs(ensure_utc(due) - expected) < timedelta(seconds=5)
