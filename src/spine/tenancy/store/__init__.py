"""Tenancy on spine's database: organizations, workspaces, users, API keys, the audit log.

Each method is one transaction. A key's digest is read only by :meth:`keys_with_prefix`
and never leaves this package in a record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.clock import Clock
from spine.core.errors import Conflict, NotFound
from spine.core.storage import Database
from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.automation import users as users_t
from spine.core.storage.schema.dq_platform import api_keys as keys_t
from spine.core.storage.schema.dq_platform import organizations as orgs_t
from spine.core.storage.schema.dq_platform import workspaces as workspaces_t
from spine.tenancy.audit import Change, changes_between
from spine.tenancy.models import (
    Actor,
    ApiKey,
    ApiScope,
    AuditAction,
    AuditEntry,
    Organization,
    User,
    Workspace,
)
from spine.tenancy.store import audit, roles
from spine.tenancy.store.audit import record

__all__ = ["ApiKeyNotFound", "TenancyStore", "WorkspaceNotFound", "record"]


class OrganizationNotFound(NotFound):
    """No organization has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown organization {name!r}")


class WorkspaceNotFound(NotFound):
    """No workspace has this name or id."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"unknown workspace {ref!r}: `spine workspaces list` shows them, "
            "`spine workspaces create NAME --org ORG` adds one"
        )


class ApiKeyNotFound(NotFound):
    """No API key of the workspace has this id."""

    def __init__(self, key_id: object) -> None:
        super().__init__(f"unknown API key {str(key_id)!r}")


class TenancyStore:
    """Organizations, workspaces, users, API keys and audit entries.

    Args:
        database: Spine's database.
        clock: Where creation times come from.
    """

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    # ---------------------------------------------------------- organizations

    def create_organization(self, name: str) -> Organization:
        """Insert an organization.

        Raises:
            Conflict: If one has that name.
            InvalidInput: If the name is longer than its column.
        """
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "name": name,
            "created_at": now,
            "updated_at": now,
        }
        check_lengths(orgs_t, values, what="organization")

        def work(conn: sa.Connection) -> None:
            if conn.execute(sa.select(orgs_t.c.id).where(orgs_t.c.name == name)).first():
                raise Conflict(f"organization {name!r} already exists")
            conn.execute(sa.insert(orgs_t).values(values))

        try:
            self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"organization {name!r} already exists") from None
        return Organization(**values)

    def organizations(self) -> list[Organization]:
        """Every organization, by name."""
        rows = self.database.run_read(
            lambda conn: conn.execute(sa.select(orgs_t).order_by(orgs_t.c.name)).mappings().all()
        )
        return [Organization(**dict(row)) for row in rows]

    # ------------------------------------------------------------- workspaces

    def create_workspace(self, name: str, organization: str, actor: Actor) -> Workspace:
        """Insert a workspace of the organization named ``organization``.

        The creation is audited in the new workspace.

        Raises:
            OrganizationNotFound: If there is no such organization.
            Conflict: If the organization has a workspace of that name.
        """
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "name": name,
            "created_at": now,
            "updated_at": now,
        }
        check_lengths(workspaces_t, values, what="workspace")

        def work(conn: sa.Connection) -> Workspace:
            org = conn.execute(sa.select(orgs_t.c.id).where(orgs_t.c.name == organization)).scalar()
            if org is None:
                raise OrganizationNotFound(organization)
            taken = conn.execute(
                sa.select(workspaces_t.c.id).where(
                    workspaces_t.c.organization_id == org, workspaces_t.c.name == name
                )
            ).first()
            if taken:
                raise Conflict(f"organization {organization!r} has a workspace {name!r}")
            row = {**values, "organization_id": org}
            conn.execute(sa.insert(workspaces_t).values(row))
            owner = Actor(workspace_id=row["id"], api_key_id=actor.api_key_id)
            change = Change(
                entity_type="workspace",
                entity_id=row["id"],
                action=AuditAction.CREATE,
                changes=changes_between(None, {"name": name, "organization": organization}),
            )
            record(conn, owner, change, now)
            return Workspace(**row, organization_name=organization)

        try:
            return self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"organization {organization!r} has a workspace {name!r}") from None

    def workspaces(self) -> list[Workspace]:
        """Every workspace, by organization and name."""
        return self.database.run_read(lambda conn: self._workspaces(conn, sa.true()))

    def workspace(self, ref: str) -> Workspace:
        """The workspace ``ref`` names: its id, ``ORG/NAME``, or a ``NAME`` only one has.

        Raises:
            WorkspaceNotFound: If none matches, or the name is ambiguous (the message
                says so and asks for ``ORG/NAME``).
        """
        text = ref.strip()
        try:
            as_id: uuid.UUID | None = uuid.UUID(text)
        except ValueError:
            as_id = None
        if as_id is not None:
            where: sa.ColumnElement[bool] = workspaces_t.c.id == as_id
        elif "/" in text:
            org, _, name = text.partition("/")
            where = sa.and_(orgs_t.c.name == org, workspaces_t.c.name == name)
        else:
            where = workspaces_t.c.name == text
        found = self.database.run_read(lambda conn: self._workspaces(conn, where))
        if len(found) > 1:
            orgs = ", ".join(f"{w.organization_name}/{w.name}" for w in found)
            raise WorkspaceNotFound(f"{ref} (several organizations have it: {orgs})")
        if not found:
            raise WorkspaceNotFound(ref)
        return found[0]

    def _workspaces(self, conn: sa.Connection, where: sa.ColumnElement[bool]) -> list[Workspace]:
        query = (
            sa.select(workspaces_t, orgs_t.c.name.label("organization_name"))
            .join(orgs_t, orgs_t.c.id == workspaces_t.c.organization_id)
            .where(where)
            .order_by(orgs_t.c.name, workspaces_t.c.name)
        )
        return [Workspace(**dict(row)) for row in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ users

    def add_user(self, email: str, display_name: str | None) -> User:
        """Insert a user (spec 003's ``core.users``; users are shared by workspaces).

        Raises:
            Conflict: If a user has that email (compared without case).
        """
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "email": email,
            "display_name": display_name,
            "is_active": True,
            "created_date": now,
            "updated_date": now,
        }
        check_lengths(users_t, values, what="user")

        def work(conn: sa.Connection) -> None:
            taken = conn.execute(
                sa.select(users_t.c.id).where(sa.func.lower(users_t.c.email) == email.lower())
            ).first()
            if taken:
                raise Conflict(f"user {email!r} already exists")
            conn.execute(sa.insert(users_t).values(values))

        try:
            self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"user {email!r} already exists") from None
        return User(**values)

    def users(self) -> list[User]:
        """Every user, by email."""
        rows = self.database.run_read(
            lambda conn: conn.execute(sa.select(users_t).order_by(users_t.c.email)).mappings().all()
        )
        return [User(**dict(row)) for row in rows]

    # --------------------------------------------------------------- API keys

    def add_key(
        self,
        actor: Actor,
        *,
        name: str,
        prefix: str,
        key_digest: str,
        scopes: frozenset[ApiScope],
        expires_at: datetime | None,
        user: str | None = None,
    ) -> ApiKey:
        """Insert a key of ``actor``'s workspace, audited (the digest only as changed).

        ``user``: the email of the user the key acts for (``api_keys.user_id``).

        Raises:
            UserNotFound: If no user has that email.
        """
        now = self.clock.now()
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "workspace_id": actor.workspace_id,
            "name": name,
            "key_prefix": prefix,
            "key_hash": key_digest,
            "scopes": sorted(scope.value for scope in scopes),
            "expires_at": expires_at,
            "created_at": now,
        }
        check_lengths(keys_t, values, what="API key")
        shown = {k: v for k, v in values.items() if k not in ("id", "workspace_id")}

        def work(conn: sa.Connection) -> None:
            if user is not None:
                found = roles.user_id(conn, user)
                if found is None:
                    raise roles.UserNotFound(user)
                values["user_id"] = found
                shown["user"] = user.strip()
            conn.execute(sa.insert(keys_t).values(values))
            change = Change(
                entity_type="api_key",
                entity_id=values["id"],
                action=AuditAction.CREATE,
                changes=changes_between(None, shown, secrets=("key_hash",)),
            )
            record(conn, actor, change, now)

        self.database.run_write(work)
        return _key({"user_id": None, **values, "last_used_at": None, "revoked_at": None})

    def keys(
        self,
        workspace_id: uuid.UUID,
        *,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int | None = None,
    ) -> list[ApiKey]:
        """The workspace's keys, revoked ones too, newest first (then by id, descending).

        ``after`` continues a listing after the key with that ``(created_at, id)``.
        """
        query = (
            sa.select(*_KEY_COLUMNS)
            .where(keys_t.c.workspace_id == workspace_id)
            .order_by(keys_t.c.created_at.desc(), keys_t.c.id.desc())
        )
        if after is not None:
            at, key_id = after
            query = query.where(
                sa.or_(
                    keys_t.c.created_at < at,
                    sa.and_(keys_t.c.created_at == at, keys_t.c.id < key_id),
                )
            )
        if limit is not None:
            query = query.limit(limit)
        rows = self.database.run_read(lambda conn: conn.execute(query).mappings().all())
        return [_key(row) for row in rows]

    def key(self, workspace_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
        """One key of the workspace.

        Raises:
            ApiKeyNotFound: If the workspace has no key with that id.
        """
        query = sa.select(*_KEY_COLUMNS).where(
            keys_t.c.workspace_id == workspace_id, keys_t.c.id == key_id
        )
        row = self.database.run_read(lambda conn: conn.execute(query).mappings().first())
        if row is None:
            raise ApiKeyNotFound(key_id)
        return _key(row)

    def revoke_key(self, actor: Actor, key_id: uuid.UUID) -> ApiKey:
        """Revoke a key of ``actor``'s workspace (revoking twice changes nothing).

        Raises:
            ApiKeyNotFound: If the workspace has no key with that id.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> dict[str, Any]:
            row = (
                conn.execute(
                    sa.select(*_KEY_COLUMNS).where(
                        keys_t.c.workspace_id == actor.workspace_id, keys_t.c.id == key_id
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise ApiKeyNotFound(key_id)
            if row["revoked_at"] is not None:
                return dict(row)
            conn.execute(sa.update(keys_t).where(keys_t.c.id == key_id).values(revoked_at=now))
            change = Change(
                entity_type="api_key",
                entity_id=key_id,
                action=AuditAction.UPDATE,
                changes=changes_between({"revoked_at": None}, {"revoked_at": now}),
            )
            record(conn, actor, change, now)
            return {**row, "revoked_at": now}

        return _key(self.database.run_write(work))

    def keys_with_prefix(self, prefix: str) -> list[tuple[ApiKey, str]]:
        """Every key whose ``key_prefix`` is ``prefix``, with its digest (to compare)."""
        query = sa.select(*_KEY_COLUMNS, keys_t.c.key_hash).where(keys_t.c.key_prefix == prefix)
        rows = self.database.run_read(lambda conn: conn.execute(query).mappings().all())
        return [(_key(row), row["key_hash"]) for row in rows]

    def mark_used(self, key_ids: Iterable[uuid.UUID], at: datetime) -> None:
        """Set ``last_used_at`` of the keys to ``at`` (never moving it back)."""
        ids = list(key_ids)
        if not ids:
            return
        self.database.run_write(
            lambda conn: conn.execute(
                sa.update(keys_t)
                .where(
                    keys_t.c.id.in_(ids),
                    sa.or_(keys_t.c.last_used_at.is_(None), keys_t.c.last_used_at < at),
                )
                .values(last_used_at=at)
            )
        )

    # -------------------------------------------------------------- audit log

    def audit_entries(
        self,
        workspace_id: uuid.UUID,
        *,
        entity_type: str | None = None,
        entity_id: uuid.UUID | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """The workspace's audit entries, newest first (see :func:`audit.entries`)."""
        return self.database.run_read(
            lambda conn: audit.entries(
                conn,
                workspace_id,
                entity_type=entity_type,
                entity_id=entity_id,
                action=action,
                since=since,
                before_id=before_id,
                limit=limit,
            )
        )


_KEY_COLUMNS = tuple(c for c in keys_t.c if c.name != "key_hash")


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        key_prefix=row["key_prefix"],
        scopes=frozenset(ApiScope(s) for s in row["scopes"] or ()),
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        user_id=row.get("user_id"),
    )
