"""The JSON-safe check: what it accepts, what it refuses, and where it says the fault is."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import dumps, json_object, json_value, text_value

# Text that both databases store as it is: no NUL, no lone surrogate (refused apart).
storable_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and ±Infinity included
    | storable_text
    | st.binary(max_size=4)
)
json_ish = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(storable_text, inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_ish)
def test_accepts_exactly_what_json_round_trips_without_nan(value: Any) -> None:
    try:
        expected = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        with pytest.raises(InvalidInput):
            json_value(value, "v")
        return
    assert json_value(value, "v") == expected


@given(json_ish)
def test_what_it_accepts_the_storage_serialiser_writes(value: Any) -> None:
    try:
        checked = json_value(value, "v")
    except InvalidInput:
        return
    assert json.loads(dumps(checked)) == checked


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"rows": [{"price": 1}, {}, {}, {"price": math.nan}]}, "outputs.rows[3].price: NaN"),
        ({"x": math.inf}, "outputs.x: Infinity is not valid JSON"),
        ({"x": [-math.inf]}, "outputs.x[0]: -Infinity is not valid JSON"),
        ({"blob": b"\x00"}, "outputs.blob: bytes are not valid JSON"),
        ({"n": Decimal("1.10")}, "outputs.n: Decimal is not valid JSON (convert it first"),
        ({"id": UUID(int=1)}, "outputs.id: UUID is not valid JSON"),
        ({"s": {1, 2}}, "outputs.s: set is not valid JSON"),
        ({"week ending": math.nan}, "outputs['week ending']: NaN is not valid JSON"),
        ({"t": "a\x00b"}, "outputs.t: text with a NUL character"),
        ({"t": "\ud800"}, "outputs.t: text with a lone surrogate"),
        ({("a", 1): 1}, "outputs: key ('a', 1) (tuple) is not valid JSON; keys are text"),
        ({math.nan: 1}, "outputs: key NaN is not valid JSON"),
        ({1: "a", "1": "b"}, "outputs['1']: two keys become the same JSON key '1'"),
    ],
)
def test_refusals_name_the_field(value: dict[Any, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        json_object(value, "outputs")

    assert str(raised.value).startswith(message)
    assert not raised.value.retryable


def test_a_value_that_contains_itself_is_refused() -> None:
    looped: dict[str, Any] = {"a": []}
    looped["a"].append(looped)

    with pytest.raises(InvalidInput, match=r"outputs.a\[0\]: the value contains itself"):
        json_object(looped, "outputs")


class Tier(StrEnum):
    T1 = "T1"


class Level(IntEnum):
    HIGH = 3


def test_what_converts_as_json_dumps_converts_it_and_times_as_iso_text() -> None:
    shared = [1]
    value = {
        "tuple": (1, "a"),
        7: "int key",
        True: "bool key",
        None: "none key",
        2.5: "float key",
        "tier": Tier.T1,
        "level": Level.HIGH,
        "at": datetime(2025, 1, 10, 6, tzinfo=UTC),
        "day": date(2025, 1, 10),
        "twice": [shared, shared],  # the same list twice is not a loop
    }

    checked = json_object(value, "outputs")

    assert checked == {
        "tuple": [1, "a"],
        "7": "int key",
        "true": "bool key",
        "null": "none key",
        "2.5": "float key",
        "tier": "T1",
        "level": 3,
        "at": "2025-01-10T06:00:00+00:00",
        "day": "2025-01-10",
        "twice": [[1], [1]],
    }
    assert type(checked["tier"]) is str and type(checked["level"]) is int


def test_the_storage_serialiser_refuses_nan() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps({"x": math.nan})


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("10", 10),
        ("-3", -3),
        ("true", True),
        ("null", None),
        ("[1,2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("2.5", 2.5),
        ('"10"', "10"),  # quotes make it text
        ("1.10", "1.10"),  # JSON would store 1.1
        ("1e3", "1e3"),  # JSON would store 1000.0
        ("-0", "-0"),
        ("[1.0, 1.50]", "[1.0, 1.50]"),
        ('{"a": 1, "a": 2}', '{"a": 1, "a": 2}'),
        ("2025-01-10", "2025-01-10"),
        ("hello", "hello"),
        ("", ""),
    ],
)
def test_command_line_values_are_json_only_when_they_read_back_as_written(
    raw: str, value: Any
) -> None:
    assert text_value(raw, "--param k") == value
    assert type(text_value(raw, "--param k")) is type(value)


@pytest.mark.parametrize("raw", ["NaN", "[1, Infinity]", '{"a": -Infinity}'])
def test_command_line_nan_is_refused_naming_the_param(raw: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--param k: -?(NaN|Infinity) is not valid JSON"):
        text_value(raw, "--param k")


@settings(max_examples=200)
@given(st.from_type(type(None)) | st.integers() | st.floats(allow_nan=False) | st.booleans())
def test_a_canonical_json_scalar_reads_back_as_itself(value: Any) -> None:
    text = json.dumps(value, allow_nan=True)
    if text in ("Infinity", "-Infinity"):
        return
    assert text_value(text, "k") == value
