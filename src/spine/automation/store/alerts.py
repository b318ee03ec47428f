"""Spec 003 alerts for people: ``alerts``, ``alert_recipients``, ``alert_acknowledgments``.

Functions on the caller's connection (the ``create_alert`` and ``seek_approval`` actions
write in the transaction that keeps their result) and :class:`AlertStore`, bound to an
actor's workspace, behind :class:`spine.automation.people.AlertInbox`.

A user reaches an alert when it is addressed to them or to a role of the alert's
workspace they hold; anyone else is told the alert does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.automation.errors import AlertNotFound
from spine.automation.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    Decision,
    Operation,
    Recipient,
    RecipientType,
)
from spine.automation.store.changes import append, row_json
from spine.core.errors import Conflict, InvalidInput
from spine.core.events import Connection as EventConnection
from spine.core.storage import Database, sql_connection
from spine.core.storage.schema.automation import alert_acknowledgments as acks_t
from spine.core.storage.schema.automation import alert_recipients as recipients_t
from spine.core.storage.schema.automation import alerts as alerts_t
from spine.core.storage.schema.automation import automation_executions as executions_t
from spine.core.storage.schema.automation import entities as entities_t
from spine.core.storage.schema.automation import roles as roles_t
from spine.tenancy.bound import ActorBound
from spine.tenancy.models import Actor
from spine.tenancy.store.roles import role_id, role_ids_of, user_email, user_id

__all__ = [
    "AlertStore",
    "insert_alert",
    "resolve_expired",
    "resolve_recipients",
]

#: Statuses a person may still act on.
OPEN = (AlertStatus.ACTIVE.value, AlertStatus.ACKNOWLEDGED.value)
ALERTS_TABLE = "alerts"


def resolve_recipients(
    conn: EventConnection, workspace_id: uuid.UUID, given: Sequence[Any]
) -> list[Recipient]:
    """Recipients as a config gives them, resolved to ids.

    Each item is ``{type: user, email: ...}``, ``{type: role, name: ...}``, or a plain
    text: an email (has ``@``) or a role name.

    Raises:
        InvalidInput: If an item is malformed, or names no user or no role of the
            workspace (the message names it).
    """
    sql = sql_connection(conn)
    found: list[Recipient] = []
    for index, item in enumerate(given):
        kind, name = _recipient_ref(item, index)
        if kind is RecipientType.USER:
            ident = user_id(sql, name)
            if ident is None:
                raise InvalidInput(f"recipients[{index}]: unknown user {name!r}")
        else:
            ident = role_id(sql, workspace_id, name)
            if ident is None:
                raise InvalidInput(f"recipients[{index}]: unknown role {name!r}")
        recipient = Recipient(type=kind, id=ident, name=name)
        if recipient not in found:
            found.append(recipient)
    return found


def _recipient_ref(item: Any, index: int) -> tuple[RecipientType, str]:
    if isinstance(item, str) and item.strip():
        text = item.strip()
        return (RecipientType.USER if "@" in text else RecipientType.ROLE), text
    if isinstance(item, Mapping):
        kind = str(item.get("type") or ("user" if item.get("email") else "role"))
        if kind == RecipientType.USER.value and isinstance(item.get("email"), str):
            return RecipientType.USER, str(item["email"]).strip()
        if kind == RecipientType.ROLE.value and isinstance(item.get("name"), str):
            return RecipientType.ROLE, str(item["name"]).strip()
    raise InvalidInput(
        f"recipients[{index}]: expected {{type: user, email: ...}} or {{type: role, name: ...}}"
    )


def execution_exists(conn: EventConnection, execution_id: uuid.UUID) -> bool:
    """Whether the execution row is there yet (alerts and deliveries reference it)."""
    sql = sql_connection(conn)
    found = sql.execute(
        sa.select(executions_t.c.id).where(executions_t.c.id == execution_id)
    ).first()
    return found is not None


def is_watched(conn: EventConnection, workspace_id: uuid.UUID) -> bool:
    """Whether the workspace watches ``alerts`` (its changes then feed rules)."""
    sql = sql_connection(conn)
    found = sql.execute(
        sa.select(entities_t.c.id).where(
            entities_t.c.workspace_id == workspace_id,
            entities_t.c.name == ALERTS_TABLE,
            sa.or_(entities_t.c.is_active.is_(None), entities_t.c.is_active.is_(True)),
        )
    ).first()
    return found is not None


def insert_alert(
    conn: EventConnection,
    *,
    workspace_id: uuid.UUID,
    alert_type: str,
    severity: AlertSeverity,
    title: str,
    message: str,
    recipients: Sequence[Recipient],
    now: datetime,
    context: Mapping[str, Any] | None = None,
    source_entity_name: str | None = None,
    source_entity_id: uuid.UUID | None = None,
    source_rule_id: uuid.UUID | None = None,
    expires_date: datetime | None = None,
    execution_id: uuid.UUID | None = None,
    depth: int = 0,
) -> uuid.UUID:
    """Insert an alert and its recipients; return its id.

    When the workspace watches ``alerts``, the insert is recorded in the change log at
    ``depth`` (rules may react to the alerts rules make, within the cascade limit).
    """
    sql = sql_connection(conn)
    alert_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": alert_id,
        "alert_type": alert_type,
        "severity": severity.value,
        "title": title,
        "message": message,
        "context": dict(context or {}),
        "source_entity_name": source_entity_name,
        "source_entity_id": source_entity_id,
        "source_rule_id": source_rule_id,
        "status": AlertStatus.ACTIVE.value,
        "expires_date": expires_date,
        "created_date": now,
        "updated_date": now,
        "workspace_id": workspace_id,
        "automation_execution_id": execution_id,
    }
    sql.execute(sa.insert(alerts_t).values(values))
    if recipients:
        sql.execute(
            sa.insert(recipients_t),
            [
                {
                    "id": uuid.uuid4(),
                    "alert_id": alert_id,
                    "recipient_type": r.type.value,
                    "recipient_id": r.id,
                    "created_date": now,
                }
                for r in recipients
            ],
        )
    if is_watched(sql, workspace_id):
        append(
            sql,
            table_name=ALERTS_TABLE,
            operation=Operation.INSERT,
            old=None,
            new=row_json(values),
            at=now,
            depth=depth,
            workspace_id=workspace_id,
        )
    return alert_id


def resolve_expired(database: Database, now: datetime) -> int:
    """Mark every open alert whose ``expires_date`` has passed ``resolved``; return how many.

    Across workspaces (the dispatcher calls it). One statement: safe to run from
    several dispatchers at once.
    """

    def work(conn: sa.Connection) -> int:
        result = conn.execute(
            sa.update(alerts_t)
            .where(
                alerts_t.c.status.in_(OPEN),
                alerts_t.c.expires_date.is_not(None),
                alerts_t.c.expires_date <= now,
            )
            .values(status=AlertStatus.RESOLVED.value, updated_date=now)
        )
        return int(result.rowcount or 0)

    return database.run_write(work, idempotent=True)


class AlertStore(ActorBound):
    """Alerts of :attr:`actor`'s workspace, read and acted on by people.

    Args:
        database: Spine's database.
        actor: Who acts, in which workspace.
    """

    def __init__(self, database: Database, actor: Actor) -> None:
        self.database = database
        self.actor = actor

    def user_of(self, email: str) -> uuid.UUID:
        """The id of the user with ``email``.

        Raises:
            InvalidInput: If there is none.
        """
        found = self.database.run_read(lambda conn: user_id(conn, email))
        if found is None:
            raise InvalidInput(f"unknown user {email!r}: `spine users add EMAIL` adds one")
        return found

    def alerts(
        self,
        *,
        user: uuid.UUID | None,
        status: AlertStatus | None,
        limit: int,
        after: uuid.UUID | None,
    ) -> list[Alert]:
        """The workspace's alerts newest first; for ``user``, those addressed to them.

        ``after``: the id of the last alert of the previous page.
        """

        def work(conn: sa.Connection) -> list[Alert]:
            a = alerts_t
            query = sa.select(a).where(a.c.workspace_id == self.workspace_id)
            if user is not None:
                query = query.where(self._reaches(conn, user))
            if status is not None:
                query = query.where(a.c.status == status.value)
            if after is not None:
                last = conn.execute(
                    sa.select(a.c.created_date).where(
                        a.c.id == after, a.c.workspace_id == self.workspace_id
                    )
                ).scalar_one_or_none()
                if last is None:
                    raise AlertNotFound(str(after))
                query = query.where(
                    sa.or_(
                        a.c.created_date < last,
                        sa.and_(a.c.created_date == last, a.c.id < after),
                    )
                )
            query = query.order_by(a.c.created_date.desc(), a.c.id.desc()).limit(limit)
            rows = conn.execute(query).mappings().all()
            return _alerts(conn, rows)

        return self.database.run_read(work)

    def alert(self, alert_id: uuid.UUID, *, user: uuid.UUID | None = None) -> Alert:
        """One alert of the workspace (for ``user``: only one addressed to them).

        Raises:
            AlertNotFound: If there is none the user may see.
        """

        def work(conn: sa.Connection) -> Alert:
            return _alerts(conn, [self._row(conn, alert_id, user)])[0]

        return self.database.run_read(work)

    def act(
        self,
        alert_id: uuid.UUID,
        user: uuid.UUID,
        *,
        status: AlertStatus,
        now: datetime,
        notes: str | None = None,
        decision: Decision | None = None,
    ) -> Alert:
        """Acknowledge, dismiss or decide an alert as ``user``, a recipient.

        Acknowledging and deciding write an ``alert_acknowledgments`` row (with
        ``notes``). When the workspace watches ``alerts`` the update is recorded in the
        change log, so that rules can react to it (an approval starting the next step).

        Raises:
            AlertNotFound: If the alert is not the workspace's or not addressed to
                ``user`` (directly or through a role).
            Conflict: If the alert is closed (dismissed, resolved), or was decided
                otherwise.
            InvalidInput: If a decision is asked of an alert that is no approval.
        """

        def work(conn: sa.Connection) -> Alert:
            old = dict(self._row(conn, alert_id, user, for_update=True))
            if old["status"] not in OPEN:
                raise Conflict(f"alert {alert_id} is {old['status']}: nothing to do")
            values: dict[str, Any] = {"status": status.value, "updated_date": now}
            if decision is not None:
                if old["alert_type"] != "approval":
                    raise InvalidInput(f"alert {alert_id} is no approval: acknowledge it")
                if old["decision"] is not None and old["decision"] != decision.value:
                    raise Conflict(f"alert {alert_id} was already {old['decision']}")
                values.update(decision=decision.value, decided_by=user, decided_at=now)
            conn.execute(sa.update(alerts_t).where(alerts_t.c.id == alert_id).values(values))
            if status is AlertStatus.ACKNOWLEDGED:
                conn.execute(
                    sa.insert(acks_t).values(
                        id=uuid.uuid4(),
                        alert_id=alert_id,
                        acknowledged_by=user,
                        acknowledged_date=now,
                        notes=notes,
                    )
                )
            new = {**old, **values}
            if is_watched(conn, self.workspace_id):
                append(
                    conn,
                    table_name=ALERTS_TABLE,
                    operation=Operation.UPDATE,
                    old=row_json(old),
                    new=row_json(new),
                    at=now,
                    workspace_id=self.workspace_id,
                )
            return _alerts(conn, [new])[0]

        return self.database.run_write(work)

    def _reaches(self, conn: sa.Connection, user: uuid.UUID) -> sa.ColumnElement[bool]:
        roles = role_ids_of(conn, self.workspace_id, user)
        r = recipients_t
        addressed = sa.or_(
            sa.and_(r.c.recipient_type == RecipientType.USER.value, r.c.recipient_id == user),
            sa.and_(
                r.c.recipient_type == RecipientType.ROLE.value,
                r.c.recipient_id.in_(list(roles)),
            )
            if roles
            else sa.false(),
        )
        return sa.exists(sa.select(r.c.id).where(r.c.alert_id == alerts_t.c.id, addressed))

    def _row(
        self,
        conn: sa.Connection,
        alert_id: uuid.UUID,
        user: uuid.UUID | None,
        *,
        for_update: bool = False,
    ) -> Mapping[Any, Any]:
        query = sa.select(alerts_t).where(
            alerts_t.c.id == alert_id, alerts_t.c.workspace_id == self.workspace_id
        )
        if user is not None:
            query = query.where(self._reaches(conn, user))
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise AlertNotFound(str(alert_id))
        return row


def _alerts(conn: sa.Connection, rows: Sequence[Mapping[Any, Any]]) -> list[Alert]:
    """Alerts from their rows, with recipients (named) and acknowledgments."""
    ids = [row["id"] for row in rows]
    recipients: dict[Any, list[tuple[str, uuid.UUID]]] = {i: [] for i in ids}
    acks: dict[Any, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for r in conn.execute(
            sa.select(recipients_t)
            .where(recipients_t.c.alert_id.in_(ids))
            .order_by(recipients_t.c.created_date, recipients_t.c.id)
        ).mappings():
            recipients[r["alert_id"]].append((r["recipient_type"], r["recipient_id"]))
        for k in conn.execute(
            sa.select(acks_t)
            .where(acks_t.c.alert_id.in_(ids))
            .order_by(acks_t.c.acknowledged_date, acks_t.c.id)
        ).mappings():
            acks[k["alert_id"]].append(dict(k))
    user_ids = {i for items in recipients.values() for t, i in items if t == "user"}
    user_ids |= {k["acknowledged_by"] for items in acks.values() for k in items}
    emails = user_email(conn, user_ids)
    role_ids = [i for items in recipients.values() for t, i in items if t == "role"]
    role_names: dict[uuid.UUID, str] = {}
    if role_ids:
        for role in conn.execute(
            sa.select(roles_t.c.id, roles_t.c.name).where(roles_t.c.id.in_(role_ids))
        ):
            role_names[uuid.UUID(str(role.id))] = role.name
    out = []
    for row in rows:
        named = tuple(
            Recipient(
                type=RecipientType(kind),
                id=ident,
                name=(emails if kind == "user" else role_names).get(ident, str(ident)),
            )
            for kind, ident in recipients[row["id"]]
        )
        acknowledged = tuple(
            {
                "acknowledged_by": k["acknowledged_by"],
                "email": emails.get(k["acknowledged_by"]),
                "acknowledged_date": k["acknowledged_date"],
                "notes": k["notes"],
            }
            for k in acks[row["id"]]
        )
        out.append(_alert(row, named, acknowledged))
    return out


def _alert(
    row: Mapping[Any, Any],
    recipients: tuple[Recipient, ...],
    acknowledgments: tuple[Mapping[str, Any], ...],
) -> Alert:
    return Alert(
        id=row["id"],
        workspace_id=row["workspace_id"],
        alert_type=row["alert_type"],
        severity=AlertSeverity(row["severity"]),
        title=row["title"],
        message=row["message"],
        context=dict(row["context"] or {}),
        source_entity_name=row["source_entity_name"],
        source_entity_id=row["source_entity_id"],
        source_rule_id=row["source_rule_id"],
        status=AlertStatus(row["status"]),
        expires_date=row["expires_date"],
        created_date=row["created_date"],
        updated_date=row["updated_date"],
        recipients=recipients,
        automation_execution_id=row["automation_execution_id"],
        decision=Decision(row["decision"]) if row["decision"] else None,
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        acknowledgments=acknowledgments,
    )
