"""A delivery worker told to stop hands back the deliveries it claimed but did not send."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from spine.alerting import AlertService, DeliveryWorker
from spine.alerting.store import Claim
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries
from spine.core.storage.schema.resilience import circuit_breakers
from tests.alerting.receiver import Receiver


def _attempts(db: Database, alert_id: str) -> list[tuple[int, str]]:
    d = core_alert_deliveries
    with db.read() as conn:
        rows = conn.execute(sa.select(d).where(d.c.alert_id == alert_id).order_by(d.c.attempt))
        return [(r.attempt, r.status) for r in rows]


def test_a_stop_mid_batch_sends_the_one_in_progress_and_hands_back_the_rest(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [service.send("ERROR", f"t{i}", "m", source="s") for i in range(3)]
    deliver = worker.deliver

    def deliver_then_stop(claim: Claim) -> str | None:
        outcome = deliver(claim)
        worker.stop()  # as the first Ctrl-C does, while this send was in progress
        return outcome

    monkeypatch.setattr(worker, "deliver", deliver_then_stop)

    assert worker.run_once() == 1

    assert [_attempts(db, i) for i in ids] == [[(1, "SENT")], [(1, "PENDING")], [(1, "PENDING")]]
    assert len(receiver.requests) == 1
    # Due at once, for another worker, and still their first attempt: no lease to wait.
    claims = service.store.claim(10)
    assert sorted(c.delivery_id for c in claims) == sorted(d for d in _ids(db, ids[1:]))
    assert [c.attempt for c in claims] == [1, 1]


def test_a_probe_handed_back_lets_the_breaker_probe_again_at_once(
    service: AlertService, webhook: str, db: Database, clock: FrozenClock
) -> None:
    with db.write() as conn:
        conn.execute(
            sa.update(circuit_breakers).values(
                state="open", opened_at=clock.now() - timedelta(hours=1)
            )
        )
    service.send("ERROR", "t", "m", source="s")
    [probe] = service.store.claim(10)
    assert probe.probe and service.store.claim(10) == []

    service.store.hand_back([probe])

    [again] = service.store.claim(10)
    assert (again.probe, again.delivery_id, again.attempt) == (True, probe.delivery_id, 1)


def test_a_claim_taken_over_is_not_handed_back(
    service: AlertService, webhook: str, db: Database, clock: FrozenClock
) -> None:
    alert_id = service.send("ERROR", "t", "m", source="s")
    [late] = service.store.claim(10)
    clock.advance(30)  # its lease ran out: another worker takes it over
    [current] = service.store.claim(10)

    service.store.hand_back([late])

    assert service.store.claim(10) == []
    assert current.attempt == 2
    assert _attempts(db, alert_id) == [(1, "FAILED"), (2, "PENDING")]


def _ids(db: Database, alert_ids: list[str]) -> list[str]:
    d = core_alert_deliveries
    with db.read() as conn:
        return list(conn.execute(sa.select(d.c.id).where(d.c.alert_id.in_(alert_ids))).scalars())
