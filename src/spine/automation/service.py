"""Rules and action templates for one actor: save, read, switch, remove, apply, test.

:class:`RuleService` is what the CLI and the API call. Every save parses the spec
(:mod:`spine.automation.specs`), checks it against the workspace
(:mod:`spine.automation.validation`) and writes it in one transaction
(:class:`~spine.automation.store.rules.RuleStore`); a refused rule writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from spine.automation.declare import ApplyPlan, apply_document
from spine.automation.errors import RuleNotFound
from spine.automation.models import ActionHandler, ActionTemplate, ActionType, Rule
from spine.automation.rule_test import RuleTest, run_test
from spine.automation.specs import (
    RuleSpec,
    TemplateSpec,
    parse_rule,
    rule_to_dict,
    template_to_dict,
)
from spine.automation.store.rules import RuleStore, RuleWrite, Writes
from spine.automation.validation import RuleContext, validate_rule
from spine.core.errors import Conflict

__all__ = ["RuleService", "RuleTest", "rule_to_dict", "template_to_dict"]

#: A watched table's columns (``EntityService.columns``); raises when it is not watched.
Columns = Callable[[str], Sequence[str]]
#: The action handlers (``Automation.handlers``), asked for when a rule is checked.
Handlers = Callable[[], Mapping[ActionType, ActionHandler]]


def _no_handlers() -> Mapping[ActionType, ActionHandler]:
    return {}


class RuleService:
    """The actor's workspace's rules and templates.

    Args:
        store: The rules' store, bound to the actor.
        columns: A watched table's columns now (refuses a table not watched).
        handlers: The action handlers whose ``validate`` checks configs at save.
    """

    def __init__(
        self, store: RuleStore, *, columns: Columns, handlers: Handlers = _no_handlers
    ) -> None:
        self.store = store
        self.columns = columns
        self.handlers = handlers

    # -------------------------------------------------------------- reads

    def rules(self) -> list[Rule]:
        """The workspace's rules, by name."""
        return self.store.rules()

    def rule(self, ref: str) -> Rule:
        """The rule whose id (else name) is ``ref``.

        Raises:
            RuleNotFound: If the workspace has none.
        """
        found = self.store.find(ref)
        if found is None:
            raise RuleNotFound(ref)
        return found

    def templates(self) -> list[ActionTemplate]:
        """The workspace's action templates, by name."""
        return self.store.templates()

    # -------------------------------------------------------------- writes

    def create(self, spec: Mapping[str, Any]) -> Rule:
        """Save a new rule from its spec (the YAML ``rules:`` item's shape).

        Raises:
            InvalidInput: One line naming the rule, the field and the problem.
            Conflict: If the workspace has a rule of that name.
        """
        parsed = parse_rule(spec)
        saved = self.rules()
        if any(rule.name == parsed.name for rule in saved):
            raise Conflict(f"rule {parsed.name!r} already exists")
        self.check([parsed], saved)
        return self.store.write(Writes(rules=(RuleWrite(spec=parsed),)))[0]

    def update(self, ref: str, spec: Mapping[str, Any]) -> Rule:
        """Replace rule ``ref`` by ``spec`` (its name may change; a missing name keeps it).

        Raises:
            RuleNotFound: If there is no such rule.
            InvalidInput: One line naming the rule, the field and the problem.
            Conflict: If the new name is another rule's.
        """
        current = self.rule(ref)
        raw = dict(spec)
        raw.setdefault("name", current.name)
        parsed = parse_rule(raw)
        saved = self.rules()
        if parsed.name != current.name and any(r.name == parsed.name for r in saved):
            raise Conflict(f"rule {parsed.name!r} already exists")
        others = [rule for rule in saved if rule.id != current.id]
        # Children name their parent by id in the database: a renamed parent stays theirs.
        renamed = [_renamed_parent(rule, current.name, parsed.name) for rule in others]
        self.check([parsed], renamed)
        return self.store.write(Writes(rules=(RuleWrite(spec=parsed, rule_id=current.id),)))[0]

    def enable(self, ref: str) -> Rule:
        """Make rule ``ref`` active (a scheduled one fires next after now)."""
        return self.store.set_active(self.rule(ref).id, True)

    def disable(self, ref: str) -> Rule:
        """Make rule ``ref`` inactive: it answers no change until enabled."""
        return self.store.set_active(self.rule(ref).id, False)

    def remove(self, ref: str) -> Rule:
        """Delete rule ``ref`` with its actions, dependencies and executions; return it.

        Alerts it raised stay, without their link to it.

        Raises:
            RuleNotFound: If there is no such rule.
            Conflict: If another rule depends on it.
        """
        rule = self.rule(ref)
        self.store.write(Writes(delete_rules=(rule.id,)))
        return rule

    def apply(
        self,
        document: Mapping[str, Any],
        *,
        source: str,
        dry_run: bool = False,
        prune: bool = False,
    ) -> ApplyPlan:
        """Make the workspace's rules and templates those of ``document``.

        See :func:`spine.automation.declare.apply_document`.
        """
        return apply_document(self, document, source=source, dry_run=dry_run, prune=prune)

    def test(self, ref: str, event: Mapping[str, Any]) -> RuleTest:
        """Whether ``event`` would fire rule ``ref``, and with which actions; no side effect.

        Raises:
            RuleNotFound: If there is no such rule.
            InvalidInput: If the event is malformed.
        """
        rule = self.rule(ref)
        ids = [a.template_id for a in rule.actions if a.template_id is not None]
        return run_test(rule, event, self.store.templates_by_id(ids))

    def write(self, writes: Writes) -> list[Rule]:
        """Write checked ``writes`` in one transaction (what :meth:`apply` ends with)."""
        return self.store.write(writes)

    # -------------------------------------------------------------- checking

    def check(
        self,
        specs: Sequence[RuleSpec],
        others: Sequence[Rule | RuleSpec],
        templates: Sequence[ActionTemplate | TemplateSpec] | None = None,
    ) -> None:
        """Refuse any of ``specs`` that cannot work in the workspace the save leaves.

        ``others`` are the workspace's other rules as the save leaves them, ``templates``
        its templates (default: the saved ones).

        Raises:
            InvalidInput: The first refusal, one line naming rule, field and problem.
        """
        known = self.templates() if templates is None else templates
        graph: dict[str, list[str]] = {r.name: list(r.depends_on) for r in others}
        graph.update({spec.name: list(spec.depends_on) for spec in specs})
        cache: dict[str, Sequence[str]] = {}

        def columns(table: str) -> Sequence[str]:
            if table not in cache:
                cache[table] = self.columns(table)
            return cache[table]

        context = RuleContext(
            workspace_id=self.store.workspace_id,
            columns=columns,
            templates={template.name: template for template in known},
            graph=graph,
            handlers=self.handlers(),
        )
        for spec in specs:
            validate_rule(spec, context)


def _renamed_parent(rule: Rule, old: str, new: str) -> Rule | RuleSpec:
    if old == new or old not in rule.depends_on:
        return rule
    parents = tuple(new if name == old else name for name in rule.depends_on)
    return replace(rule, depends_on=parents)
