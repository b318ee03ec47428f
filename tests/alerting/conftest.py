"""Fixtures for alerting: a frozen clock, a policy that allows loopback, real receivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from spine.alerting import AlertService, AlertStore, DeliveryPolicy, DeliveryWorker
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from tests.alerting.receiver import Receiver

START = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def policy() -> DeliveryPolicy:
    """Three attempts, 10 s base backoff, breaker after 3 failures, loopback allowed."""
    return DeliveryPolicy(
        max_attempts=3,
        backoff_base_seconds=10,
        backoff_max_seconds=60,
        lease_seconds=30,
        breaker_threshold=3,
        breaker_cooldown_seconds=120,
        send_timeout_seconds=5,
        allow_private_urls=True,
    )


@pytest.fixture
def service(db: Database, clock: FrozenClock, policy: DeliveryPolicy) -> AlertService:
    return AlertService(AlertStore(db, clock, policy), policy)


@pytest.fixture
def worker(service: AlertService, policy: DeliveryPolicy) -> Iterator[DeliveryWorker]:
    """A worker whose jitter is fixed (the wait is exactly 3/4 of the ceiling)."""
    made = DeliveryWorker(service.store, policy, batch_size=50, rand=lambda: 0.5)
    yield made
    made.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook(service: AlertService, receiver: Receiver) -> str:
    """A webhook channel ``hook`` to the receiver; returns its name."""
    service.add_channel("hook", "webhook", {"url": receiver.url(), "secret": "env:HOOK_SECRET"})
    return "hook"


@pytest.fixture(autouse=True)
def _hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", WHSEC)
