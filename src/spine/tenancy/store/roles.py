"""Roles of a workspace (``core.roles``) and who holds them (``core.user_roles``).

Alerts for people are addressed to users by email and to roles by name; these are the
look-ups the automation part resolves them with, on the caller's connection, and the
store :class:`RoleStore` behind ``spine roles``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from spine.core.errors import Conflict, InvalidInput, NotFound
from spine.core.storage import Database
from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.automation import roles as roles_t
from spine.core.storage.schema.automation import user_roles as members_t
from spine.core.storage.schema.automation import users as users_t
from spine.tenancy.audit import Change, changes_between
from spine.tenancy.models import Actor, AuditAction, Role
from spine.tenancy.store.audit import record

__all__ = [
    "RoleNotFound",
    "RoleStore",
    "UserNotFound",
    "role_id",
    "role_ids_of",
    "user_email",
    "user_id",
]


class UserNotFound(NotFound):
    """No user has this email."""

    def __init__(self, email: str) -> None:
        super().__init__(f"unknown user {email!r}: `spine users add EMAIL` adds one")


class RoleNotFound(NotFound):
    """The workspace has no role of this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown role {name!r}: `spine roles add NAME` adds one")


def user_id(conn: sa.Connection, email: str) -> uuid.UUID | None:
    """The id of the user with ``email`` (compared without case), or ``None``."""
    found = conn.execute(
        sa.select(users_t.c.id).where(sa.func.lower(users_t.c.email) == email.strip().lower())
    ).scalar_one_or_none()
    return None if found is None else uuid.UUID(str(found))


def user_email(conn: sa.Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The emails of the users with these ids, by id."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(sa.select(users_t.c.id, users_t.c.email).where(users_t.c.id.in_(wanted)))
    return {uuid.UUID(str(row.id)): row.email for row in rows}


def role_id(conn: sa.Connection, workspace_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The id of the workspace's role ``name``, or ``None``."""
    found = conn.execute(
        sa.select(roles_t.c.id).where(
            roles_t.c.workspace_id == workspace_id, roles_t.c.name == name.strip()
        )
    ).scalar_one_or_none()
    return None if found is None else uuid.UUID(str(found))


def role_ids_of(conn: sa.Connection, workspace_id: uuid.UUID, user: uuid.UUID) -> set[uuid.UUID]:
    """The ids of the workspace's roles that ``user`` holds."""
    rows = conn.execute(
        sa.select(roles_t.c.id)
        .select_from(roles_t.join(members_t, members_t.c.role_id == roles_t.c.id))
        .where(roles_t.c.workspace_id == workspace_id, members_t.c.user_id == user)
    ).scalars()
    return {uuid.UUID(str(r)) for r in rows}


def member_emails(conn: sa.Connection, role: uuid.UUID) -> list[str]:
    """The emails of the users who hold ``role``, sorted."""
    rows = conn.execute(
        sa.select(users_t.c.email)
        .select_from(users_t.join(members_t, members_t.c.user_id == users_t.c.id))
        .where(members_t.c.role_id == role)
        .order_by(users_t.c.email)
    ).scalars()
    return list(rows)


class RoleStore:
    """Roles of workspaces and their members; every change audited in its workspace.

    Args:
        database: Spine's database.
        now: Where creation times come from (the tenancy store's clock).
    """

    def __init__(self, database: Database, now: Any) -> None:
        self.database = database
        self._now = now

    def add(self, actor: Actor, name: str, description: str | None) -> Role:
        """Insert a role of ``actor``'s workspace.

        Raises:
            Conflict: If the workspace has a role of that name.
            InvalidInput: If the name is empty or longer than its column.
        """
        text = name.strip()
        if not text:
            raise InvalidInput("a role needs a name")
        now: datetime = self._now()
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "workspace_id": actor.workspace_id,
            "name": text,
            "description": description,
            "created_date": now,
        }
        check_lengths(roles_t, values, what="role")

        def work(conn: sa.Connection) -> None:
            if role_id(conn, actor.workspace_id, text) is not None:
                raise Conflict(f"role {text!r} already exists")
            conn.execute(sa.insert(roles_t).values(values))
            shown = {"name": text, "description": description}
            change = Change(
                entity_type="role",
                entity_id=values["id"],
                action=AuditAction.CREATE,
                changes=changes_between(None, shown),
            )
            record(conn, actor, change, now)

        try:
            self.database.run_write(work)
        except exc.IntegrityError:
            raise Conflict(f"role {text!r} already exists") from None
        return Role(**values)

    def assign(self, actor: Actor, name: str, email: str) -> Role:
        """Give the user with ``email`` the role ``name`` (giving it twice changes nothing).

        Raises:
            RoleNotFound: If the workspace has no such role.
            UserNotFound: If no user has that email.
        """
        now: datetime = self._now()

        def work(conn: sa.Connection) -> Role:
            role = role_id(conn, actor.workspace_id, name)
            if role is None:
                raise RoleNotFound(name)
            user = user_id(conn, email)
            if user is None:
                raise UserNotFound(email)
            held = conn.execute(
                sa.select(members_t.c.id).where(
                    members_t.c.role_id == role, members_t.c.user_id == user
                )
            ).first()
            if held is None:
                conn.execute(
                    sa.insert(members_t).values(
                        id=uuid.uuid4(), role_id=role, user_id=user, created_date=now
                    )
                )
                change = Change(
                    entity_type="role",
                    entity_id=role,
                    action=AuditAction.UPDATE,
                    changes=changes_between({"member": None}, {"member": email.strip()}),
                )
                record(conn, actor, change, now)
            return self._roles(conn, actor.workspace_id, role)[0]

        return self.database.run_write(work)

    def roles(self, workspace_id: uuid.UUID) -> list[Role]:
        """The workspace's roles by name, with their members."""
        return self.database.run_read(lambda conn: self._roles(conn, workspace_id, None))

    def _roles(
        self, conn: sa.Connection, workspace_id: uuid.UUID, only: uuid.UUID | None
    ) -> list[Role]:
        query = sa.select(roles_t).where(roles_t.c.workspace_id == workspace_id)
        if only is not None:
            query = query.where(roles_t.c.id == only)
        found = []
        for row in conn.execute(query.order_by(roles_t.c.name)).mappings():
            members = tuple(member_emails(conn, row["id"]))
            found.append(Role(**dict(row), members=members))
        return found
