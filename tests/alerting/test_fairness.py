"""A channel whose endpoint never answers does not hold up the other channels.

Against a real loopback server that accepts connections and never replies (``Silent``)
and a normal receiver, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa

from spine.alerting import (
    AlertService,
    AlertStore,
    DeliveryPolicy,
    DeliveryWorker,
    policy_from_settings,
)
from spine.config import load_settings
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries
from tests.alerting.receiver import Receiver, Silent

d = core_alert_deliveries
#: Long enough that no hung send ends by itself while a test runs: they end when the
#: silent server hangs up at the end of the test.
HUNG_TIMEOUT = 300.0


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    server.start()
    yield server
    server.stop()


def _statuses(db: Database, channel: str) -> Counter[str]:
    with db.read() as conn:
        rows = conn.execute(sa.select(d.c.status).where(d.c.channel_name == channel))
        return Counter(row.status for row in rows)


def _wait_for(condition: object, seconds: float = 60.0) -> bool:
    """Poll ``condition`` (a callable) until it is true or ``seconds`` have passed."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_a_channel_that_never_answers_does_not_delay_the_others(
    db: Database,
    clock: FrozenClock,
    policy: DeliveryPolicy,
    receiver: Receiver,
    silent: Silent,
) -> None:
    hung = replace(policy, send_timeout_seconds=HUNG_TIMEOUT, lease_seconds=2 * HUNG_TIMEOUT)
    service = AlertService(AlertStore(db, clock, hung), hung)
    service.add_channel("stuck", "webhook", {"url": silent.url(), "secret_ref": "env:HOOK_SECRET"})
    service.add_channel("ok", "webhook", {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    ids = [service.send("ERROR", f"t{i}", "m", source="s") for i in range(8)]
    worker = DeliveryWorker(service.store, hung)  # the defaults: what `alerts deliver` runs
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        delivered = _wait_for(
            lambda: _statuses(db, "ok") == Counter(SENT=8) and silent.accepted >= 1
        )
        stuck = _statuses(db, "stuck")
        accepted = silent.accepted
    finally:
        worker.stop()
        silent.stop()  # the hung sends end now
        runner.join()
    assert delivered, f"healthy channel: {_statuses(db, 'ok')}, hung sends: {silent.accepted}"
    assert sorted(r.json()["data"]["alert_id"] for r in receiver.requests) == sorted(ids)
    # Meanwhile every delivery to the silent endpoint was still waiting or in flight,
    # and at most the per-channel cap of them was in flight.
    assert stuck == Counter(PENDING=8)
    assert 1 <= accepted <= hung.channel_concurrency


def test_a_claim_takes_at_most_the_per_channel_cap_and_alternates_channels(
    db: Database, clock: FrozenClock, policy: DeliveryPolicy, receiver: Receiver
) -> None:
    capped = replace(policy, channel_concurrency=2)
    service = AlertService(AlertStore(db, clock, capped), capped)
    for name in ("a", "b"):
        service.add_channel(name, "webhook", {"url": receiver.url(), "secret_ref": "env:X"})
    for i in range(5):
        service.send("ERROR", f"t{i}", "m", source="s")
    first = service.store.claim(2)
    assert sorted(c.channel.name for c in first) == ["a", "b"]  # one each, not two of one
    second = service.store.claim(10)
    assert sorted(c.channel.name for c in second) == ["a", "b"]  # up to the cap of 2 each
    assert service.store.claim(10) == []  # both channels are at their cap
    assert service.store.record_sent(first[0], {"ok": True})
    [third] = service.store.claim(10)  # a slot came free on that channel only
    assert third.channel.name == first[0].channel.name


def test_claims_racing_on_many_threads_keep_the_per_channel_cap(
    db: Database, clock: FrozenClock, policy: DeliveryPolicy, receiver: Receiver
) -> None:
    capped = replace(policy, channel_concurrency=2)
    store = AlertStore(db, clock, capped)
    service = AlertService(store, capped)
    service.add_channel("a", "webhook", {"url": receiver.url(), "secret_ref": "env:X"})
    for i in range(12):
        service.send("ERROR", f"t{i}", "m", source="s")
    start = threading.Barrier(8)
    taken: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        start.wait()
        claims = store.claim(1)
        with lock:
            taken.extend(c.delivery_id for c in claims)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 2


def test_the_concurrency_settings_reach_the_worker(
    service: AlertService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINE_ALERTING_DELIVERY_CONCURRENCY", "6")
    monkeypatch.setenv("SPINE_ALERTING_CHANNEL_CONCURRENCY", "3")
    policy = policy_from_settings(load_settings(secret_key="unused"))
    assert (policy.concurrency, policy.channel_concurrency) == (6, 3)
    assert DeliveryWorker(service.store, policy).concurrency == 6
    assert DeliveryWorker(service.store, policy, concurrency=2).concurrency == 2  # --concurrency
    assert (DeliveryPolicy().concurrency, DeliveryPolicy().channel_concurrency) == (4, 2)
