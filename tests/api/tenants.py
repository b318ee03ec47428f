"""Two organizations, each with a workspace and API keys of every scope, on a live API.

Every router's tests use these to show that a key sees its own workspace only, that a
scope is needed, and that what one tenant makes the other cannot reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from spine.bootstrap import Services
from spine.tenancy import ALL_SCOPES, Actor, ApiScope, Workspace

if TYPE_CHECKING:
    from tests.api.conftest import LiveApi

#: Key names in :attr:`Tenant.keys`: one per scope, and one holding all three.
KEY_KINDS: dict[str, frozenset[ApiScope]] = {
    "read": frozenset({ApiScope.READ}),
    "write": frozenset({ApiScope.WRITE}),
    "admin": frozenset({ApiScope.ADMIN}),
    "all": ALL_SCOPES,
}


@dataclass
class Tenant:
    """One organization's workspace, its keys, and services acting in it as the CLI."""

    workspace: Workspace
    keys: dict[str, str]
    services: Services
    client: httpx.Client
    key_ids: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The workspace id as the API's paths name it."""
        return str(self.workspace.id)

    def url(self, suffix: str = "") -> str:
        """``/api/v1/workspaces/{id}`` followed by ``suffix``."""
        return f"/api/v1/workspaces/{self.id}{suffix}"

    def headers(self, kind: str = "all") -> dict[str, str]:
        """The Authorization header of this tenant's ``kind`` key."""
        return {"Authorization": f"Bearer {self.keys[kind]}"}

    def request(self, method: str, suffix: str, kind: str = "all", **kwargs: Any) -> httpx.Response:
        """Call this tenant's ``suffix`` with its ``kind`` key."""
        headers = {**self.headers(kind), **kwargs.pop("headers", {})}
        return self.client.request(method, self.url(suffix), headers=headers, **kwargs)

    def get(self, suffix: str, kind: str = "all", **kwargs: Any) -> httpx.Response:
        """GET with this tenant's ``kind`` key."""
        return self.request("GET", suffix, kind, **kwargs)

    def post(self, suffix: str, kind: str = "all", **kwargs: Any) -> httpx.Response:
        """POST with this tenant's ``kind`` key."""
        return self.request("POST", suffix, kind, **kwargs)


@dataclass
class Tenants:
    """Two tenants, ``a`` and ``b``, on one live API."""

    a: Tenant
    b: Tenant
    live: LiveApi


def make_tenant(live: LiveApi, org: str, workspace: str) -> Tenant:
    """Create ``org`` with ``workspace`` and one key of each kind in :data:`KEY_KINDS`."""
    tenancy = live.services.tenancy
    tenancy.create_organization(org)
    made = tenancy.create_workspace(workspace, org, Actor())
    operator = Actor(workspace_id=made.id)
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    for kind, scopes in KEY_KINDS.items():
        new = tenancy.create_key(operator, name=f"{kind} key", scopes=scopes)
        keys[kind] = new.secret
        key_ids[kind] = str(new.key.id)
    return Tenant(
        workspace=made,
        keys=keys,
        services=live.services.for_actor(operator),
        client=live.client,
        key_ids=key_ids,
    )
