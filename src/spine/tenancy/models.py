"""Tenancy's records: organizations, workspaces, users, API keys, audit entries, actors.

An organization owns workspaces; a workspace owns everything a team makes (runs,
schedules, channels, alerts, sources, connections ...). An :class:`Actor` is who makes a
change, in which workspace: the CLI (the trusted operator, no key) or an API key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from spine.core.workspaces import (
    DEFAULT_NAME,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_WORKSPACE_ID,
)

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_NAME",
    "DEFAULT_ORGANIZATION_ID",
    "DEFAULT_WORKSPACE_ID",
    "Actor",
    "ApiKey",
    "ApiScope",
    "AuditAction",
    "AuditEntry",
    "NewApiKey",
    "Organization",
    "Role",
    "User",
    "Workspace",
]


class ApiScope(StrEnum):
    """What an API key may do.

    ``read`` covers GETs; ``write`` covers changes and starting work; ``admin`` covers
    API keys, and connections and channels with their secrets. A scope does not imply
    another: a key meant to do everything holds all three.
    """

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


ALL_SCOPES = frozenset(ApiScope)


class AuditAction(StrEnum):
    """Spec 004's ``audit_log.action`` values."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who changes things, and in which workspace.

    Attributes:
        workspace_id: The workspace every read and write is confined to.
        api_key_id: The API key of the request; ``None`` for the CLI.
        scopes: What the actor may do (the CLI may do everything).
        system: Spine itself (the scheduler starting a run, a listener recording an
            alert): confined to the workspace like anyone, but its changes are the
            engine's history, not users' edits, and write no audit rows.
        user_id: The user (``core.users``) an API key acts for, when it names one
            (``alerts/mine``, acknowledging alerts); ``None`` for the CLI and for keys
            made without ``--user``.
    """

    workspace_id: uuid.UUID = DEFAULT_WORKSPACE_ID
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[ApiScope] = ALL_SCOPES
    system: bool = False
    user_id: uuid.UUID | None = None

    @classmethod
    def system_in(cls, workspace_id: uuid.UUID | str | None) -> Actor:
        """Spine itself acting in ``workspace_id`` (the default one when ``None``)."""
        if workspace_id is None:
            return cls(system=True)
        if isinstance(workspace_id, str):
            workspace_id = uuid.UUID(workspace_id)
        return cls(workspace_id=workspace_id, system=True)

    @property
    def is_operator(self) -> bool:
        """Whether this is the CLI (no API key, not spine itself)."""
        return self.api_key_id is None and not self.system


#: The CLI in the default workspace: what a laptop user is without naming anything.
OPERATOR = Actor()


def _columns(record: object) -> dict[str, Any]:
    """A record's fields by name (its table's column names), values as they are."""
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """Spec 004's ``organizations`` row."""

    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The row by its column names (``--json`` and the API)."""
        return _columns(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """Spec 004's ``workspaces`` row, with its organization's name."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime
    organization_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The row by its column names (``--json`` and the API)."""
        return _columns(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """Spec 003's ``core.users`` row."""

    id: uuid.UUID
    email: str
    display_name: str | None
    is_active: bool
    created_date: datetime
    updated_date: datetime

    def to_dict(self) -> dict[str, Any]:
        """The row by its column names (``--json`` and the API)."""
        return _columns(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """Spec 004's ``api_keys`` row, without its digest (which never leaves the store)."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    key_prefix: str
    scopes: frozenset[ApiScope]
    last_used_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None = None
    #: The user (``core.users``) the key acts for (``keys create --user``); ``None``
    #: for a key of no one in particular.
    user_id: uuid.UUID | None = None

    def usable_at(self, now: datetime) -> bool:
        """Whether the key authenticates at ``now``: not revoked, not expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def actor(self) -> Actor:
        """The actor a request with this key is."""
        return Actor(
            workspace_id=self.workspace_id,
            api_key_id=self.id,
            scopes=self.scopes,
            user_id=self.user_id,
        )

    def to_dict(self) -> dict[str, Any]:
        """The row by its column names, scopes sorted; never the digest (not held here)."""
        return {**_columns(self), "scopes": sorted(s.value for s in self.scopes)}


@dataclass(frozen=True, slots=True, kw_only=True)
class NewApiKey:
    """A key just made: the record, and the key itself, shown this once."""

    key: ApiKey
    secret: str = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """What the creator is shown, this once: the key with its record's fields."""
        made = self.key
        return {
            "id": made.id,
            "name": made.name,
            "key": self.secret,
            "key_prefix": made.key_prefix,
            "scopes": sorted(s.value for s in made.scopes),
            "expires_at": made.expires_at,
            "workspace_id": made.workspace_id,
            "created_at": made.created_at,
            # Only for a key made for a user, so that other keys' output is as it was.
            **({"user_id": made.user_id} if made.user_id is not None else {}),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """A role of a workspace (``core.roles``): alerts are addressed to it by name.

    Attributes:
        members: The emails of the users who hold it, sorted.
    """

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    description: str | None
    created_date: datetime
    members: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The row by its column names, with ``members`` as a list."""
        return {**_columns(self), "members": list(self.members)}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """Spec 004's ``audit_log`` row.

    Attributes:
        entity_id: The changed object's id as a UUID (a ULID in its UUID form).
        changes: ``{"field": {"old": ..., "new": ...}}``; secrets only as changed.
        api_key_id: The API key that made the change; ``None`` for the CLI.
    """

    id: int
    workspace_id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    action: AuditAction
    api_key_id: uuid.UUID | None
    changes: Mapping[str, Any] | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The row by its column names, ``action`` as its text."""
        return {**_columns(self), "action": self.action.value}
