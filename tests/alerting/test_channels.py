"""Each channel type against a real local peer: SMTP (aiosmtpd), Slack, ServiceNow, Apprise."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from spine.alerting import AlertService, DeliveryWorker
from spine.core.net import UrlNotAllowed
from spine.core.storage import Database
from spine.core.storage.schema.alerting import core_alert_deliveries
from tests.alerting.receiver import Receiver


def _delivered(db: Database) -> list[sa.Row[Any]]:
    with db.read() as conn:
        return list(conn.execute(sa.select(core_alert_deliveries)))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _authenticate(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"spine", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def test_email_logs_in_with_a_password_reference_and_sends(
    service: AlertService,
    worker: DeliveryWorker,
    db: Database,
    smtp: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port = smtp
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    service.add_channel(
        "mail",
        "email",
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "from": "spine@example.com",
            "recipients": ["ops@example.com", "dq@example.com"],
            "username": "spine",
            "password_ref": "env:SMTP_PASSWORD",
        },
    )
    service.send(
        "CRITICAL",
        "FINRA load failed",
        "no file for week 2025-01-10",
        source="finra",
        domain="finra.otc",
    )
    assert worker.drain() == 1
    [mail] = inbox.messages
    assert mail.rcpt_tos == ["ops@example.com", "dq@example.com"]
    text = mail.content.decode() if isinstance(mail.content, bytes) else str(mail.content)
    assert "Subject: [CRITICAL] FINRA load failed" in text and "week 2025-01-10" in text
    [row] = _delivered(db)
    assert row.status == "SENT" and "s3cret" not in str(row.response_json)


def test_slack_incoming_webhook_gets_text_and_blocks(
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_URL", receiver.url("/services/T000/B000/XXXX"))
    receiver.reply = "ok"
    service.add_channel(
        "slack", "slack", {"webhook_url_ref": "env:SLACK_URL", "channel": "#alerts"}
    )
    service.send("WARNING", "late file", "the FINRA file is late", source="finra")
    assert worker.drain() == 1
    [request] = receiver.requests
    assert request.path == "/services/T000/B000/XXXX"
    body = request.json()
    assert "[WARNING] late file" in body["text"] and body["channel"] == "#alerts"
    assert body["blocks"][0]["type"] == "section"
    assert _delivered(db)[0].status == "SENT"


def test_servicenow_creates_an_incident_with_basic_auth_and_stores_no_credentials(
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNOW_PASSWORD", "hunter2")
    receiver.status = 201
    receiver.reply = {"result": {"sys_id": "abc123", "number": "INC0010001"}}
    service.add_channel(
        "snow",
        "servicenow",
        {
            "instance_url": receiver.url(""),
            "username": "spine",
            "password_ref": "env:SNOW_PASSWORD",
            "assignment_group": "data-ops",
        },
    )
    alert_id = service.send("CRITICAL", "db down", "the warehouse is down", source="s")
    assert worker.drain() == 1
    [request] = receiver.requests
    assert request.path == "/api/now/table/incident"
    assert (
        request.headers["authorization"] == "Basic " + base64.b64encode(b"spine:hunter2").decode()
    )
    incident = request.json()
    assert incident["short_description"] == "[CRITICAL] db down"
    assert (incident["urgency"], incident["impact"], incident["assignment_group"]) == (
        "1",
        "1",
        "data-ops",
    )
    assert incident["correlation_id"] == f"spine:{alert_id}"
    [row] = _delivered(db)
    assert row.response_json == {"status_code": 201, "sys_id": "abc123", "number": "INC0010001"}
    assert "hunter2" not in str(row.response_json) and "Basic" not in str(row.response_json)


def test_apprise_json_url_reaches_the_local_receiver(
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A literal URL is accepted without SPINE_SECRET_KEY, and masked on display.
    channel = service.add_channel(
        "apprise", "apprise", {"url": f"json://127.0.0.1:{receiver.port}/apprise"}
    )
    assert service.channel_view(channel)["config_json"]["url"] == "json://127.0.0.1/********"
    service.send("ERROR", "broke", "it broke", source="s")
    assert worker.drain() == 1
    [request] = receiver.requests
    assert request.path == "/apprise"
    body = request.json()
    assert body["title"] == "[ERROR] broke" and "it broke" in body["message"]
    assert body["type"] == "failure"
    assert _delivered(db)[0].status == "SENT"


def test_apprise_failure_is_recorded(
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.status = 500
    monkeypatch.setenv("APPRISE_URL", f"json://127.0.0.1:{receiver.port}/apprise")
    service.add_channel("apprise", "apprise", {"url_ref": "env:APPRISE_URL"})
    service.send("ERROR", "broke", "it broke", source="s")
    worker.drain()
    assert [r.status for r in _delivered(db)] == ["FAILED", "PENDING"]


def test_private_targets_are_refused_at_send_time_too(
    service: AlertService,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPRISE_URL", f"json://127.0.0.1:{receiver.port}/apprise")
    service.add_channel("apprise", "apprise", {"url_ref": "env:APPRISE_URL"})
    service.add_channel("hook", "webhook", {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    strict = replace(service.policy, allow_private_urls=False)
    service.send("ERROR", "t", "m", source="s")
    DeliveryWorker(service.store, strict).drain()
    assert receiver.requests == []
    rows = [r for r in _delivered(db) if r.attempt == 1]
    assert {r.status for r in rows} == {"FAILED"}
    assert all("SPINE_ALERTING_ALLOW_PRIVATE_URLS=true" in r.error for r in rows)
    with pytest.raises(UrlNotAllowed) as refused:
        AlertService(service.store, strict).add_channel(
            "other", "apprise", {"url": "json://127.0.0.1:1/x"}
        )
    assert str(refused.value) == (
        "host '127.0.0.1' is a loopback address: spine does not call loopback, link-local "
        "or private addresses unless allowed; to allow them set "
        "SPINE_ALERTING_ALLOW_PRIVATE_URLS=true (or alerting_allow_private_urls = true in "
        "spine.toml)"
    )


def test_channel_test_sends_directly_and_records_nothing(
    service: AlertService, webhook: str, receiver: Receiver, db: Database
) -> None:
    response = service.test_channel(webhook)
    assert response["status_code"] == 200
    assert receiver.requests[0].json()["data"]["title"].startswith("spine test message")
    assert _delivered(db) == []


def _self_signed(tmp_path: Any) -> tuple[str, str]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_email_over_starttls_with_login(
    service: AlertService,
    worker: DeliveryWorker,
    db: Database,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket
    import ssl

    cert_file, key_file = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        tls_context=server_tls,
        require_starttls=True,
    )
    controller.start()
    try:
        monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
        service.add_channel(
            "mail",
            "email",
            {
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "starttls": True,
                "ca_file": cert_file,
                "from": "spine@example.com",
                "recipients": ["ops@example.com"],
                "username": "spine",
                "password_ref": "env:SMTP_PASSWORD",
            },
        )
        service.send("ERROR", "over TLS", "m", source="s")
        assert worker.drain() == 1
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in inbox.messages] == [["ops@example.com"]]
    assert _delivered(db)[0].status == "SENT"


def test_a_failing_slack_url_never_shows_its_token(
    service: AlertService,
    worker: DeliveryWorker,
    receiver: Receiver,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    receiver.status = 500
    monkeypatch.setenv("SLACK_URL", receiver.url("/services/T000/B000/SECRETTOKEN"))
    service.add_channel("slack", "slack", {"webhook_url_ref": "env:SLACK_URL"})
    service.send("ERROR", "t", "m", source="s")
    worker.drain()
    failed = _delivered(db)[0]
    assert failed.status == "FAILED" and "HTTP 500" in failed.error
    assert "SECRETTOKEN" not in failed.error + str(failed.response_json) + caplog.text
