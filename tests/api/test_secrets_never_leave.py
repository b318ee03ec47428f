"""Secrets are write-only: seeded sentinels never come back, from anywhere.

A connection's password (behind an environment reference), a webhook channel's signing
secret, an SMTP channel's password and the API keys' digests are seeded; then every
operation of the API is called (every GET of the OpenAPI document with real ids, the
connection and channel tests, updates that rotate the secrets), and the CLI lists what it
lists. No response, no log line, no audit row and no CLI output may hold a sentinel.
"""

from __future__ import annotations

import logging
import subprocess
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from spine.core.storage.schema.dq_platform import api_keys as keys_t
from spine.core.storage.schema.dq_platform import audit_log as audit_t
from tests.api.tenants import Tenants
from tests.cli.spine_process import SPINE

PASSWORD = "sentinel-Pa55-ZqX9w"
WEBHOOK_SECRET = "whsec_c2VudGluZWwtd2ViaG9vay1zZWNyZXQtMDE="
ROTATED_SECRET = "whsec_c2VudGluZWwtcm90YXRlZC1zZWNyZXQtMDI="
SMTP_PASSWORD = "sentinel-Smtp-Qq7"
HOOK_SECRET = "whsec_c2VudGluZWwtcXVhbGl0eS1ob29rLTAz"
HOOK_ROTATED = "whsec_c2VudGluZWwtcXVhbGl0eS1ob29rLTA0"
PREFIX = "/api/v1/workspaces/{workspace_id}"


@pytest.fixture(autouse=True)
def _sealed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Channel secrets are sealed with a configured key on PostgreSQL (a key file on SQLite).
    monkeypatch.setenv("SPINE_SECRET_KEY", Fernet.generate_key().decode())


def _sentinels() -> tuple[str, ...]:
    return (PASSWORD, WEBHOOK_SECRET, ROTATED_SECRET, SMTP_PASSWORD, HOOK_SECRET, HOOK_ROTATED)


def test_no_response_log_audit_row_or_cli_output_holds_a_secret(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SPINE_SENTINEL_PASSWORD", PASSWORD)
    a = tenants.a
    seen: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = a.request(method, path, **kwargs)
        assert response.status_code < 500 or path.endswith("/test"), response.text
        seen.append(f"{method} {path} {response.status_code} {response.headers} {response.text}")
        return response

    connection = call(
        "POST",
        "/connections",
        json={
            "name": "warehouse",
            "dialect": "postgresql",
            "host": "127.0.0.1",
            "port": 1,
            "database": "dw",
            "username": "loader",
            "password_ref": "env:SPINE_SENTINEL_PASSWORD",
        },
    ).json()
    webhook = call(
        "POST",
        "/alert-channels",
        json={
            "name": "ops",
            "channel_type": "webhook",
            "config_json": {"url": "https://hooks.example.com/spine", "secret": WEBHOOK_SECRET},
        },
    ).json()
    smtp = call(
        "POST",
        "/alert-channels",
        json={
            "name": "mail",
            "channel_type": "email",
            "config_json": {
                "smtp_host": "smtp.example.com",
                "smtp_port": 1,
                "from": "spine@example.com",
                "recipients": ["ops@example.com"],
                "username": "spine",
                "password": SMTP_PASSWORD,
            },
        },
    ).json()
    hook = call(
        "POST",
        "/webhooks",
        json={
            "name": "quality",
            "url": "https://hooks.example.com/quality",
            "events": ["incident.created"],
            "secret": HOOK_SECRET,
        },
    ).json()
    source = call(
        "POST",
        "/sources",
        json={
            "name": "dw",
            "source_type": "database",
            "config_json": {"connection": "warehouse", "query": "SELECT 1"},
        },
    ).json()
    # A check on the connection, run (it cannot connect): its error and incident are shown.
    check = call(
        "POST",
        "/checks",
        json={
            "name": "dw_rows",
            "connection_name": "warehouse",
            "check_type": "row_count",
            "target_table": "trades",
        },
    ).json()
    job = call("POST", f"/checks/{check['id']}/run").json()
    assert a.services.check_worker().drain() == 1
    a.services.quality.run_checks(["dw_rows"])
    incident = a.services.quality.open_incident("dw_rows")
    assert incident is not None
    ids = {
        "check_id": check["id"],
        "job_id": job["id"],
        "incident_id": str(incident.id),
        "connection_id": connection["id"],
        "channel_id": webhook["id"],
        "source_id": source["id"],
        "schedule": "none",
        "dlq_id": "01JAAAAAAAAAAAAAAAAAAAAAAA",
        "run_id": "01JAAAAAAAAAAAAAAAAAAAAAAA",
        "key_id": a.key_ids["read"],
        "webhook_id": hook["id"],
    }
    call("POST", f"/connections/{connection['id']}/test", json={})
    call("POST", f"/sources/{source['id']}/fetch", json={})
    call("POST", f"/alert-channels/{webhook['id']}/test", json={})
    call("POST", f"/alert-channels/{smtp['id']}/test", json={})
    call(
        "PATCH",
        f"/alert-channels/{webhook['id']}",
        json={"config_json": {"secret": ROTATED_SECRET}},
    )
    call("POST", "/alerts", json={"severity": "ERROR", "title": "t", "message": "m", "source": "x"})
    call("POST", f"/webhooks/{hook['id']}/test", json={})
    call("PATCH", f"/webhooks/{hook['id']}", json={"secret": HOOK_ROTATED})

    document = a.client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        if not path.startswith(PREFIX) or "get" not in operations:
            continue
        suffix = path.removeprefix(PREFIX)
        for name, value in ids.items():
            suffix = suffix.replace("{" + name + "}", value)
        call("GET", suffix)
    for history in ("/history/runs", "/history/statistics"):
        response = a.client.get(history)
        seen.append(response.text)

    cli: list[str] = []
    for args in (
        ["connections", "list", "--json"],
        ["alerts", "channels", "list", "--json"],
        ["alerts", "channels", "list", "--webhooks", "--json"],
        ["webhooks", "list", "--json"],
        ["sources", "list", "--json"],
        ["audit", "list", "--json"],
        ["keys", "list", "--json"],
        ["checks", "results", "dw_rows", "--json"],
        ["incidents", "list", "--json"],
    ):
        done = subprocess.run(
            [
                str(SPINE),
                "--database-url",
                tenants.live.services.database.url.render_as_string(hide_password=False),
                "--workspace",
                str(a.workspace.id),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
        cli.append(done.stdout + done.stderr)

    with tenants.live.services.database.read() as conn:
        audit_rows = [str(row) for row in conn.execute(sa.select(audit_t.c.changes))]
        digests = list(conn.execute(sa.select(keys_t.c.key_hash)).scalars())

    everything = "\n".join([*seen, *cli, *audit_rows, caplog.text])
    for sentinel in (*_sentinels(), *digests, *a.keys.values()):
        assert sentinel not in everything, sentinel[:12]
    # The checks saw what they had to: the secrets were set, audited as changed.
    assert any("[secret]" in row for row in audit_rows)
