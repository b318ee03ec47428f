"""Rules with their actions and dependencies, and action templates, on spine's database.

:class:`RuleStore` reads and writes the actor's workspace; a :class:`Writes` (what one
``create``, ``update`` or ``apply`` changes) is written in one transaction, audited
(entity types ``automation_rule`` and ``action_template``). The dispatcher's reads
(:meth:`RuleStore.active_rules_for`, :meth:`RuleStore.rule_by_id`,
:meth:`RuleStore.templates_by_id`) work across workspaces.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.automation.errors import EntityNotFound, RuleNotFound
from spine.automation.models import ActionTemplate, Rule
from spine.automation.specs import (
    ACTION_TYPE_KEY,
    RuleSpec,
    TemplateSpec,
    next_fire_at,
    spec_values,
    template_values,
)
from spine.automation.store import rule_rows
from spine.automation.store.rule_history import (
    delete_history,
    operator_user,
    template_users,
    trigger_type_id,
)
from spine.automation.store.rule_rows import (
    actions_t,
    conditions_json,
    deps_t,
    entities_t,
    rules_t,
    templates_t,
)
from spine.core.clock import Clock
from spine.core.errors import Conflict, InvalidInput
from spine.core.storage import Database
from spine.tenancy import OPERATOR, Actor, AuditAction, Change, changes_between
from spine.tenancy.bound import ActorBound
from spine.tenancy.store import record

__all__ = ["RuleStore", "RuleWrite", "Writes"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleWrite:
    """A rule to save: a new one (``rule_id`` None) or the saved rule ``rule_id`` replaced."""

    spec: RuleSpec
    rule_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Writes:
    """What one transaction writes: templates first, then rules, then deletions."""

    templates: tuple[TemplateSpec, ...] = ()
    rules: tuple[RuleWrite, ...] = ()
    delete_rules: tuple[uuid.UUID, ...] = ()
    delete_templates: tuple[uuid.UUID, ...] = ()


class RuleStore(ActorBound):
    """Rules and templates of the actor's workspace, and the dispatcher's reads of all.

    Args:
        database: Spine's database.
        clock: The database's clock (dates, next fires).
        actor: Who reads and changes, in which workspace.
    """

    def __init__(self, database: Database, clock: Clock, *, actor: Actor = OPERATOR) -> None:
        self.database = database
        self.clock = clock
        self.actor = actor

    # -------------------------------------------------------------- workspace reads

    def rules(self) -> list[Rule]:
        """The workspace's rules, by name."""
        return self.database.run_read(
            lambda conn: rule_rows.load_rules(
                conn, rule_rows.rule_ids(conn, workspace_id=self.workspace_id)
            )
        )

    def find(self, ref: str) -> Rule | None:
        """The workspace's rule whose id (else name) is ``ref``, or ``None``."""

        def work(conn: sa.Connection) -> Rule | None:
            ids = rule_rows.rule_ids(conn, workspace_id=self.workspace_id, ref=ref)
            found = rule_rows.load_rules(conn, ids[:1])
            return found[0] if found else None

        return self.database.run_read(work)

    def templates(self) -> list[ActionTemplate]:
        """The workspace's active action templates, by name."""
        return self.database.run_read(
            lambda conn: rule_rows.templates(conn, workspace_id=self.workspace_id)
        )

    # -------------------------------------------------------------- system reads

    def active_rules_for(self, table_name: str) -> list[Rule]:
        """Every workspace's active rules on active entities named ``table_name``.

        Actions come ordered by ``execution_order`` (then name), with ``depends_on``.
        """
        return self.database.run_read(
            lambda conn: rule_rows.load_rules(
                conn, rule_rows.rule_ids(conn, table_name=table_name, active_only=True)
            )
        )

    def rule_by_id(self, rule_id: uuid.UUID) -> Rule | None:
        """The rule ``rule_id`` of any workspace, or ``None``."""
        found = self.database.run_read(lambda conn: rule_rows.load_rules(conn, [rule_id]))
        return found[0] if found else None

    def templates_by_id(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ActionTemplate]:
        """The active templates of ``ids`` (any workspace), by id."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        found = self.database.run_read(lambda conn: rule_rows.templates(conn, ids=wanted))
        return {template.id: template for template in found}

    # -------------------------------------------------------------- writes

    def write(self, writes: Writes) -> list[Rule]:
        """Write ``writes`` in one transaction; return the written rules, in order.

        Raises:
            EntityNotFound: A rule's table is not watched (any more).
            Conflict: A name is taken, or a removed rule is still another's parent, or a
                removed template is still used.
            InvalidInput: A parent or template named is unknown.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> list[Rule]:
            user = operator_user(conn, self.actor, now)
            for template in writes.templates:
                self._write_template(conn, template, user, now)
            ids = [self._write_rule(conn, item, user, now) for item in writes.rules]
            for rule_id, item in zip(ids, writes.rules, strict=True):
                self._write_parents(conn, rule_id, item.spec.depends_on)
            deleting = set(writes.delete_rules)
            for rule in rule_rows.load_rules(conn, list(writes.delete_rules)):
                self._delete_rule(conn, rule, deleting, now)
            for template_id in writes.delete_templates:
                self._delete_template(conn, template_id, now)
            return rule_rows.load_rules(conn, ids)

        try:
            return self.database.run_write(work)
        except sa.exc.IntegrityError as error:
            raise Conflict(f"rule or template name taken: {str(error.orig)[:200]}") from None

    def set_active(self, rule_id: uuid.UUID, active: bool) -> Rule:
        """Enable or disable a rule; enabling a scheduled rule fires next after now.

        Raises:
            RuleNotFound: If the workspace has no such rule.
        """
        now = self.clock.now()

        def work(conn: sa.Connection) -> Rule:
            found = rule_rows.load_rules(conn, self._own(conn, [rule_id]))
            if not found:
                raise RuleNotFound(str(rule_id))
            old = found[0]
            values: dict[str, Any] = {"is_active": active, "updated_date": now}
            values["updated_by"] = operator_user(conn, self.actor, now)
            values["deactivated_by"] = None if active else values["updated_by"]
            if active and old.schedule is not None and not old.is_active:
                values["next_fire_at"] = next_fire_at(old.schedule, now)
            conn.execute(rules_t.update().where(rules_t.c.id == rule_id).values(values))
            (new,) = rule_rows.load_rules(conn, [rule_id])
            self._audit_rule(conn, AuditAction.UPDATE, old, new, now)
            return new

        return self.database.run_write(work)

    # -------------------------------------------------------------- helpers

    def _own(self, conn: sa.Connection, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        query = sa.select(rules_t.c.id).where(
            rules_t.c.id.in_(list(ids)), rules_t.c.workspace_id == self.workspace_id
        )
        return list(conn.execute(query).scalars())

    def _entity(self, conn: sa.Connection, name: str) -> tuple[uuid.UUID, uuid.UUID]:
        row = conn.execute(
            sa.select(entities_t.c.id, entities_t.c.entity_type_id).where(
                entities_t.c.workspace_id == self.workspace_id,
                entities_t.c.name == name,
                sa.func.coalesce(entities_t.c.is_active, True),
            )
        ).first()
        if row is None:
            raise EntityNotFound(name)
        return row[0], row[1]

    def _template_id(self, conn: sa.Connection, name: str) -> uuid.UUID:
        found: uuid.UUID | None = conn.execute(
            sa.select(templates_t.c.id).where(
                templates_t.c.workspace_id == self.workspace_id,
                templates_t.c.name == name,
                sa.func.coalesce(templates_t.c.is_active, True),
            )
        ).scalar_one_or_none()
        if found is None:
            raise InvalidInput(f"unknown action template {name!r}")
        return found

    def _write_template(
        self, conn: sa.Connection, spec: TemplateSpec, user: uuid.UUID, now: datetime
    ) -> None:
        row = (
            conn.execute(
                sa.select(templates_t).where(
                    templates_t.c.workspace_id == self.workspace_id,
                    templates_t.c.name == spec.name,
                )
            )
            .mappings()
            .first()
        )
        values = {
            "description": spec.description,
            "action_type": spec.action_type.value,
            "default_config": spec.default_config,
            "is_active": True,
            "deactivated_by": None,
        }
        new = template_values(spec)
        if row is None:
            template_id = uuid.uuid4()
            conn.execute(
                templates_t.insert().values(
                    id=template_id,
                    name=spec.name,
                    workspace_id=self.workspace_id,
                    created_date=now,
                    created_by=user,
                    **values,
                )
            )
            self._audit(conn, "action_template", AuditAction.CREATE, template_id, None, new, now)
            return
        old = None if row["is_active"] is False else _template_row_values(row)
        conn.execute(templates_t.update().where(templates_t.c.id == row["id"]).values(values))
        action = AuditAction.UPDATE if old is not None else AuditAction.CREATE
        self._audit(conn, "action_template", action, row["id"], old, new, now)

    def _write_rule(
        self, conn: sa.Connection, item: RuleWrite, user: uuid.UUID, now: datetime
    ) -> uuid.UUID:
        spec = item.spec
        entity_id, entity_type_id = self._entity(conn, spec.entity)
        values: dict[str, Any] = {
            "name": spec.name,
            "description": spec.description,
            "entity_id": entity_id,
            "entity_type_id": entity_type_id,
            "trigger_type_id": trigger_type_id(conn, spec.trigger.value),
            "trigger_conditions": conditions_json(spec.conditions, spec.schedule),
            "is_active": spec.is_active,
            "updated_date": now,
            "updated_by": user,
            "deactivated_by": None if spec.is_active else user,
        }
        old: Rule | None = None
        if item.rule_id is not None:
            found = rule_rows.load_rules(conn, self._own(conn, [item.rule_id]))
            if not found:
                raise RuleNotFound(str(item.rule_id))
            old = found[0]
        keep = (
            old is not None
            and old.schedule == spec.schedule
            and old.is_active == spec.is_active
            and old.next_fire_at is not None
        )
        if spec.schedule is None:
            values["next_fire_at"] = None
        elif not keep:
            values["next_fire_at"] = next_fire_at(spec.schedule, now)
        if old is None:
            rule_id = uuid.uuid4()
            conn.execute(
                rules_t.insert().values(
                    id=rule_id,
                    workspace_id=self.workspace_id,
                    created_date=now,
                    created_by=user,
                    **values,
                )
            )
        else:
            rule_id = old.id
            conn.execute(rules_t.update().where(rules_t.c.id == rule_id).values(values))
        self._write_actions(conn, rule_id, spec, user)
        new_values = spec_values(spec)
        action = AuditAction.CREATE if old is None else AuditAction.UPDATE
        old_values = None if old is None else spec_values(old)
        self._audit(conn, "automation_rule", action, rule_id, old_values, new_values, now)
        return rule_id

    def _write_actions(
        self, conn: sa.Connection, rule_id: uuid.UUID, spec: RuleSpec, user: uuid.UUID
    ) -> None:
        # Actions keep their ids by name: an action's id is part of its idempotency key
        # and deliveries refer to it, so an edited action stays the same action.
        saved = {
            row["name"]: row["id"]
            for row in conn.execute(
                sa.select(actions_t.c.id, actions_t.c.name).where(
                    actions_t.c.automation_rules_id == rule_id
                )
            ).mappings()
        }
        for action in spec.actions:
            values = {
                "description": action.description,
                "action_config": {**action.config, ACTION_TYPE_KEY: action.action_type.value},
                "execution_order": action.execution_order,
                "is_active": True,
                "template_id": (
                    None if action.template is None else self._template_id(conn, action.template)
                ),
                "deactivated_by": None,
            }
            action_id = saved.pop(action.name, None)
            if action_id is None:
                conn.execute(
                    actions_t.insert().values(
                        id=uuid.uuid4(), automation_rules_id=rule_id, name=action.name, **values
                    )
                )
            else:
                conn.execute(actions_t.update().where(actions_t.c.id == action_id).values(values))
        if saved:
            # Removed actions are deactivated, not deleted: deliveries may refer to them.
            conn.execute(
                actions_t.update()
                .where(actions_t.c.id.in_(list(saved.values())))
                .values(is_active=False, deactivated_by=user)
            )

    def _write_parents(
        self, conn: sa.Connection, rule_id: uuid.UUID, parents: Sequence[str]
    ) -> None:
        conn.execute(deps_t.delete().where(deps_t.c.child_rule_id == rule_id))
        for name in parents:
            parent_id = conn.execute(
                sa.select(rules_t.c.id).where(
                    rules_t.c.workspace_id == self.workspace_id, rules_t.c.name == name
                )
            ).scalar_one_or_none()
            if parent_id is None:
                raise InvalidInput(f"depends_on: unknown rule {name!r}")
            if parent_id == rule_id:
                raise InvalidInput(f"depends_on: a rule cannot depend on itself ({name!r})")
            conn.execute(
                deps_t.insert().values(
                    id=uuid.uuid4(), parent_rule_id=parent_id, child_rule_id=rule_id
                )
            )

    def _delete_rule(
        self, conn: sa.Connection, rule: Rule, deleting: set[uuid.UUID], now: datetime
    ) -> None:
        if rule.workspace_id != self.workspace_id:
            raise RuleNotFound(str(rule.id))
        child = rules_t.alias("child")
        children = [
            name
            for child_id, name in conn.execute(
                sa.select(child.c.id, child.c.name)
                .join(deps_t, deps_t.c.child_rule_id == child.c.id)
                .where(deps_t.c.parent_rule_id == rule.id)
                .order_by(child.c.name)
            )
            if child_id not in deleting
        ]
        if children:
            raise Conflict(
                f"rule {rule.name!r} is a parent of {', '.join(map(repr, children))}: "
                "remove them or their depends_on first"
            )
        # Its history goes with it; alerts people got stay, without the link back.
        delete_history(conn, rule.id)
        conn.execute(rules_t.delete().where(rules_t.c.id == rule.id))
        self._audit_rule(conn, AuditAction.DELETE, rule, None, now)

    def _delete_template(self, conn: sa.Connection, template_id: uuid.UUID, now: datetime) -> None:
        row = (
            conn.execute(
                sa.select(templates_t).where(
                    templates_t.c.id == template_id,
                    templates_t.c.workspace_id == self.workspace_id,
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return
        named = template_users(conn, template_id)
        if named:
            raise Conflict(
                f"action template {row['name']!r} is used by rule(s) {', '.join(map(repr, named))}"
            )
        conn.execute(
            actions_t.update()
            .where(actions_t.c.template_id == template_id)
            .values(template_id=None)
        )
        conn.execute(templates_t.delete().where(templates_t.c.id == template_id))
        old = _template_row_values(row)
        self._audit(conn, "action_template", AuditAction.DELETE, template_id, old, None, now)

    def _audit_rule(
        self,
        conn: sa.Connection,
        action: AuditAction,
        old: Rule | None,
        new: Rule | None,
        now: datetime,
    ) -> None:
        rule = new or old
        assert rule is not None
        before = None if old is None else spec_values(old)
        after = None if new is None else spec_values(new)
        self._audit(conn, "automation_rule", action, rule.id, before, after, now)

    def _audit(
        self,
        conn: sa.Connection,
        entity_type: str,
        action: AuditAction,
        entity_id: uuid.UUID,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        change = Change(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=changes_between(old, new),
        )
        record(conn, self.actor, change, now)


def _template_row_values(row: Any) -> dict[str, Any]:
    return {
        "name": row["name"],
        "action_type": row["action_type"],
        "default_config": dict(row["default_config"] or {}),
        "description": row["description"],
    }
