"""The delivery worker against a real local receiver (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from spine.alerting import AlertService, DeliveryWorker, verify_signature
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_channels, core_alert_deliveries
from spine.core.storage.schema.resilience import circuit_breakers, dead_letter_queue
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver


def _attempts(db: Database, alert_id: str) -> list[tuple[int, str]]:
    d = core_alert_deliveries
    with db.read() as conn:
        rows = conn.execute(sa.select(d).where(d.c.alert_id == alert_id).order_by(d.c.attempt))
        return [(r.attempt, r.status) for r in rows]


def _rows(db: Database, table: sa.Table) -> list[sa.Row[object]]:
    with db.read() as conn:
        return list(conn.execute(sa.select(table)))


def test_webhook_is_sent_signed_and_recorded(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    db: Database,
    clock: FrozenClock,
) -> None:
    alert_id = service.send(
        "ERROR", "load failed", "boom", source="finra.weekly_ingest", domain="finra.otc"
    )
    assert worker.drain() == 1
    [request] = receiver.requests
    assert verify_signature(WHSEC, request.headers, request.body)
    assert (
        request.headers["webhook-id"] == f"msg_{alert_id}_{service.store.get_channel(webhook).id}"
    )
    body = request.json()
    assert body["type"] == "alert.error"
    assert body["data"]["alert_id"] == alert_id and body["data"]["attempt"] == 1
    [row] = _rows(db, core_alert_deliveries)
    assert (row.status, row.attempt, row.delivered_at, row.attempted_at) == (
        "SENT",
        1,
        clock.now(),
        clock.now(),
    )
    assert row.response_json == {"status_code": 200, "body": {"ok": True}}
    assert "webhook-signature" not in str(row.response_json)
    channel = service.store.get_channel(webhook)
    assert channel.last_success_at == clock.now() and channel.consecutive_failures == 0
    assert worker.drain() == 0


def test_failures_back_off_then_go_to_the_dead_letter_queue_and_retry_from_there(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    db: Database,
    clock: FrozenClock,
) -> None:
    receiver.status = 503
    alert_id = service.send("ERROR", "t", "m", source="s")
    assert worker.drain() == 1
    d = core_alert_deliveries
    with db.read() as conn:
        failed, pending = conn.execute(sa.select(d).order_by(d.c.attempt)).all()
    # Backoff ceiling 10 s after attempt 1, jitter fixed at 0.5: 7.5 s.
    assert (failed.status, failed.error, failed.response_json["status_code"]) == (
        "FAILED",
        f"http://127.0.0.1:{receiver.port} answered HTTP 503",
        503,
    )
    assert pending.status == "PENDING" and pending.attempt == 2
    assert pending.next_retry_at == clock.now() + timedelta(seconds=7.5)
    assert worker.drain() == 0  # not due yet
    clock.advance(7.5)
    assert worker.drain() == 1
    clock.advance(15)
    assert worker.drain() == 1
    assert _attempts(db, alert_id) == [(1, "FAILED"), (2, "FAILED"), (3, "FAILED")]
    [letter] = _rows(db, dead_letter_queue)
    assert (letter.source_type, letter.status, letter.error_category) == (
        "alert_delivery",
        "pending",
        "UNAVAILABLE",
    )
    assert letter.payload["alert_id"] == alert_id and letter.payload["attempt"] == 3
    clock.advance(3600)
    assert worker.drain() == 0  # dead letters are not retried by themselves
    receiver.status = 200
    service.store.reset_breaker(webhook)
    service.store.retry_dead_letter(letter.dlq_id)
    assert worker.drain() == 1
    assert _attempts(db, alert_id)[-1] == (4, "SENT")
    [letter] = _rows(db, dead_letter_queue)
    assert (letter.status, letter.retry_count, letter.resolved_at) == ("resolved", 1, clock.now())


def test_a_client_error_is_not_retried(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver, db: Database
) -> None:
    receiver.status = 400
    alert_id = service.send("ERROR", "t", "m", source="s")
    worker.drain()
    assert _attempts(db, alert_id) == [(1, "FAILED")]
    [letter] = _rows(db, dead_letter_queue)
    assert letter.error_category == "VALIDATION"
    service.store.resolve_dead_letter(letter.dlq_id)
    assert _rows(db, dead_letter_queue)[0].status == "resolved"


def test_breaker_opens_holds_deliveries_then_probes_once_and_closes(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    db: Database,
    clock: FrozenClock,
) -> None:
    receiver.status = 503
    ids = [service.send("ERROR", f"t{i}", "m", source="s") for i in range(5)]
    worker.batch_size = 1
    for _ in range(3):  # threshold 3: three failures open the breaker
        assert worker.run_once() == 1
    [breaker] = _rows(db, circuit_breakers)
    hook_id = service.store.get_channel(webhook).id
    assert (breaker.name, breaker.state, breaker.failure_count) == (
        f"alert-channel:{hook_id}",
        "open",
        3,
    )
    assert service.store.get_channel(webhook).consecutive_failures == 3
    assert worker.drain() == 0  # two untried alerts wait while the breaker is open
    assert [_attempts(db, i) for i in ids[3:]] == [[(1, "PENDING")], [(1, "PENDING")]]
    clock.advance(120)  # cool-down: one probe, which fails, opens it again
    assert worker.drain() == 1
    assert _rows(db, circuit_breakers)[0].state == "open"
    receiver.status = 200
    clock.advance(120)
    assert worker.run_once() == 1  # the probe succeeds...
    [breaker] = _rows(db, circuit_breakers)
    assert (breaker.state, breaker.failure_count) == ("closed", 0)
    worker.drain()  # ...and everything due goes out
    assert all(_attempts(db, i)[-1][1] == "SENT" for i in ids[3:])
    assert service.store.get_channel(webhook).consecutive_failures == 0


def test_half_open_breaker_lets_one_probe_through_across_workers(
    service: AlertService, webhook: str, receiver: Receiver, db: Database, clock: FrozenClock
) -> None:
    with db.write() as conn:
        conn.execute(
            sa.update(circuit_breakers).values(
                state="open", opened_at=clock.now() - timedelta(hours=1)
            )
        )
    for i in range(3):
        service.send("ERROR", f"t{i}", "m", source="s")
    first = service.store.claim(10)
    second = service.store.claim(10)
    assert [c.probe for c in first] == [True] and second == []
    assert _rows(db, circuit_breakers)[0].state == "half_open"


def test_a_claim_whose_worker_died_is_retried_after_its_lease_as_the_next_attempt(
    service: AlertService,
    worker: DeliveryWorker,
    webhook: str,
    receiver: Receiver,
    db: Database,
    clock: FrozenClock,
) -> None:
    alert_id = service.send("ERROR", "t", "m", source="s")
    [claim] = service.store.claim(10)  # this worker "dies" before sending
    assert service.store.claim(10) == []
    clock.advance(29)
    assert worker.drain() == 0
    clock.advance(1)  # the 30 s lease ran out
    assert worker.drain() == 1
    assert _attempts(db, alert_id) == [(1, "FAILED"), (2, "SENT")]
    assert [r.json()["data"]["attempt"] for r in receiver.requests] == [2]
    # The late worker's result is refused: the attempt is not its any more.
    assert service.store.record_sent(claim, {"late": True}) is False


def test_deliveries_of_a_disabled_channel_wait(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver, db: Database
) -> None:
    alert_id = service.send("ERROR", "t", "m", source="s")
    service.store.set_enabled(webhook, False)
    assert worker.drain() == 0
    service.store.set_enabled(webhook, True)
    assert worker.drain() == 1
    assert _attempts(db, alert_id) == [(1, "SENT")]


def test_removing_a_channel_closes_its_waiting_deliveries(
    service: AlertService, webhook: str, db: Database
) -> None:
    alert_id = service.send("ERROR", "t", "m", source="s")
    assert service.store.remove_channel(webhook) == 1
    assert _attempts(db, alert_id) == [(1, "FAILED")]
    assert _rows(db, circuit_breakers) == [] and _rows(db, core_alert_channels) == []


def test_nothing_is_lost_while_the_receiver_is_down_for_many_retries(
    service: AlertService, policy: object, receiver: Receiver, db: Database, clock: FrozenClock
) -> None:
    from dataclasses import replace

    from spine.alerting import DeliveryPolicy

    assert isinstance(policy, DeliveryPolicy)
    patient = replace(policy, max_attempts=8, breaker_threshold=1000)
    worker = DeliveryWorker(service.store, patient, batch_size=50)
    service.store.policy = patient
    service.add_channel("hook", "webhook", {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    ids = [service.send("ERROR", f"t{i}", "m", source="s") for i in range(20)]
    receiver.stop()  # connection refused from now on
    for _ in range(4):
        worker.drain()
        clock.advance(60)
    receiver.start()  # same port
    for _ in range(10):
        worker.drain()
        clock.advance(60)
    sent = [r.json()["data"]["alert_id"] for r in receiver.requests]
    assert sorted(sent) == sorted(ids)  # each exactly once
    assert all(_attempts(db, i)[0] == (1, "FAILED") for i in ids)  # it was down
    assert _rows(db, dead_letter_queue) == []
    assert all(_attempts(db, i)[-1][1] == "SENT" for i in ids)


def test_the_worker_owns_its_http_client_and_closes_it_when_it_stops(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver
) -> None:
    service.send("ERROR", "one", "m", source="s", domain="finra.otc")
    assert worker.run(once=True) == 1
    assert worker.http._client is None  # closed when run returned
    service.send("ERROR", "two", "m", source="s", domain="finra.otc")
    assert worker.drain() == 1  # a later delivery opens a new client
    assert worker.http._client is not None
    worker.close()
    assert worker.http._client is None
    assert len(receiver.requests) == 2
