"""What alerting stores from outside is bounded: reply bodies and error texts."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from spine.alerting import AlertService, AlertStore, DeliveryPolicy, DeliveryWorker
from spine.alerting.bounds import (
    BODY_LIMIT,
    ERROR_LIMIT,
    RESPONSE_LIMIT,
    bounded_response,
    bounded_text,
)
from spine.core.clock import SystemClock
from spine.core.storage import Database, create_database
from spine.core.storage.schema.alerting import core_alert_deliveries
from tests.alerting.receiver import Receiver
from tests.cli.spine_process import invoke_spine

MEGABYTE = 1_000_000


def _deliveries(db: Database) -> list[sa.Row[Any]]:
    d = core_alert_deliveries
    with db.read() as conn:
        return list(conn.execute(sa.select(d).order_by(d.c.attempt)))


def _size(value: Any) -> int:
    return len(json.dumps(value).encode())


def test_a_large_reply_is_stored_cut_with_its_size(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver, db: Database
) -> None:
    receiver.reply = {"data": "x" * MEGABYTE}
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    [sent] = _deliveries(db)
    assert sent.status == "SENT"
    stored = sent.response_json
    assert stored["status_code"] == 200 and stored["body_truncated"] is True
    assert stored["body_bytes"] == len(json.dumps(receiver.reply).encode())
    assert stored["body"].startswith('{"data": "xxx') and len(stored["body"]) == BODY_LIMIT
    assert _size(stored) <= RESPONSE_LIMIT


def test_a_large_error_reply_is_stored_cut_with_its_size(
    service: AlertService, worker: DeliveryWorker, webhook: str, receiver: Receiver, db: Database
) -> None:
    receiver.status = 503
    receiver.reply = {"error": "y" * MEGABYTE}
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    failed = _deliveries(db)[0]
    assert failed.status == "FAILED" and failed.response_json["status_code"] == 503
    assert failed.response_json["body_bytes"] > MEGABYTE
    assert _size(failed.response_json) <= RESPONSE_LIMIT


class _Refusing:
    """An SMTP server that refuses every message with a very long multi-line reply."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        line = "554-" + "z" * 900 + "\r\n"
        return line * 40 + "554 refused"


@pytest.fixture
def refusing_smtp() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def test_a_long_error_from_a_receiver_is_stored_and_logged_cut(
    service: AlertService,
    worker: DeliveryWorker,
    db: Database,
    refusing_smtp: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="spine.alerting")
    service.add_channel(
        "mail",
        "email",
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": refusing_smtp,
            "from": "spine@example.com",
            "recipients": ["ops@example.com"],
        },
    )
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    failed = _deliveries(db)[0]
    assert failed.status == "FAILED" and "zzz" in failed.error
    assert len(failed.error.encode()) <= ERROR_LIMIT + 100
    assert failed.error.endswith("bytes]")
    logged = [r.getMessage() for r in caplog.records if "zzz" in r.getMessage()]
    assert logged and all(len(line.encode()) <= ERROR_LIMIT + 500 for line in logged)


@given(st.text())
def test_bounded_text_keeps_short_texts_and_cuts_long_ones_saying_so(text: str) -> None:
    bounded = bounded_text(text, limit=64)
    size = len(text.encode("utf-8", "replace"))
    if size <= 64:
        assert bounded == text
    else:
        assert bounded.endswith(f"[cut: {size} bytes]")
        assert len(bounded.encode()) <= 64 + len(f"… [cut: {size} bytes]".encode())


@given(st.dictionaries(st.text(max_size=5), st.text(max_size=3000), max_size=6))
def test_bounded_response_never_exceeds_its_limit(response: dict[str, Any]) -> None:
    bounded = bounded_response({"status_code": 200, **response})
    assert bounded is not None and _size(bounded) <= RESPONSE_LIMIT + 64
    assert bounded["status_code"] == 200 or "status_code" in response


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_alerts_show_prints_a_large_reply_cut(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.reply = {"data": "x" * MEGABYTE}
    policy = DeliveryPolicy(allow_private_urls=True)
    database = create_database(db_url)
    try:
        store = AlertStore(database, SystemClock(), policy)
        alerting = AlertService(store, policy)
        config = {"url": receiver.url(), "secret": "env:HOOK_SECRET"}
        alerting.add_channel("hook", "webhook", config)
        alert_id = alerting.send("ERROR", "t", "m", source="s")
        worker = DeliveryWorker(store, policy)
        worker.drain()
        worker.close()
    finally:
        database.dispose()
    shown = invoke_spine("alerts", "show", alert_id, "--json", cwd=tmp_path,
                      env={"SPINE_DATABASE_URL": db_url})  # fmt: skip
    assert shown.code == 0, shown.stderr
    [delivery] = json.loads(shown.stdout)["deliveries"]
    assert delivery["status"] == "SENT" and delivery["response_json"]["body_truncated"] is True
    assert len(shown.stdout) < 4 * RESPONSE_LIMIT
