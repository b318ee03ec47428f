"""Watched tables (spec 003 ``entities``) and the lookup rows they and rules point to.

An entity belongs to a workspace; the capture trigger of its table is shared by every
workspace that watches the table (a trigger cannot know workspaces: its changes have
no ``workspace_id`` and reach every workspace that watches the table). Watching creates
or refreshes the trigger and unwatching drops it once no workspace watches the table,
both in the transaction that writes the entity row, so that the row and the trigger
never disagree. Users' changes are audited (entity type ``automation_entity``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from spine.automation.errors import EntityNotFound
from spine.automation.models import Entity, EntityType, TriggerType
from spine.automation.store import triggers
from spine.core.clock import Clock
from spine.core.errors import Conflict, InvalidInput
from spine.core.events import Connection as EventConnection
from spine.core.storage import Database, sql_connection
from spine.core.storage.bounds import check_lengths
from spine.core.storage.schema.automation import (
    STANDARD_ENTITY_TYPES,
    STANDARD_TRIGGER_TYPES,
)
from spine.core.storage.schema.automation import entities as entities_t
from spine.core.storage.schema.automation import entity_types as entity_types_t
from spine.core.storage.schema.automation import trigger_types as trigger_types_t
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record

__all__ = ["AUDIT_TYPE", "EntityStore", "entity_type_id", "is_watched", "trigger_type_id"]

#: The audit log's entity type for watched tables.
AUDIT_TYPE = "automation_entity"


def is_watched(conn: EventConnection, table_name: str, workspace_id: uuid.UUID) -> bool:
    """Whether the workspace watches ``table_name`` now, read on ``conn``.

    For the parts that record their own tables' changes (runs, check results,
    incidents, alerts): they append a change only when this is true.
    """
    found = (
        sql_connection(conn)
        .execute(
            sa.select(entities_t.c.id)
            .where(
                entities_t.c.workspace_id == workspace_id,
                entities_t.c.name == table_name,
                entities_t.c.is_active.is_(True),
            )
            .limit(1)
        )
        .first()
    )
    return found is not None


def _lookup_id(
    conn: sa.Connection, table: sa.Table, name: str, descriptions: Mapping[str, str]
) -> uuid.UUID:
    query = sa.select(table.c.id).where(table.c.name == name)
    found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return uuid.UUID(str(found))
    values = {"id": uuid.uuid4(), "name": name, "description": descriptions.get(name)}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        # Two transactions may make the row at once: the second keeps the first's.
        conn.execute(pg_insert(table).values(values).on_conflict_do_nothing())
    else:
        conn.execute(sa.insert(table).values(values))  # SQLite writers take turns
    return uuid.UUID(str(conn.execute(query).scalar_one()))


def entity_type_id(conn: EventConnection, kind: EntityType) -> uuid.UUID:
    """The id of ``entity_types`` row ``kind``, made on first use (on ``conn``)."""
    return _lookup_id(sql_connection(conn), entity_types_t, kind.value, STANDARD_ENTITY_TYPES)


def trigger_type_id(conn: EventConnection, kind: TriggerType) -> uuid.UUID:
    """The id of ``trigger_types`` row ``kind``, made on first use (on ``conn``)."""
    return _lookup_id(sql_connection(conn), trigger_types_t, kind.value, STANDARD_TRIGGER_TYPES)


def _select() -> sa.Select[Any]:
    return sa.select(entities_t, entity_types_t.c.name.label("entity_type_name")).join(
        entity_types_t, entity_types_t.c.id == entities_t.c.entity_type_id
    )


def _entity(row: Mapping[Any, Any], columns: tuple[str, ...] = ()) -> Entity:
    return Entity(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        entity_type=EntityType(row["entity_type_name"]),
        schema_name=row["schema_name"],
        is_active=bool(row["is_active"]),
        created_date=row["created_date"],
        columns=columns,
    )


def _audited(entity: Entity) -> dict[str, Any]:
    return {
        "name": entity.name,
        "entity_type": entity.entity_type.value,
        "schema_name": entity.schema_name,
        "is_active": entity.is_active,
    }


def _columns_now(conn: sa.Connection, row: Mapping[Any, Any]) -> tuple[str, ...]:
    # A table dropped since it was watched has no columns any more; its entity still lists.
    try:
        return triggers.table_columns(conn, row["name"], row["schema_name"])
    except InvalidInput:
        return ()


class EntityStore(ActorBound):
    """The actor's workspace's watched tables, with their capture triggers.

    Args:
        database: Spine's database.
        clock: Where ``created_date`` comes from.
        actor: Who watches, in which workspace.
    """

    def __init__(self, database: Database, clock: Clock, *, actor: Actor = OPERATOR) -> None:
        self.database = database
        self.clock = clock
        self.actor = actor

    def _audit(
        self,
        conn: sa.Connection,
        action: AuditAction,
        entity_id: uuid.UUID,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
    ) -> None:
        change = Change(
            entity_type=AUDIT_TYPE,
            entity_id=entity_id,
            action=action,
            changes=changes_between(old, new),
        )
        record(conn, self.actor, change, self.clock.now())

    def _find(self, conn: sa.Connection, name: str, *, lock: bool = False) -> Entity | None:
        query = _select().where(
            entities_t.c.workspace_id == self.workspace_id, entities_t.c.name == name
        )
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update(of=entities_t)
        row = conn.execute(query).mappings().first()
        return None if row is None else _entity(row)

    def watch(self, name: str, schema: str | None = None) -> Entity:
        """Watch table (or view) ``name``: the entity row and the trigger, in one transaction.

        Idempotent: watching a watched table refreshes its trigger (new columns) and
        watching an unwatched one makes it active again (same id). A view gets no
        trigger (scheduled rules read it).

        Raises:
            InvalidInput: If there is no such table, it cannot be watched, or the name is
                too long.
            Conflict: If the workspace watches a table of that name in another schema.
        """
        check_lengths(entities_t, {"name": name}, what="entity")

        def work(conn: sa.Connection) -> Entity:
            kind = triggers.relation_kind(conn, name, schema)
            resolved = triggers.resolve_schema(conn, schema)
            old = self._find(conn, name, lock=True)
            if old is not None and old.schema_name != resolved and old.is_active:
                raise Conflict(
                    f"table {name!r} is watched in schema {old.schema_name!r}: unwatch it first"
                )
            if old is not None and old.schema_name != resolved:
                self._drop_unless_watched(conn, old)
            columns = triggers.install(conn, name, resolved)
            type_id = entity_type_id(conn, kind)
            values = {
                "entity_type_id": type_id,
                "schema_name": resolved,
                "is_active": True,
                "deactivated_by": None,
            }
            if old is None:
                entity_id = uuid.uuid4()
                conn.execute(
                    sa.insert(entities_t).values(
                        id=entity_id,
                        name=name,
                        workspace_id=self.workspace_id,
                        created_date=self.clock.now(),
                        **values,
                    )
                )
            else:
                entity_id = old.id
                conn.execute(
                    sa.update(entities_t).where(entities_t.c.id == old.id).values(**values)
                )
            new = self._find(conn, name)
            assert new is not None
            action = AuditAction.CREATE if old is None else AuditAction.UPDATE
            self._audit(
                conn, action, entity_id, None if old is None else _audited(old), _audited(new)
            )
            return _with_columns(new, columns)

        return self.database.run_write(work)

    def unwatch(self, name: str) -> Entity:
        """Stop watching ``name``; the entity stays, inactive.

        The trigger is dropped when no workspace watches the table any more.

        Raises:
            EntityNotFound: If the workspace does not watch it.
        """

        def work(conn: sa.Connection) -> Entity:
            old = self._find(conn, name, lock=True)
            if old is None or not old.is_active:
                raise EntityNotFound(name)
            conn.execute(
                sa.update(entities_t)
                .where(entities_t.c.id == old.id)
                .values(is_active=False, deactivated_by=self.actor.user_id)
            )
            self._drop_unless_watched(conn, old)
            new = self._find(conn, name)
            assert new is not None
            self._audit(conn, AuditAction.UPDATE, old.id, _audited(old), _audited(new))
            return new

        return self.database.run_write(work)

    def _drop_unless_watched(self, conn: sa.Connection, entity: Entity) -> None:
        still = conn.execute(
            sa.select(entities_t.c.id)
            .where(
                entities_t.c.name == entity.name,
                entities_t.c.id != entity.id,
                entities_t.c.is_active.is_(True),
                _same_schema(entity.schema_name),
            )
            .limit(1)
        ).first()
        if still is None:
            triggers.remove(conn, entity.name, entity.schema_name)

    def entities(self) -> list[Entity]:
        """The workspace's entities by name, inactive ones too, with their columns now."""

        def work(conn: sa.Connection) -> list[Entity]:
            rows = conn.execute(
                _select()
                .where(entities_t.c.workspace_id == self.workspace_id)
                .order_by(entities_t.c.name)
            ).mappings()
            return [_entity(row, _columns_now(conn, row)) for row in rows.all()]

        return self.database.run_read(work)

    def entity(self, name: str) -> Entity:
        """The workspace's entity ``name`` (active or not), with its columns now.

        Raises:
            EntityNotFound: If the workspace never watched it.
        """

        def work(conn: sa.Connection) -> Entity:
            row = (
                conn.execute(
                    _select().where(
                        entities_t.c.workspace_id == self.workspace_id,
                        entities_t.c.name == name,
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise EntityNotFound(name)
            return _entity(row, _columns_now(conn, row))

        return self.database.run_read(work)

    def columns(self, name: str) -> tuple[str, ...]:
        """The columns of watched table ``name`` now (spine's own: from spine's schema).

        Raises:
            EntityNotFound: If the workspace does not watch it.
            InvalidInput: If the table no longer exists.
        """

        def work(conn: sa.Connection) -> tuple[str, ...]:
            entity = self._find(conn, name)
            if entity is None or not entity.is_active:
                raise EntityNotFound(name)
            return triggers.table_columns(conn, name, entity.schema_name)

        return self.database.run_read(work)


def _same_schema(schema: str | None) -> sa.ColumnElement[bool]:
    column = entities_t.c.schema_name
    return column.is_(None) if schema is None else column == schema


def _with_columns(entity: Entity, columns: tuple[str, ...]) -> Entity:
    return replace(entity, columns=columns)
