"""Rules as code: ``spine automation apply FILE.yaml``.

A document holds ``templates:`` (action templates) and ``rules:`` (rule specs, see
:mod:`spine.automation.specs`); docs/automation.md, "Rules as code: the YAML format",
describes it. :func:`apply_document` reads it, compares it with the workspace by name,
checks every rule against the workspace as the apply would leave it, and writes the
differences in one transaction: a refused document writes nothing and says one line
naming the file, the rule and the field. Applying the same document twice changes
nothing the second time. Rules and templates the document does not name are deleted
only with ``prune``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from spine.automation.models import ActionTemplate, Rule
from spine.automation.specs import (
    RULE_KEYS,
    TEMPLATE_KEYS,
    RuleSpec,
    TemplateSpec,
    parse_rule,
    parse_template,
    spec_values,
    template_values,
)
from spine.automation.store.rules import RuleWrite, Writes
from spine.automation.validation import validate_template
from spine.core.errors import InvalidInput, SpineError

__all__ = [
    "ApplyPlan",
    "FieldChange",
    "PlanItem",
    "apply_document",
    "load_document",
    "parse_document",
]

_TOP_KEYS = ("templates", "rules")


class Applier(Protocol):
    """What applying needs of :class:`~spine.automation.service.RuleService`."""

    def rules(self) -> list[Rule]:
        """The workspace's rules."""
        ...

    def templates(self) -> list[ActionTemplate]:
        """The workspace's templates."""
        ...

    def check(
        self,
        specs: Sequence[RuleSpec],
        others: Sequence[Rule | RuleSpec],
        templates: Sequence[ActionTemplate | TemplateSpec] | None = None,
    ) -> None:
        """Refuse specs that cannot work in the workspace."""
        ...

    def write(self, writes: Writes) -> list[Rule]:
        """Write in one transaction."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    """One field an update changes."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanItem:
    """A rule or template the plan creates, updates, deletes or leaves alone."""

    kind: str  # "rule" or "template"
    name: str
    summary: str = ""
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyPlan:
    """What applying a document does (or did, when :attr:`applied`)."""

    source: str
    create: tuple[PlanItem, ...] = ()
    update: tuple[PlanItem, ...] = ()
    delete: tuple[PlanItem, ...] = ()
    unchanged: tuple[PlanItem, ...] = ()
    dry_run: bool = False
    applied: bool = False
    rules: tuple[Rule, ...] = field(default=(), repr=False)

    @property
    def empty(self) -> bool:
        """Whether there is nothing to write."""
        return not (self.create or self.update or self.delete)

    def lines(self) -> list[str]:
        """The diff preview, one line each.

        ``+`` a create, ``~`` an update (field old -> new), ``-`` a delete (``prune``),
        ``=`` how many are unchanged.
        """
        out = [
            f"+ {i.kind} {i.name}" + (f" ({i.summary})" if i.summary else "") for i in self.create
        ]
        for item in self.update:
            changed = "; ".join(
                f"{c.field}: {_show(c.old)} -> {_show(c.new)}" for c in item.changes
            )
            out.append(f"~ {item.kind} {item.name}: {changed}")
        out += [f"- {i.kind} {i.name}" for i in self.delete]
        out.append(f"= {len(self.unchanged)} unchanged")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The plan for ``--json``."""

        def items(group: tuple[PlanItem, ...]) -> list[dict[str, Any]]:
            return [{"kind": i.kind, "name": i.name} for i in group]

        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "create": items(self.create),
            "update": [
                {
                    "kind": i.kind,
                    "name": i.name,
                    "changes": {c.field: {"old": c.old, "new": c.new} for c in i.changes},
                }
                for i in self.update
            ],
            "delete": items(self.delete),
            "unchanged": items(self.unchanged),
        }


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing a key given twice in one mapping.

    PyYAML keeps the last of two equal keys silently: a rule with two ``conditions:``
    must be an error, not half of what was written.
    """


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise InvalidInput(f"line {mark.line + 1}: {key!r} is given twice in the same mapping")
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_document(text: str, source: str) -> Any:
    """The YAML document ``text`` as Python values.

    Raises:
        InvalidInput: ``SOURCE: not valid YAML: line L, column C: problem`` (or a key
            given twice).
    """
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except InvalidInput as error:
        raise InvalidInput(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise InvalidInput(f"{source}: not valid YAML: {where}{problem}") from None


def parse_document(document: Any) -> tuple[list[TemplateSpec], list[RuleSpec]]:
    """The templates and rules of a document, shape checked, names unique.

    Raises:
        InvalidInput: One line naming the rule or template and the field.
    """
    if document is None:
        return [], []
    if not isinstance(document, Mapping):
        raise InvalidInput("the document must be a mapping with rules: and templates:")
    for key in document:
        if key not in _TOP_KEYS:
            raise InvalidInput(f"{key}: unknown key (expected {', '.join(_TOP_KEYS)})")
    templates = [parse_template(item) for item in _items(document, "templates")]
    rules = [parse_rule(item) for item in _items(document, "rules")]
    for kind, names in (
        ("template", [t.name for t in templates]),
        ("rule", [r.name for r in rules]),
    ):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise InvalidInput(f"{kind} {name!r}: declared twice")
            seen.add(name)
    return templates, rules


def apply_document(
    applier: Applier,
    document: Any,
    *,
    source: str,
    dry_run: bool = False,
    prune: bool = False,
) -> ApplyPlan:
    """Plan ``document`` against the workspace and, unless ``dry_run``, write the plan.

    Raises:
        InvalidInput: ``SOURCE: rule 'NAME': FIELD: problem`` (nothing written).
        Conflict: ``SOURCE: ...`` when the database refuses (a name taken meanwhile).
    """
    try:
        return _apply(applier, document, source=source, dry_run=dry_run, prune=prune)
    except InvalidInput as error:
        raise InvalidInput(f"{source}: {error}") from None
    except SpineError as error:
        raise type(error)(f"{source}: {error}") from None


def _apply(
    applier: Applier, document: Any, *, source: str, dry_run: bool, prune: bool
) -> ApplyPlan:
    templates, rules = parse_document(document)
    saved_rules = {rule.name: rule for rule in applier.rules()}
    saved_templates = {template.name: template for template in applier.templates()}
    for template in templates:
        validate_template(template, {})

    create: list[PlanItem] = []
    update: list[PlanItem] = []
    unchanged: list[PlanItem] = []
    template_writes: list[TemplateSpec] = []
    for template in templates:
        old = saved_templates.get(template.name)
        item = _compare(
            "template",
            template.name,
            None if old is None else template_values(old),
            template_values(template),
            TEMPLATE_KEYS,
            template.action_type.value,
        )
        _sort(item, old is None, create, update, unchanged)
        if item.changes or old is None:
            template_writes.append(template)
    rule_writes: list[RuleWrite] = []
    for rule in rules:
        saved = saved_rules.get(rule.name)
        summary = f"{rule.trigger.value} on {rule.entity}, {len(rule.actions)} action(s)"
        item = _compare(
            "rule",
            rule.name,
            None if saved is None else spec_values(saved),
            spec_values(rule),
            RULE_KEYS,
            summary,
        )
        _sort(item, saved is None, create, update, unchanged)
        if item.changes or saved is None:
            rule_writes.append(RuleWrite(spec=rule, rule_id=saved.id if saved else None))

    declared_rules = {rule.name for rule in rules}
    declared_templates = {template.name for template in templates}
    pruned_rules = [r for n, r in sorted(saved_rules.items()) if prune and n not in declared_rules]
    pruned_templates = [
        t for n, t in sorted(saved_templates.items()) if prune and n not in declared_templates
    ]
    gone_rules = {r.name for r in pruned_rules}
    gone_templates = {t.name for t in pruned_templates}
    delete = [PlanItem(kind="rule", name=r.name) for r in pruned_rules]
    delete += [PlanItem(kind="template", name=t.name) for t in pruned_templates]

    # Every declared rule is checked against the workspace as the apply leaves it.
    others: list[Rule | RuleSpec] = [
        r for n, r in saved_rules.items() if n not in declared_rules and n not in gone_rules
    ]
    known: dict[str, ActionTemplate | TemplateSpec] = {
        n: t for n, t in saved_templates.items() if n not in gone_templates
    }
    known.update({template.name: template for template in templates})
    applier.check(rules, others, list(known.values()))

    plan = ApplyPlan(
        source=source,
        create=tuple(create),
        update=tuple(update),
        delete=tuple(delete),
        unchanged=tuple(unchanged),
        dry_run=dry_run,
    )
    if dry_run or plan.empty:
        return plan
    written = applier.write(
        Writes(
            templates=tuple(template_writes),
            rules=tuple(rule_writes),
            delete_rules=tuple(r.id for r in pruned_rules),
            delete_templates=tuple(t.id for t in pruned_templates),
        )
    )
    return ApplyPlan(
        source=source,
        create=plan.create,
        update=plan.update,
        delete=plan.delete,
        unchanged=plan.unchanged,
        applied=True,
        rules=tuple(written),
    )


def _items(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{key}: expected a list")
    return value


def _compare(
    kind: str,
    name: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    fields: Sequence[str],
    summary: str,
) -> PlanItem:
    if old is None:
        return PlanItem(kind=kind, name=name, summary=summary)
    changes = tuple(
        FieldChange(field=key, old=old.get(key), new=new.get(key))
        for key in fields
        if _canonical(old.get(key)) != _canonical(new.get(key))
    )
    return PlanItem(kind=kind, name=name, changes=changes)


def _sort(
    item: PlanItem,
    new: bool,
    create: list[PlanItem],
    update: list[PlanItem],
    unchanged: list[PlanItem],
) -> None:
    if new:
        create.append(item)
    elif item.changes:
        update.append(item)
    else:
        unchanged.append(item)


def _canonical(value: Any) -> str:
    # Numbers by value (1 == 1.0), mappings regardless of key order.
    def normal(item: Any) -> Any:
        if isinstance(item, Mapping):
            return {str(k): normal(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [normal(v) for v in item]
        if isinstance(item, float) and item.is_integer():
            return int(item)
        return item

    return json.dumps(normal(value), sort_keys=True, default=str)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)
