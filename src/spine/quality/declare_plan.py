"""The plan of ``spine checks apply``: what to create, update and delete, and writing it.

:func:`make_plan` compares the checks a document declares
(:func:`spine.quality.declare.parse_document`) with the workspace's checks by name;
:meth:`Plan.lines` is the diff preview; :func:`apply_plan` writes it through the quality
service, undoing its own writes if one is refused, so that a refused document leaves the
workspace as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from spine.core.errors import InvalidInput
from spine.quality.declare import FIELDS, CheckSpec
from spine.quality.models import CheckDefinition


def current_values(check: CheckDefinition) -> dict[str, Any]:
    """A saved check's compared fields, in the shape of :meth:`CheckSpec.values`."""
    table = (
        f"{check.target_schema}.{check.target_table}" if check.target_schema else check.target_table
    )
    return {
        "connection": check.connection_name,
        "check_type": check.check_type,
        "table": table,
        "column": check.target_column,
        "config": dict(check.config),
        "severity": check.severity.value,
        "tags": list(check.tags),
        "cron": check.cron_expression,
        "timezone": (check.timezone or "UTC") if check.cron_expression else None,
        "description": check.description,
        "enabled": check.enabled,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One field of a check that the plan changes."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """A check the document changes: the saved one, what it becomes, field by field."""

    current: CheckDefinition
    spec: CheckSpec
    changes: tuple[Change, ...]

    def service_changes(self) -> dict[str, Any]:
        """The ``changes`` mapping ``QualityService.update_check`` takes."""
        wanted = {change.field for change in self.changes}
        out: dict[str, Any] = {}
        values = self.spec.values()
        for name in wanted:
            if name == "timezone":
                continue  # sent with the schedule below
            out[name] = values[name]
        if self.spec.cron is not None and ({"cron", "timezone"} & wanted):
            out["cron"] = self.spec.cron
            out["timezone"] = self.spec.timezone
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What applying a document does: create, update, delete (with prune), leave alone."""

    create: tuple[CheckSpec, ...] = ()
    update: tuple[Update, ...] = ()
    delete: tuple[CheckDefinition, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether there is nothing to write."""
        return not (self.create or self.update or self.delete)

    def to_dict(self) -> dict[str, Any]:
        """The plan for ``--json``: names, and each update's changes ``{field: {old, new}}``."""
        return {
            "create": [{"name": s.name, **s.values()} for s in self.create],
            "update": [
                {
                    "name": u.spec.name,
                    "changes": {c.field: {"old": c.old, "new": c.new} for c in u.changes},
                }
                for u in self.update
            ],
            "delete": [c.name for c in self.delete],
            "unchanged": list(self.unchanged),
        }

    def lines(self) -> list[str]:
        """The diff preview, one line each.

        ``+`` a create, ``~`` an update with its field changes, ``-`` a delete, and
        ``=`` how many checks are unchanged.
        """
        out = [f"+ {s.name} ({_what(s)})" for s in self.create]
        for update in self.update:
            changed = "; ".join(
                f"{c.field}: {_show(c.old)} -> {_show(c.new)}" for c in update.changes
            )
            out.append(f"~ {update.spec.name}: {changed}")
        out += [f"- {c.name}" for c in self.delete]
        out.append(f"= {len(self.unchanged)} unchanged")
        return out


class CheckWriter(Protocol):
    """What applying needs of ``spine.quality.service.QualityService``."""

    def list_checks(self) -> list[CheckDefinition]:
        """Every check of the workspace."""
        ...

    def add_check(
        self,
        name: str,
        *,
        connection: str,
        check_type: str,
        table: str,
        column: str | None = None,
        config: Mapping[str, Any] | None = None,
        severity: str = "error",
        tags: Sequence[str] = (),
        cron: str | None = None,
        timezone: str = "UTC",
        description: str | None = None,
        enabled: bool = True,
    ) -> CheckDefinition:
        """Save a new check."""
        ...

    def update_check(self, ref: str, changes: Mapping[str, Any]) -> CheckDefinition:
        """Change a saved check."""
        ...

    def remove_check(self, ref: str) -> CheckDefinition:
        """Delete a saved check."""
        ...


# -- planning ---------------------------------------------------------------------------


def make_plan(
    specs: Sequence[CheckSpec], existing: Sequence[CheckDefinition], *, prune: bool = False
) -> Plan:
    """What to write so that the workspace's checks are those of ``specs``.

    A check is matched by name. Tags compare as sets and configs as JSON values, so a
    saved check that reads back in another order is unchanged.

    Args:
        specs: The document's checks.
        existing: Every check of the workspace.
        prune: Delete the workspace's checks that ``specs`` does not name.
    """
    saved = {check.name: check for check in existing}
    create: list[CheckSpec] = []
    update: list[Update] = []
    unchanged: list[str] = []
    for spec in specs:
        current = saved.get(spec.name)
        if current is None:
            create.append(spec)
            continue
        changes = diff(current_values(current), spec.values())
        if changes:
            update.append(Update(current=current, spec=spec, changes=changes))
        else:
            unchanged.append(spec.name)
    named = {spec.name for spec in specs}
    delete = [c for c in existing if c.name not in named] if prune else []
    return Plan(
        create=tuple(create),
        update=tuple(update),
        delete=tuple(sorted(delete, key=lambda c: c.name)),
        unchanged=tuple(unchanged),
    )


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Change, ...]:
    """The fields of :data:`FIELDS` whose values differ, in that order.

    A schedule removed is one change (``cron``): its zone goes with it unsaid.
    """
    return tuple(
        Change(field=name, old=old.get(name), new=new.get(name))
        for name in FIELDS
        if not _same(name, old.get(name), new.get(name))
        and not (name == "timezone" and new.get("cron") is None)
    )


def _same(name: str, old: Any, new: Any) -> bool:
    if name == "tags":
        return sorted(old or []) == sorted(new or [])
    if name == "config":
        return _canonical(old or {}) == _canonical(new or {})
    return bool(old == new)


def _canonical(value: Any) -> str:
    # Numbers compare by value (1 == 1.0), mappings regardless of key order.
    def normal(item: Any) -> Any:
        if isinstance(item, dict):
            return {str(k): normal(v) for k, v in item.items()}
        if isinstance(item, list):
            return [normal(v) for v in item]
        if isinstance(item, int | float) and not isinstance(item, bool) and item == int(item):
            return int(item)
        return item

    return json.dumps(normal(value), sort_keys=True, default=str)


# -- writing ----------------------------------------------------------------------------


def validate_specs(specs: Sequence[CheckSpec], check: Callable[[CheckSpec], None]) -> None:
    """Check every spec with ``check`` before anything is written.

    Raises:
        InvalidInput: The first refusal, as ``check {name!r}: <reason>``.
    """
    for spec in specs:
        try:
            check(spec)
        except InvalidInput as error:
            raise InvalidInput(f"check {spec.name!r}: {error}") from None


def apply_plan(plan: Plan, writer: CheckWriter) -> None:
    """Write ``plan``: creates, then updates, then deletes.

    If a create or an update is refused (a table the database does not have, a name
    taken meanwhile), the writes before it are undone (created checks removed, updated
    ones changed back) and the refusal is raised naming the check, so that the workspace
    is left as it was. Deletes come last: they are not refused, and cannot be undone.

    Raises:
        SpineError: The refusal (an :class:`InvalidInput` prefixed with the check's name).
    """
    undo: list[Callable[[], object]] = []
    try:
        for spec in plan.create:
            _named(spec.name, partial(_create, writer, spec))
            undo.append(partial(writer.remove_check, spec.name))
        for update in plan.update:
            name = update.spec.name
            _named(name, partial(writer.update_check, name, update.service_changes()))
            undo.append(partial(writer.update_check, name, _undo(update)))
    except BaseException:
        for step in reversed(undo):
            # Best effort: the refusal raised below is what the user must see.
            with suppress(Exception):
                step()
        raise
    for check in plan.delete:
        writer.remove_check(str(check.id))


def _create(writer: CheckWriter, spec: CheckSpec) -> CheckDefinition:
    return writer.add_check(
        spec.name,
        connection=spec.connection,
        check_type=spec.check_type,
        table=spec.table,
        column=spec.column,
        config=spec.config,
        severity=spec.severity,
        tags=spec.tags,
        cron=spec.cron,
        timezone=spec.timezone,
        description=spec.description,
        enabled=spec.enabled,
    )


def _undo(update: Update) -> dict[str, Any]:
    """The ``update_check`` changes that put a changed check back as it was."""
    old = current_values(update.current)
    out = {c.field: old[c.field] for c in update.changes if c.field != "timezone"}
    if {"cron", "timezone"} & {c.field for c in update.changes}:
        out["cron"] = old["cron"]
        if old["cron"] is not None:
            out["timezone"] = old["timezone"]
    return out


def _named(name: str, write: Callable[[], object]) -> None:
    """Run ``write``; a refusal's message is prefixed with the check's name."""
    try:
        write()
    except InvalidInput as error:
        raise InvalidInput(f"check {name!r}: {error}") from None


def _what(spec: CheckSpec) -> str:
    target = f"{spec.table}.{spec.column}" if spec.column else spec.table
    return f"{spec.check_type} on {spec.connection}:{target}"


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
