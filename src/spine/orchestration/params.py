"""Run params a workflow declares with a type: converted and checked when a run is made.

``Workflow("finra.weekly", steps, params={"week_ending": date, "limit": int})`` declares
two params. A declared param given as text (``--param limit=10``, a schedule's rendered
template) is read as its type; given as a Python value, it must be of that type, except
that a number or boolean for a ``str`` param becomes its JSON text (a schedule's params
were read from text before the workflow was known). Dates and times are stored as
ISO-8601 text, since JSON has no date. Params a workflow does not declare pass unchanged
(the command line reads them with :func:`spine.core.jsonsafe.text_value`), and a declared
param may be left out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import text_value

#: The types a workflow may declare a param with.
PARAM_TYPES: tuple[type, ...] = (str, int, float, bool, date, datetime, list, dict)

_INT = re.compile(r"[+-]?\d+\Z")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def declared_types(workflow: str, declared: Mapping[str, type] | None) -> dict[str, type]:
    """A workflow's param declaration, checked when the workflow is defined.

    Raises:
        InvalidInput: If a name is empty or a type is not one of :data:`PARAM_TYPES`.
    """
    result: dict[str, type] = {}
    for name, kind in (declared or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"workflow {workflow!r}: a param name must be non-empty text")
        if kind not in PARAM_TYPES:
            allowed = ", ".join(t.__name__ for t in PARAM_TYPES)
            raise InvalidInput(
                f"workflow {workflow!r}: param {name!r} has type {kind!r}; use one of {allowed}"
            )
        result[name] = kind
    return result


def typed_params(declared: Mapping[str, type], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with each declared param converted to its type's JSON form.

    Raises:
        InvalidInput: If a declared param cannot be read as its type; the message names it.
    """
    result = dict(params)
    for name, kind in declared.items():
        if name in result:
            result[name] = _convert(name, result[name], kind)
    return result


def params_from_text(declared: Mapping[str, type], raw: Mapping[str, str]) -> dict[str, Any]:
    """Run params from ``--param k=v`` text, before the workflow reads them.

    A declared param stays text (read by its type when the run is made); any other is
    JSON when ``v`` reads back as written (:func:`text_value`), else text.

    Raises:
        InvalidInput: If an undeclared value is JSON holding NaN or Infinity.
    """
    return {
        key: value if key in declared else text_value(value, f"--param {key}")
        for key, value in raw.items()
    }


def _convert(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, str) and kind is not str:
        return _from_text(name, value.strip(), kind)
    if kind is str and isinstance(value, int | float) and math.isfinite(value):
        # A number or boolean read from text before the declaration was known (a
        # schedule's `--param code=10`): back to the JSON text it was read from.
        return json.dumps(value)
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _wrong(name, value, kind)
        return float(value)
    if kind is date and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if kind is datetime and isinstance(value, datetime):
        return _aware(value).isoformat()
    if kind is list and isinstance(value, list | tuple):
        return list(value)
    if kind is dict and isinstance(value, Mapping):
        return dict(value)
    plain = kind in (str, int, bool) and isinstance(value, kind)
    if plain and not (kind is int and isinstance(value, bool)):
        return value
    raise _wrong(name, value, kind)


def _from_text(name: str, text: str, kind: type) -> Any:
    try:
        if kind is int and _INT.match(text):
            return int(text)
        if kind is float:
            number = float(text)
            if math.isfinite(number):
                return number
        if kind is bool and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if kind is date:
            return date.fromisoformat(text).isoformat()
        if kind is datetime:
            return _aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).isoformat()
        if kind in (list, dict):
            parsed = json.loads(text, parse_constant=_no_constant)
            if isinstance(parsed, kind):
                return parsed
    except ValueError:
        pass
    raise _wrong(name, text, kind)


def _aware(value: datetime) -> datetime:
    """A time as stored: naive times are taken as UTC, like every time spine stores."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not valid JSON")


_EXAMPLES = {
    int: "10",
    float: "2.5",
    bool: "true",
    date: "2025-01-10",
    datetime: "2025-01-10T06:00:00Z",
    list: "[1, 2]",
    dict: '{"a": 1}',
}


def _wrong(name: str, value: Any, kind: type) -> InvalidInput:
    example = _EXAMPLES.get(kind)
    hint = f", e.g. {example}" if example else ""
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return InvalidInput(f"param {name!r} must be {kind.__name__}{hint}; got {shown}")
