"""Who may call the API: a usable key (401), of the path's workspace (404), with the scope
(403), and not after too many failures from one address (429)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from spine.core.clock import FrozenClock
from spine.tenancy import ApiScope
from spine.tenancy.keys import new_key
from tests.api.conftest import LiveApi
from tests.api.tenants import Tenants

PROBLEM = "application/problem+json"


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_requests_without_a_usable_key_get_401(tenants: Tenants) -> None:
    a = tenants.a
    url = a.url("/api-keys")
    revoked = a.services.tenancy.create_key(a.services.actor, name="gone", scopes={ApiScope.READ})
    a.services.tenancy.revoke_key(a.services.actor, revoked.key.id)

    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": f"Basic {a.keys['all']}"},
        {"Authorization": f"Bearer {new_key()}"},
        {"Authorization": f"Bearer {a.keys['all'][:-1]}x"},
        {"Authorization": f"Bearer {revoked.secret}"},
    ):
        _assert_401(httpx.get(str(a.client.base_url) + url, headers=headers))


def test_an_expired_key_gets_401(tenants: Tenants) -> None:
    a = tenants.a
    clock = tenants.live.services.clock
    assert isinstance(clock, FrozenClock)
    made = a.services.tenancy.create_key(
        a.services.actor, name="short", scopes=frozenset({ApiScope.READ}), expires_in_days=1
    )
    headers = {"Authorization": f"Bearer {made.secret}"}
    assert a.client.get(a.url("/api-keys"), headers=headers).status_code == 200

    clock.advance(timedelta(days=1))

    _assert_401(a.client.get(a.url("/api-keys"), headers=headers))


def test_a_key_without_the_scope_gets_403(tenants: Tenants) -> None:
    a = tenants.a

    reading_with_write = a.get("/api-keys", "write")
    writing_with_read = a.post("/api-keys", "read", json={"name": "x"})

    for response in (reading_with_write, writing_with_read):
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM
        assert "scope" in response.json()["detail"]


def test_another_workspace_is_404_even_when_the_scope_is_also_wrong(tenants: Tenants) -> None:
    a, b = tenants.a, tenants.b

    for kind in ("read", "write", "admin", "all"):
        for method in ("GET", "POST"):
            response = b.client.request(
                method, a.url("/api-keys"), headers=b.headers(kind), json={"name": "x"}
            )
            assert response.status_code == 404, (kind, method)
            assert response.json()["detail"] == "unknown workspace"


def test_a_malformed_or_unknown_workspace_id_is_404(tenants: Tenants) -> None:
    a = tenants.a
    for workspace in ("nope", "1", str(uuid.uuid4()), "%00", "a" * 300):
        response = a.client.get(
            f"/api/v1/workspaces/{workspace}/api-keys", headers=a.headers("all")
        )
        assert response.status_code == 404, workspace
        assert response.headers["content-type"] == PROBLEM


def test_too_many_failures_from_one_address_get_429_even_with_a_good_key(
    api: LiveApi,
) -> None:
    limit = api.services.settings.api_auth_failures_per_minute
    bad = {"Authorization": f"Bearer {new_key()}"}
    default = "/api/v1/workspaces/" + str(api.services.actor.workspace_id) + "/api-keys"

    codes = [api.client.get(default, headers=bad).status_code for _ in range(limit)]
    after_bad = api.client.get(default, headers=bad)
    after_good = api.client.get(default)  # the client's own valid key, same address

    assert codes == [401] * limit
    for response in (after_bad, after_good):
        assert response.status_code == 429
        assert response.headers["content-type"] == PROBLEM
        assert 1 <= int(response.headers["retry-after"]) <= 60
    assert api.client.get("/health").status_code == 200


def test_health_and_the_openapi_document_are_open(api: LiveApi) -> None:
    for path in ("/health", "/openapi.json"):
        assert httpx.get(str(api.client.base_url) + path).status_code == 200


def test_last_used_at_is_written_once_a_minute_not_per_request(tenants: Tenants) -> None:
    a = tenants.a
    clock = tenants.live.services.clock
    assert isinstance(clock, FrozenClock)
    start = clock.now()
    key_id = a.key_ids["read"]

    def last_used() -> str | None:
        response = a.get(f"/api-keys/{key_id}", "read")
        assert response.status_code == 200
        value: str | None = response.json()["last_used_at"]
        return value

    first = last_used()
    clock.advance(timedelta(seconds=30))
    after_30_s = last_used()
    clock.advance(timedelta(seconds=31))
    after_61_s = last_used()

    assert first == after_30_s
    assert first is not None and first.startswith(start.isoformat()[:19])
    assert after_61_s is not None and after_61_s > first
