"""Tenancy: organizations own workspaces, workspaces own what a team makes.

API keys (with scopes, expiry and revocation) let a request act in one workspace; every
create, update and delete of a workspace object writes one ``audit_log`` row in the
transaction of the change. ``docs/tenancy.md`` explains the whole.
"""

from __future__ import annotations

from spine.tenancy.audit import Change, changes_between, entity_uuid
from spine.tenancy.errors import PermissionDenied, Unauthenticated
from spine.tenancy.models import (
    ALL_SCOPES,
    DEFAULT_NAME,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_WORKSPACE_ID,
    OPERATOR,
    Actor,
    ApiKey,
    ApiScope,
    AuditAction,
    AuditEntry,
    NewApiKey,
    Organization,
    Role,
    User,
    Workspace,
)
from spine.tenancy.service import TenancyService, parse_scopes

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_NAME",
    "DEFAULT_ORGANIZATION_ID",
    "DEFAULT_WORKSPACE_ID",
    "OPERATOR",
    "Actor",
    "ApiKey",
    "ApiScope",
    "AuditAction",
    "AuditEntry",
    "Change",
    "NewApiKey",
    "Organization",
    "PermissionDenied",
    "Role",
    "TenancyService",
    "Unauthenticated",
    "User",
    "Workspace",
    "changes_between",
    "entity_uuid",
    "parse_scopes",
]
