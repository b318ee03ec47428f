"""Whether a change fits a rule: its trigger, then its field conditions (ANDed).

Pure functions over :class:`~spine.automation.models.Change` and
:class:`~spine.automation.models.Rule`; the dispatcher calls :func:`matches` for every
change and rule of the changed table, ``spine automation test`` calls :func:`evaluate`
to say why.

How values compare (one rule for every operator, so that ``equals`` and ``in`` agree,
and ``greater_than`` and ``less_than`` are each other's mirror):

- two numbers, or numeric text (``"12.50"``), compare as numbers (``2 < 10``);
- booleans compare with booleans, and with ``0``/``1`` (SQLite keeps booleans as
  integers) and the text ``true``/``false``;
- ``null`` equals only ``null`` and is neither greater nor less than anything;
- anything else compares as text (``"b" > "a"``; lists and objects by their JSON).

The value a condition reads is the field of the row the change is about (the new row,
or the old one for a delete). ``changed_to`` and ``changed_from`` read both sides: on an
insert the old side is absent, on a delete the new side is, and an absent side differs
from every value (``null`` included).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from spine.automation.models import (
    Change,
    ConditionVerdict,
    FieldCondition,
    Operation,
    Operator,
    Row,
    Rule,
)

__all__ = ["evaluate", "matches", "same_value"]

#: Numeric text: what a person or a JSON column writes for a number (no spaces, no
#: ``NaN``/``Infinity``: those are words, compared as text).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE_WORDS: Final = frozenset({"true", "t", "yes"})
_FALSE_WORDS: Final = frozenset({"false", "f", "no"})


class _Absent:
    """The side of a change that does not exist (the old row of an insert)."""

    def __repr__(self) -> str:
        return "absent"


_ABSENT: Final = _Absent()


def matches(rule: Rule, change: Change) -> bool:
    """Whether ``rule`` answers ``change``.

    True when the change's operation is the rule's trigger (a scheduled change only
    for the rule it names), a change recorded for one workspace is the rule's
    workspace, and every condition holds (no conditions: every change of the trigger).
    Whether the rule is active is the caller's concern.
    """
    if not trigger_fits(rule, change):
        return False
    return all(_holds(condition, change)[0] for condition in rule.conditions)


def trigger_fits(rule: Rule, change: Change) -> bool:
    """Whether the change's operation (and, for spine's own changes, workspace) fits."""
    if change.operation.trigger is not rule.trigger:
        return False
    if change.operation is Operation.SCHEDULED and change.rule_id != rule.id:
        return False
    return change.workspace_id is None or change.workspace_id == rule.workspace_id


def evaluate(conditions: Sequence[FieldCondition], change: Change) -> tuple[ConditionVerdict, ...]:
    """Each condition's verdict for ``change``, in the given order, with its reason."""
    verdicts = []
    for condition in conditions:
        held, reason = _holds(condition, change)
        verdicts.append(ConditionVerdict(condition=condition, matched=held, reason=reason))
    return tuple(verdicts)


def same_value(left: Any, right: Any) -> bool:
    """Whether two JSON values are equal under the comparison rules of the module."""
    return _compare(left, right) == 0


def _holds(condition: FieldCondition, change: Change) -> tuple[bool, str]:
    name = condition.field_name
    operator = condition.operator
    if operator is Operator.CHANGED_TO or operator is Operator.CHANGED_FROM:
        old = _field(change.old, name)
        new = _field(change.new, name)
        moved = _differs(old, new)
        if operator is Operator.CHANGED_TO:
            held = moved and not isinstance(new, _Absent) and same_value(new, condition.value)
            want = f"to {_show(condition.value)}"
        else:
            held = moved and not isinstance(old, _Absent)
            held = held and same_value(old, condition.previous_value)
            want = f"from {_show(condition.previous_value)}"
        verb = "changed" if moved else "did not change"
        return held, f"{name} {verb} ({_show(old)} -> {_show(new)}), wanted a change {want}"
    actual = change.row().get(name)
    held = _apply(operator, actual, condition.value)
    verdict = "holds" if held else "does not hold"
    return held, f"{name} is {_show(actual)}: {operator.value} {_show(condition.value)} {verdict}"


def _apply(operator: Operator, actual: Any, wanted: Any) -> bool:
    if operator is Operator.EQUALS:
        return same_value(actual, wanted)
    if operator is Operator.NOT_EQUALS:
        return not same_value(actual, wanted)
    if operator is Operator.GREATER_THAN:
        return _compare(actual, wanted) == 1
    if operator is Operator.LESS_THAN:
        return _compare(actual, wanted) == -1
    if operator is Operator.IN:
        options = wanted if isinstance(wanted, list | tuple) else ()
        return any(same_value(actual, option) for option in options)
    if operator is Operator.CONTAINS:
        return _contains(actual, wanted)
    raise ValueError(f"{operator.value} reads both sides of a change")  # pragma: no cover


def _contains(actual: Any, wanted: Any) -> bool:
    """Text holds the text of ``wanted``; a list holds an equal item; an object a key."""
    if actual is None:
        return False
    if isinstance(actual, list | tuple):
        return any(same_value(item, wanted) for item in actual)
    if wanted is None:
        return False
    if isinstance(actual, str):
        return _text(wanted) in actual
    if isinstance(actual, Mapping):
        return _text(wanted) in actual
    return _text(wanted) in _text(actual)


def _compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 as ``left`` is less, equal or greater; ``None`` when unordered (null)."""
    if left is None or right is None:
        return 0 if left is None and right is None else None
    if isinstance(left, bool) or isinstance(right, bool):
        left_truth, right_truth = _truth(left), _truth(right)
        if left_truth is not None and right_truth is not None:
            return _order(left_truth, right_truth)
    else:
        left_number, right_number = _number(left), _number(right)
        if left_number is not None and right_number is not None:
            return _order(left_number, right_number)
    return _order(_text(left), _text(right))


def _order(left: Any, right: Any) -> int:
    return -1 if left < right else (1 if left > right else 0)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # The shortest text that reads back as the float: 0.1 equals "0.1", as a
        # person means it (Decimal(0.1) is 0.1000000000000000055...).
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return Decimal(value)
    return None


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _field(row: Row | None, name: str) -> Any:
    if row is None:
        return _ABSENT
    return row.get(name)


def _differs(old: Any, new: Any) -> bool:
    absent_old, absent_new = isinstance(old, _Absent), isinstance(new, _Absent)
    if absent_old or absent_new:
        return not (absent_old and absent_new)
    return not same_value(old, new)


def _show(value: Any) -> str:
    if isinstance(value, _Absent):
        return "absent"
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
