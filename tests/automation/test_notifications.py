"""The notification sender against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from spine.automation.actions.registry import build_handlers
from spine.automation.models import ActionType, DeliveryChannel, DeliveryStatus
from spine.automation.notifications import NotificationSender
from spine.automation.store.deliveries import DeliveryStore
from spine.config import Settings
from spine.core.storage import Database
from tests.automation.action_fixtures import Stage, make_stage

REFUSED = "gone@example.com"


class Inbox:
    """Takes every mail but one address, which it refuses (a bounce)."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_RCPT(
        self, server: object, session: object, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def stage(db: Database) -> Stage:
    return make_stage(db)


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        automation_notification_attempts=3,
        alerting_backoff_base_seconds=10,
        alerting_backoff_max_seconds=60,
        alerting_allow_private_urls=True,
        alerting_send_timeout_seconds=5,
    )


def _sender(stage: Stage, db_url: str) -> NotificationSender:
    # rand 0.5: each wait is exactly 3/4 of its ceiling (10 s, then 20 s ...).
    return NotificationSender(stage.db, stage.people.clock, _settings(db_url), rand=lambda: 0.5)


def _email(stage: Stage, port: int, *to: str) -> None:
    stage.alerting.add_channel(
        "mail",
        "email",
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "from": "spine@example.com",
            "recipients": ["unused@example.com"],
        },
    )
    handler = build_handlers(stage.db, stage.people.clock, _settings("sqlite://"))[
        ActionType.SEND_EMAIL
    ]
    config = {"to": list(to), "subject": "Row 1 rejected", "body": "see spine"}
    ctx = stage.context(ActionType.SEND_EMAIL, config)
    with stage.db.write() as conn:
        handler.perform(conn, ctx)


def _by_address(stage: Stage) -> dict[str, Any]:
    return {d.recipient_id: d for d in DeliveryStore(stage.db).deliveries()}


def test_mail_is_sent_to_each_address_and_recorded(
    stage: Stage, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    _email(stage, port, "desk@example.com", "ada@example.com")

    assert _sender(stage, db_url).run_once() == 2
    assert _sender(stage, db_url).run_once() == 0  # nothing is sent twice

    rows = _by_address(stage)
    assert {r.status for r in rows.values()} == {DeliveryStatus.SENT}
    assert {r.attempts for r in rows.values()} == {1}
    assert rows["desk@example.com"].sent_at == stage.people.clock.now()
    assert rows["desk@example.com"].provider_response == {
        "smtp_host": "127.0.0.1",
        "recipients": ["desk@example.com"],
        "refused": {},
    }
    assert sorted(m.rcpt_tos[0] for m in inbox.messages) == ["ada@example.com", "desk@example.com"]
    assert b"Subject: [WARNING] Row 1 rejected" in inbox.messages[0].original_content
    assert all(r.channel is DeliveryChannel.EMAIL for r in rows.values())


def test_a_refused_address_bounces_without_retries(
    stage: Stage, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    _, port = smtp
    _email(stage, port, REFUSED, "desk@example.com")

    _sender(stage, db_url).run_once()

    rows = _by_address(stage)
    bounced = rows[REFUSED]
    assert (bounced.status, bounced.attempts) == (DeliveryStatus.BOUNCED, 1)
    assert bounced.failed_at == stage.people.clock.now()
    assert bounced.provider_response == {"refused": {REFUSED: 550}}
    assert "refused every recipient" in (bounced.error_message or "")
    assert rows["desk@example.com"].status is DeliveryStatus.SENT


def test_an_unreachable_server_is_retried_with_back_off_then_failed(
    stage: Stage, db_url: str
) -> None:
    _email(stage, _free_port(), "desk@example.com")  # nothing listens there
    sender = _sender(stage, db_url)
    clock = stage.people.clock

    assert sender.run_once() == 1
    first = _by_address(stage)["desk@example.com"]
    assert (first.status, first.attempts) == (DeliveryStatus.RETRYING, 1)
    assert "SMTP to 127.0.0.1 failed" in (first.error_message or "")

    clock.advance(seconds=7)  # the wait is 7.5 s: not due yet
    assert sender.run_once() == 0
    clock.advance(seconds=1)
    assert sender.run_once() == 1
    second = _by_address(stage)["desk@example.com"]
    assert (second.status, second.attempts) == (DeliveryStatus.RETRYING, 2)

    clock.advance(timedelta(seconds=15))  # 3/4 of 20 s
    assert sender.run_once() == 1
    last = _by_address(stage)["desk@example.com"]
    assert (last.status, last.attempts) == (DeliveryStatus.FAILED, 3)
    assert last.failed_at == clock.now() and last.sent_at is None
    clock.advance(timedelta(hours=1))
    assert sender.run_once() == 0
