"""Watching tables: what ``spine automation watch|unwatch|entities`` and the API call.

A watched table's changes are captured by a trigger in the transaction that makes
them (:mod:`spine.automation.store.triggers`); spine's own ``core_workflow_runs``,
``check_results``, ``incidents`` and ``alerts`` are recorded by their parts instead
(:mod:`spine.automation.listener`). See docs/automation.md, "Watching a table".
"""

from __future__ import annotations

from spine.automation.models import Entity
from spine.automation.store.entities import EntityStore

__all__ = ["EntityService", "entity_to_dict"]


class EntityService:
    """The watched tables of the actor's workspace.

    Args:
        store: The entities' store, bound to the actor.
    """

    def __init__(self, store: EntityStore) -> None:
        self.store = store

    def watch(self, table: str, schema: str | None = None) -> Entity:
        """Start capturing ``table``'s changes (idempotent: again refreshes the trigger).

        ``schema`` is PostgreSQL's (the connection's current schema when ``None``);
        SQLite has none.

        Raises:
            InvalidInput: If the table does not exist or is one of spine's tables that
                cannot be watched.
            Conflict: If a table of that name is watched in another schema.
        """
        return self.store.watch(table.strip(), schema.strip() if schema else None)

    def unwatch(self, table: str) -> Entity:
        """Stop capturing ``table``'s changes for this workspace; the entity stays, inactive.

        Raises:
            EntityNotFound: If the workspace does not watch it.
        """
        return self.store.unwatch(table.strip())

    def entities(self) -> list[Entity]:
        """The workspace's entities by name (inactive ones too), with their columns now."""
        return self.store.entities()

    def entity(self, name: str) -> Entity:
        """The workspace's entity ``name``.

        Raises:
            EntityNotFound: If the workspace never watched it.
        """
        return self.store.entity(name.strip())

    def columns(self, table: str) -> tuple[str, ...]:
        """The columns a rule on watched ``table`` may name, as the table is now.

        Raises:
            EntityNotFound: If the workspace does not watch it.
            InvalidInput: If the table no longer exists.
        """
        return self.store.columns(table.strip())


def entity_to_dict(entity: Entity) -> dict[str, object]:
    """An entity as JSON (spec 003's field names, plus ``workspace_id`` and ``columns``)."""
    return {
        "id": str(entity.id),
        "name": entity.name,
        "entity_type": entity.entity_type.value,
        "schema_name": entity.schema_name,
        "is_active": entity.is_active,
        "created_date": entity.created_date.isoformat(),
        "workspace_id": str(entity.workspace_id),
        "columns": list(entity.columns),
    }
