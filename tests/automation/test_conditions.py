"""Conditions: every operator, as properties over generated rows and values (hypothesis)."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spine.automation.conditions import evaluate, matches, same_value
from spine.automation.models import (
    Change,
    FieldCondition,
    Operation,
    Operator,
    Rule,
    TriggerType,
)

WORKSPACE = uuid.uuid4()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
)
numbers = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, width=32),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))
operations = st.sampled_from([Operation.INSERT, Operation.UPDATE, Operation.DELETE])


def change(
    operation: Operation,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    **extra: Any,
) -> Change:
    if operation is Operation.INSERT:
        old = None
    if operation is Operation.DELETE:
        new = None
    return Change(
        position=1,
        table_name="orders",
        schema_name=None,
        operation=operation,
        old=old,
        new=new,
        **extra,
    )


def rule(trigger: TriggerType, *conditions: FieldCondition, **extra: Any) -> Rule:
    return Rule(
        id=extra.pop("id", uuid.uuid4()),
        workspace_id=extra.pop("workspace_id", WORKSPACE),
        name="r",
        entity="orders",
        entity_id=uuid.uuid4(),
        trigger=trigger,
        conditions=conditions,
        actions=(),
        **extra,
    )


def holds(operator: Operator, actual: Any, value: Any) -> bool:
    condition = FieldCondition(field_name="f", operator=operator, value=value)
    (verdict,) = evaluate([condition], change(Operation.UPDATE, {"f": actual}, {"f": actual}))
    return verdict.matched


def moved(operator: Operator, op: Operation, old: Any, new: Any, value: Any) -> bool:
    condition = FieldCondition(
        field_name="f",
        operator=operator,
        value=None if operator is Operator.CHANGED_FROM else value,
        previous_value=value if operator is Operator.CHANGED_FROM else None,
    )
    (verdict,) = evaluate([condition], change(op, {"f": old}, {"f": new}))
    return verdict.matched


# equals / not_equals ----------------------------------------------------------------


@given(values, values)
def test_not_equals_is_the_complement_of_equals(actual: Any, value: Any) -> None:
    assert holds(Operator.NOT_EQUALS, actual, value) is not holds(Operator.EQUALS, actual, value)


@given(values)
def test_a_value_equals_itself(value: Any) -> None:
    assert holds(Operator.EQUALS, value, value)


@given(values, values)
def test_equals_is_symmetric(left: Any, right: Any) -> None:
    assert same_value(left, right) is same_value(right, left)


@given(numbers)
def test_numeric_text_equals_its_number(number: int | float) -> None:
    assert holds(
        Operator.EQUALS, number, repr(number) if isinstance(number, float) else str(number)
    )


def test_equals_examples() -> None:
    assert holds(Operator.EQUALS, "shipped", "shipped")
    assert not holds(Operator.EQUALS, "shipped", "Shipped")
    assert holds(Operator.EQUALS, 1, True)  # SQLite keeps booleans as integers
    assert holds(Operator.EQUALS, "12.50", 12.5)
    assert holds(Operator.EQUALS, None, None)
    assert not holds(Operator.EQUALS, None, "")
    assert not holds(Operator.EQUALS, 0, None)


# greater_than / less_than -----------------------------------------------------------


@given(numbers, numbers)
def test_numbers_compare_as_numbers(left: float, right: float) -> None:
    assert holds(Operator.GREATER_THAN, left, right) is (left > right)
    assert holds(Operator.LESS_THAN, left, right) is (left < right)


@given(st.integers(min_value=-(10**6), max_value=10**6), numbers)
def test_numeric_text_compares_as_a_number(left: int, right: float) -> None:
    assert holds(Operator.GREATER_THAN, str(left), right) is (left > right)
    assert holds(Operator.LESS_THAN, left, str(right) if isinstance(right, int) else right) is (
        left < right
    )


@given(st.text(alphabet="abcXYZ -", max_size=8), st.text(alphabet="abcXYZ -", max_size=8))
def test_other_text_compares_in_text_order(left: str, right: str) -> None:
    assert holds(Operator.GREATER_THAN, left, right) is (left > right)
    assert holds(Operator.LESS_THAN, left, right) is (left < right)


@given(values, values)
def test_greater_and_less_mirror_each_other_and_exclude_equals(left: Any, right: Any) -> None:
    greater = holds(Operator.GREATER_THAN, left, right)
    less = holds(Operator.LESS_THAN, left, right)
    assert greater is holds(Operator.LESS_THAN, right, left)
    assert not (greater and less)
    if greater or less:
        assert not holds(Operator.EQUALS, left, right)


@given(scalars)
def test_null_is_neither_greater_nor_less(value: Any) -> None:
    for operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        assert not holds(operator, None, value)
        assert not holds(operator, value, None)


def test_ordering_examples() -> None:
    assert holds(Operator.GREATER_THAN, 10, 9)
    assert holds(Operator.GREATER_THAN, "10", "9")  # numbers, not text
    assert holds(Operator.LESS_THAN, "apple", "banana")
    assert holds(Operator.GREATER_THAN, "2026-12-02", "2026-11-30")


# contains / in ----------------------------------------------------------------------


@given(st.text(max_size=20), st.data())
def test_text_contains_each_of_its_slices(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    end = data.draw(st.integers(min_value=start, max_value=len(text)))
    assert holds(Operator.CONTAINS, text, text[start:end])


@given(st.text(alphabet="ab", max_size=6), st.text(alphabet="ab", max_size=6))
def test_text_contains_is_substring(text: str, part: str) -> None:
    assert holds(Operator.CONTAINS, text, part) is (part in text)


@given(st.lists(scalars, max_size=5), scalars)
def test_a_list_contains_an_equal_item(items: list[Any], value: Any) -> None:
    expected = any(same_value(item, value) for item in items)
    assert holds(Operator.CONTAINS, items, value) is expected


@given(values)
def test_null_contains_nothing(value: Any) -> None:
    assert not holds(Operator.CONTAINS, None, value)


@given(values, st.lists(values, max_size=5))
def test_in_is_equals_to_any_item(actual: Any, options: list[Any]) -> None:
    expected = any(holds(Operator.EQUALS, actual, option) for option in options)
    assert holds(Operator.IN, actual, options) is expected


@given(values)
def test_in_a_one_item_list_is_equals(value: Any) -> None:
    assert holds(Operator.IN, value, [value])
    assert not holds(Operator.IN, value, [])


# changed_to / changed_from ----------------------------------------------------------


@given(values, values)
def test_changed_to_needs_a_real_change(same: Any, value: Any) -> None:
    assert not moved(Operator.CHANGED_TO, Operation.UPDATE, same, same, value)
    assert not moved(Operator.CHANGED_FROM, Operation.UPDATE, same, same, value)


@given(values, values, values)
def test_changed_to_is_a_change_ending_at_the_value(old: Any, new: Any, value: Any) -> None:
    expected = not same_value(old, new) and same_value(new, value)
    assert moved(Operator.CHANGED_TO, Operation.UPDATE, old, new, value) is expected


@given(values, values, values)
def test_changed_from_is_a_change_leaving_the_value(old: Any, new: Any, value: Any) -> None:
    expected = not same_value(old, new) and same_value(old, value)
    assert moved(Operator.CHANGED_FROM, Operation.UPDATE, old, new, value) is expected


@given(values, values)
def test_an_insert_changes_to_its_value_and_from_nothing(new: Any, value: Any) -> None:
    assert moved(Operator.CHANGED_TO, Operation.INSERT, None, new, value) is same_value(new, value)
    assert not moved(Operator.CHANGED_FROM, Operation.INSERT, None, new, value)


@given(values, values)
def test_a_delete_changes_from_its_value_and_to_nothing(old: Any, value: Any) -> None:
    assert moved(Operator.CHANGED_FROM, Operation.DELETE, old, None, value) is same_value(
        old, value
    )
    assert not moved(Operator.CHANGED_TO, Operation.DELETE, old, None, value)


def test_changed_examples() -> None:
    assert moved(Operator.CHANGED_TO, Operation.UPDATE, "new", "shipped", "shipped")
    assert not moved(Operator.CHANGED_TO, Operation.UPDATE, "shipped", "shipped", "shipped")
    assert moved(Operator.CHANGED_FROM, Operation.UPDATE, "pending", "shipped", "pending")
    assert moved(Operator.CHANGED_TO, Operation.UPDATE, 1, 2, "2")


# rows, triggers and the conjunction -------------------------------------------------


def test_a_delete_reads_the_old_row() -> None:
    condition = FieldCondition(field_name="status", operator=Operator.EQUALS, value="gone")
    (verdict,) = evaluate([condition], change(Operation.DELETE, {"status": "gone"}, None))
    assert verdict.matched
    assert "status" in verdict.reason


def test_a_missing_field_reads_as_null() -> None:
    condition = FieldCondition(field_name="nope", operator=Operator.EQUALS, value=None)
    (verdict,) = evaluate([condition], change(Operation.INSERT, None, {"status": "x"}))
    assert verdict.matched


@given(operations, st.sampled_from(list(TriggerType)))
def test_no_conditions_match_every_change_of_the_trigger(
    operation: Operation, trigger: TriggerType
) -> None:
    assert matches(rule(trigger), change(operation, {"a": 1}, {"a": 2})) is (
        operation.trigger is trigger
    )


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([o for o in Operator if o not in (Operator.IN,)]),
            values,
        ),
        max_size=4,
    ),
    values,
    values,
)
def test_conditions_are_anded(pairs: list[tuple[Operator, Any]], old: Any, new: Any) -> None:
    conditions = [
        FieldCondition(field_name="f", operator=operator, value=value, previous_value=value)
        for operator, value in pairs
    ]
    event = change(Operation.UPDATE, {"f": old}, {"f": new})
    verdicts = evaluate(conditions, event)
    assert [v.condition for v in verdicts] == conditions
    assert matches(rule(TriggerType.ON_UPDATE, *conditions), event) is all(
        v.matched for v in verdicts
    )


def test_a_scheduled_change_is_for_its_rule_alone() -> None:
    mine = rule(TriggerType.SCHEDULED)
    other = rule(TriggerType.SCHEDULED)
    event = change(Operation.SCHEDULED, None, {"a": 1}, rule_id=mine.id)
    assert matches(mine, event)
    assert not matches(other, event)


def test_a_change_recorded_for_a_workspace_is_for_its_rules_alone() -> None:
    mine = rule(TriggerType.ON_CREATE)
    other = rule(TriggerType.ON_CREATE, workspace_id=uuid.uuid4())
    event = change(Operation.INSERT, None, {"a": 1}, workspace_id=WORKSPACE)
    assert matches(mine, event)
    assert not matches(other, event)
