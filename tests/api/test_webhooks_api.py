"""``/api/v1/workspaces/{id}/webhooks``: CRUD with admin scope, audit, test, pagination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from spine.alerting import verify_signature
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.api.tenants import Tenants


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINE_ALERTING_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("SPINE_SECRET_KEY", Fernet.generate_key().decode())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    made.start()
    yield made
    made.stop()


def _body(receiver: Receiver, name: str = "q", **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": receiver.url(f"/{name}"), "events": ["check.failed"], **extra}


def test_webhook_crud_needs_admin_is_audited_and_tested(
    tenants: Tenants, receiver: Receiver
) -> None:
    a = tenants.a
    for kind in ("read", "write"):
        assert a.post("/webhooks", kind, json=_body(receiver, secret=WHSEC)).status_code == 403
    made = a.post("/webhooks", "admin", json=_body(receiver, secret=WHSEC))
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["generated_secret"] is None and "secret" not in created
    assert WHSEC not in made.text
    hook_id = created["id"]
    assert a.get(f"/webhooks/{hook_id}", "read").json()["events"] == ["check.failed"]

    generated = a.post("/webhooks", "admin", json=_body(receiver, "g")).json()["generated_secret"]
    assert generated.startswith("whsec_")
    listed = a.get("/webhooks", "read", params={"limit": 1}).json()
    assert [h["name"] for h in listed["items"]] == ["g"]
    rest = a.get("/webhooks", "read", params={"cursor": listed["next_cursor"]}).json()
    assert [h["name"] for h in rest["items"]] == ["q"]

    for kind in ("read", "write"):
        assert a.request("PATCH", f"/webhooks/{hook_id}", kind, json={}).status_code == 403
        assert a.post(f"/webhooks/{hook_id}/test", kind).status_code == 403
    tested = a.post(f"/webhooks/{hook_id}/test", "admin")
    assert tested.status_code == 200, tested.text
    assert tested.json()["response_code"] == 200
    [sent] = receiver.requests
    assert sent.json()["type"] == "webhook.test"
    assert verify_signature(WHSEC, sent.headers, sent.body)

    patched = a.request(
        "PATCH", f"/webhooks/{hook_id}", "admin", json={"events": ["incident.resolved"]}
    )
    assert patched.status_code == 200 and patched.json()["events"] == ["incident.resolved"]
    bad = a.request("PATCH", f"/webhooks/{hook_id}", "admin", json={"events": ["nope"]})
    assert bad.status_code == 422, bad.text
    receiver.status = 500
    failed = a.post(f"/webhooks/{hook_id}/test", "admin")
    assert failed.status_code == 502 and "500" in failed.text
    assert a.request("DELETE", f"/webhooks/{hook_id}", "admin").status_code == 204
    assert a.get(f"/webhooks/{hook_id}").status_code == 404
    assert a.get("/webhooks/not-a-uuid").status_code == 404

    entries = a.services.tenancy.audit_entries(a.services.actor, entity_type="webhook", limit=50)
    assert sorted(e.action.value for e in entries) == ["create", "create", "delete", "update"]
    assert WHSEC not in json.dumps([e.changes for e in entries])
    # The channels of webhooks are not alert channels to list.
    assert a.get("/alert-channels").json()["items"] == []
