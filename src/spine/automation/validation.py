"""Whether a rule spec fits its workspace, checked before anything is saved.

:func:`parse_rule <spine.automation.specs.parse_rule>` has checked the spec's shape
(operators, value kinds, the trigger, the cron and its zone). Here: the table is
watched and has every field a condition names; a scheduled rule uses no transition
operator (a selected row has no previous value); every action's template exists and is
of its type, its merged config holds only valid templates and passes its handler's own
checks; its parents exist and make no cycle.

Each refusal is one :class:`~spine.core.errors.InvalidInput` line naming the rule, the
field and the problem.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from spine.automation.dependencies import check_parents
from spine.automation.models import (
    ActionHandler,
    ActionTemplate,
    ActionType,
    Operator,
    TriggerType,
)
from spine.automation.specs import RuleSpec, TemplateSpec
from spine.automation.templating import check_templates, merge_config
from spine.core.errors import InvalidInput, NotFound

__all__ = ["RuleContext", "validate_rule", "validate_template"]

#: The operators that compare a row's old and new values.
TRANSITIONS = frozenset({Operator.CHANGED_FROM, Operator.CHANGED_TO})


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleContext:
    """What a rule is checked against: the workspace as the save would leave it.

    Attributes:
        workspace_id: The workspace the rule is saved in.
        columns: A watched table's columns (raises ``NotFound`` when not watched).
        templates: The action templates by name (saved ones, with a document's own).
        graph: Every rule's parents by rule name, with the rules being saved.
        handlers: The action handlers whose ``validate`` checks their configs.
    """

    workspace_id: uuid.UUID
    columns: Callable[[str], Sequence[str]]
    templates: Mapping[str, ActionTemplate | TemplateSpec] = field(default_factory=dict)
    graph: Mapping[str, Sequence[str]] = field(default_factory=dict)
    handlers: Mapping[ActionType, ActionHandler] = field(default_factory=dict)


def validate_rule(spec: RuleSpec, context: RuleContext) -> None:
    """Refuse ``spec`` if it cannot work in ``context``'s workspace.

    Raises:
        InvalidInput: ``rule 'NAME': FIELD: problem``.
    """
    try:
        _validate(spec, context)
    except InvalidInput as error:
        raise InvalidInput(f"rule {spec.name!r}: {error}") from None


def validate_template(spec: TemplateSpec, handlers: Mapping[ActionType, ActionHandler]) -> None:
    """Refuse a template whose default config is not made of valid templates.

    Its handler's own checks run on the actions that use it (merged with their config):
    a default config alone may lack what each action adds.

    Raises:
        InvalidInput: ``template 'NAME': FIELD: problem``.
    """
    del handlers  # kept for symmetry; see the docstring
    try:
        check_templates(spec.default_config, "default_config")
    except InvalidInput as error:
        raise InvalidInput(f"template {spec.name!r}: {error}") from None


def _validate(spec: RuleSpec, context: RuleContext) -> None:
    try:
        columns = tuple(context.columns(spec.entity))
    except NotFound as error:
        raise InvalidInput(f"entity: {error}") from None
    except InvalidInput as error:
        raise InvalidInput(f"entity: {error}") from None
    for index, condition in enumerate(spec.conditions):
        where = f"conditions[{index}]"
        if columns and condition.field_name not in columns:
            raise InvalidInput(
                f"{where}.field_name: table {spec.entity!r} has no column {condition.field_name!r}"
            )
        if spec.trigger is TriggerType.SCHEDULED and condition.operator in TRANSITIONS:
            raise InvalidInput(
                f"{where}.operator: {condition.operator.value} needs a change; a scheduled "
                "rule reads rows as they are"
            )
    for index, action in enumerate(spec.actions):
        where = f"actions[{index}]"
        default: Mapping[str, object] = {}
        if action.template is not None:
            template = context.templates.get(action.template)
            if template is None:
                raise InvalidInput(f"{where}.template: unknown action template {action.template!r}")
            if template.action_type is not action.action_type:
                raise InvalidInput(
                    f"{where}.template: {action.template!r} is for "
                    f"{template.action_type.value}, not {action.action_type.value}"
                )
            default = template.default_config
        merged = merge_config(default, action.config)
        try:
            check_templates(merged, f"{where}.config")
        except InvalidInput as error:
            raise InvalidInput(str(error)) from None
        handler = context.handlers.get(action.action_type)
        if handler is not None:
            try:
                handler.validate(merged, workspace_id=context.workspace_id)
            except (InvalidInput, NotFound) as error:
                raise InvalidInput(f"{where}.config: {error}") from None
    graph = dict(context.graph)
    graph[spec.name] = list(spec.depends_on)
    check_parents(spec.name, graph)
