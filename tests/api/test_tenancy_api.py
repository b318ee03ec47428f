"""``/api-keys`` and ``/audit-log``: keys made, listed and revoked per workspace, audited."""

from __future__ import annotations

import logging
import uuid

import pytest

from spine.tenancy import ApiScope, keys
from tests.api.tenants import Tenants

JSON = {"Content-Type": "application/json"}


def _audit(tenants: Tenants, entity_id: str) -> list[dict[str, object]]:
    response = tenants.a.get(f"/audit-log?entity_id={entity_id}", "read")
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_an_admin_key_makes_a_key_shown_once_that_works(tenants: Tenants) -> None:
    a = tenants.a
    response = a.post(
        "/api-keys", "all", json={"name": "ci", "scopes": ["read"], "expires_in_days": 7}
    )

    assert response.status_code == 201, response.text
    made = response.json()
    assert made["key"].startswith(made["key_prefix"])
    assert made["scopes"] == ["read"]
    assert made["workspace_id"] == a.id
    assert made["expires_at"] is not None
    assert "key_hash" not in made
    listed = a.get("/api-keys", "read").json()["items"]
    assert made["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert made["key"] not in a.get("/api-keys", "read").text
    own = a.client.get(a.url("/api-keys"), headers={"Authorization": f"Bearer {made['key']}"})
    assert own.status_code == 200
    assert a.get(f"/api-keys/{made['id']}", "read").json()["name"] == "ci"


def test_making_and_revoking_keys_needs_admin(tenants: Tenants) -> None:
    a = tenants.a
    target = a.key_ids["read"]
    before = a.get("/audit-log?limit=200", "read").json()["items"]

    for kind in ("read", "write"):
        assert a.post("/api-keys", kind, json={"name": "x"}).status_code == 403
        assert a.post(f"/api-keys/{target}/revoke", kind).status_code == 403
        assert a.request("DELETE", f"/api-keys/{target}", kind).status_code == 403
    assert a.get(f"/api-keys/{target}", "read").json()["revoked_at"] is None
    assert a.get("/audit-log?limit=200", "read").json()["items"] == before


def test_a_key_cannot_grant_a_scope_it_lacks(tenants: Tenants) -> None:
    a = tenants.a

    refused = a.post("/api-keys", "admin", json={"name": "up", "scopes": ["admin", "write"]})
    allowed = a.post("/api-keys", "admin", json={"name": "same", "scopes": ["admin"]})

    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "write" in refused.json()["detail"]
    assert allowed.status_code == 201
    created = a.get("/audit-log?entity_type=api_key", "read").json()["items"]
    assert [e["entity_id"] for e in created if e["action"] == "create"].count(
        allowed.json()["id"]
    ) == 1
    assert all(e["changes"]["name"]["new"] != "up" for e in created if e["action"] == "create")


def test_a_revoked_key_gets_401_and_the_revocation_is_audited_with_the_key(
    tenants: Tenants,
) -> None:
    a = tenants.a
    made = a.post("/api-keys", "all", json={"name": "temp", "scopes": ["read"]}).json()
    headers = {"Authorization": f"Bearer {made['key']}"}

    revoked = a.post(f"/api-keys/{made['id']}/revoke", "admin")
    again = a.request("DELETE", f"/api-keys/{made['id']}", "admin")

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert again.status_code == 204
    assert a.client.get(a.url("/api-keys"), headers=headers).status_code == 401
    entries = _audit(tenants, made["id"])
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[0]["api_key_id"] == a.key_ids["admin"]
    assert entries[1]["api_key_id"] == a.key_ids["all"]
    assert entries[1]["changes"]["key_hash"] == {"old": None, "new": "[secret]"}  # type: ignore[index]
    assert made["key"] not in str(entries)


def test_another_workspace_cannot_see_or_revoke_a_key(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    a_key = a.key_ids["read"]

    for method, suffix in (
        ("GET", f"/api-keys/{a_key}"),
        ("POST", f"/api-keys/{a_key}/revoke"),
        ("DELETE", f"/api-keys/{a_key}"),
    ):
        # a's object in b's path, and a's path with b's key: both as if it did not exist.
        assert b.request(method, suffix, "all").status_code == 404
        response = b.client.request(method, a.url(suffix), headers=b.headers("all"))
        assert response.status_code == 404
    in_a_path = b.client.post(a.url("/api-keys"), headers=b.headers("all"), json={"name": "x"})
    assert in_a_path.status_code == 404
    assert a.get(f"/api-keys/{a_key}", "read").json()["revoked_at"] is None
    b_ids = {k["id"] for k in b.get("/api-keys?limit=200", "read").json()["items"]}
    assert b_ids == set(b.key_ids.values())
    b_audit = b.get("/audit-log?limit=200", "read").json()["items"]
    assert {e["workspace_id"] for e in b_audit} == {b.id}
    assert {e["entity_id"] for e in b_audit} == {*b.key_ids.values(), b.id}


def test_body_fields_naming_a_workspace_or_an_id_are_ignored(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b
    forced = str(uuid.uuid4())

    response = a.post(
        "/api-keys",
        "all",
        json={
            "name": "sneaky",
            "scopes": ["read"],
            "id": forced,
            "workspace_id": b.id,
            "organization_id": str(uuid.uuid4()),
            "created_by": "someone",
            "key": "spk_" + "A" * 43,
        },
    )

    assert response.status_code == 201
    made = response.json()
    assert made["workspace_id"] == a.id
    assert made["id"] != forced
    assert made["key"] != "spk_" + "A" * 43
    assert "sneaky" not in b.get("/api-keys", "read").text


def test_malformed_and_unknown_key_ids_are_404(tenants: Tenants) -> None:
    a = tenants.a
    for key_id in ("not-an-id", str(uuid.uuid4()), "1' OR '1'='1"):
        for method, suffix in (
            ("GET", f"/api-keys/{key_id}"),
            ("POST", f"/api-keys/{key_id}/revoke"),
            ("DELETE", f"/api-keys/{key_id}"),
        ):
            response = a.request(method, suffix, "all")
            assert response.status_code == 404, (method, suffix, response.text)
            assert response.json()["detail"].startswith("unknown API key")


def test_key_listing_pages_by_creation_and_never_repeats(tenants: Tenants) -> None:
    a = tenants.a
    for n in range(5):
        assert a.post("/api-keys", "all", json={"name": f"k{n}"}).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = a.get("/api-keys", "read", params=params).json()
        assert len(body["items"]) <= 2
        seen += [k["id"] for k in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 9
    b_cursor = tenants.b.get("/api-keys?limit=1", "read").json()["next_cursor"]
    assert a.get("/api-keys", "read", params={"cursor": b_cursor}).status_code == 400
    audit_cursor = a.get("/audit-log?limit=1", "read").json()["next_cursor"]
    assert a.get("/api-keys", "read", params={"cursor": audit_cursor}).status_code == 400
    assert a.get("/api-keys", "read", params={"limit": 201}).status_code == 422


def test_audit_log_filters_and_pages(tenants: Tenants) -> None:
    a = tenants.a
    made = [a.post("/api-keys", "all", json={"name": f"k{n}"}).json() for n in range(3)]
    a.post(f"/api-keys/{made[0]['id']}/revoke", "all")

    by_entity = _audit(tenants, made[0]["id"])
    first = a.get("/audit-log?limit=2&entity_type=api_key", "read").json()
    rest = a.get(
        "/audit-log", "read", params={"entity_type": "api_key", "cursor": first["next_cursor"]}
    ).json()
    future = a.get("/audit-log", "read", params={"since": "2999-01-01T00:00:00Z"}).json()

    assert [e["action"] for e in by_entity] == ["update", "create"]
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(set(ids)) == 8  # 4 keys of make_tenant, 3 made, 1 revoked
    assert rest["next_cursor"] is None
    assert future["items"] == []
    assert a.get("/audit-log?entity_id=nope", "read").status_code == 422
    assert a.get("/audit-log?since=yesterday", "read").status_code == 422


def test_operator_changes_are_in_the_audit_log_without_a_key(tenants: Tenants) -> None:
    a = tenants.a
    made = a.services.tenancy.create_key(
        a.services.actor, name="cli made", scopes=frozenset({ApiScope.READ})
    )
    entries = _audit(tenants, str(made.key.id))

    assert [(e["action"], e["api_key_id"]) for e in entries] == [("create", None)]


def test_a_key_never_appears_in_a_response_the_audit_log_or_the_logs(
    tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    a = tenants.a
    caplog.set_level(logging.DEBUG)
    made = a.post("/api-keys", "all", json={"name": "sentinel", "scopes": ["read"]}).json()
    secret, key_id = made["key"], made["id"]
    digest = keys.digest(secret)
    headers = {"Authorization": f"Bearer {secret}"}

    answers = [
        a.client.get(a.url("/api-keys"), headers=headers),
        a.get(f"/api-keys/{key_id}", "read"),
        a.get("/audit-log?limit=200", "read"),
        a.post(f"/api-keys/{key_id}/revoke", "admin"),
        a.client.get(a.url("/api-keys"), headers=headers),  # revoked: 401
        a.client.get(a.url("/api-keys"), headers={"Authorization": f"Bearer {secret[:-1]}A"}),
        a.post("/api-keys", "all", content=b"{" + secret.encode(), headers=JSON),
    ]
    audit = a.services.tenancy.audit_entries(a.services.actor, limit=200)

    assert [r.status_code for r in answers] == [200, 200, 200, 200, 401, 401, 422]
    for text in [*(r.text for r in answers), str([e.to_dict() for e in audit]), caplog.text]:
        assert secret not in text
        assert secret[len(made["key_prefix"]) :] not in text
        assert digest not in text
