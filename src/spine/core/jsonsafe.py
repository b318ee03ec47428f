"""Values that JSON can hold, checked where they come in, before they reach the database.

Params, step outputs and partition keys are stored in JSON columns (``jsonb`` on
PostgreSQL, JSON text on SQLite). Python's ``json`` module writes ``NaN`` and
``Infinity``, which are not JSON: PostgreSQL refuses the row (at COMMIT, far from the
cause) and SQLite stores text that no JSON reader accepts. :func:`json_value` walks a value
once and refuses what either database would refuse or change, naming where it is
(``outputs.rows[3].price: NaN is not valid JSON``), so the same value fails the same way
on both databases, at the door.

Accepted, and converted the way ``json.dumps`` converts them (as spine always has):
tuples become lists, ``int``/``float``/``bool``/``None`` keys become text, subclasses of
``str``/``int``/``float`` (enums) become the plain value, and ``datetime``/``date`` become
ISO-8601 text. Refused: NaN and ±Infinity, ``bytes``, text holding a NUL character or a
lone surrogate (``jsonb`` cannot store them), two keys that become the same text, a value
that contains itself, and every other object (``Decimal``, ``UUID``, sets ...): convert it
first, with ``str(value)`` or ``float(value)``, so that the choice is yours.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from spine.core.errors import InvalidInput

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A lone UTF-16 surrogate: Python text may hold one, JSON text written by spine may not.
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_value(value: Any, path: str) -> Any:
    """``value`` as it will read back from a JSON column, ``path`` naming it in errors.

    Raises:
        InvalidInput: If some part of it cannot be stored as JSON; the message names
            that part, e.g. ``outputs.rows[3].price: NaN is not valid JSON``.
    """
    return _walk(value, path, set())


def json_object(value: Mapping[str, Any], path: str) -> dict[str, Any]:
    """A mapping as it will read back from a JSON column (see :func:`json_value`)."""
    checked = json_value(value, path)
    assert isinstance(checked, dict)
    return checked


def dumps(value: Any) -> str:
    """JSON text of ``value``, refusing NaN and Infinity: the serialiser of JSON columns.

    The last guard behind :func:`json_value`: a value that reaches the database without
    being checked fails with ``ValueError`` here instead of storing invalid JSON.
    """
    return json.dumps(value, allow_nan=False)


def text_value(raw: str, name: str) -> Any:
    """A value typed on a command line: JSON if it reads back as written, else the text.

    ``10``, ``true``, ``null``, ``[1, 2]`` and ``{"a": 1}`` are JSON values; ``1.10``,
    ``1e3`` and ``-0`` stay text, since JSON would store ``1.1``, ``1000.0`` and ``0``;
    ``"10"`` (with the quotes) is the text ``10``; anything that is not JSON is text.

    Raises:
        InvalidInput: If it is JSON holding ``NaN`` or ``Infinity`` (no JSON column can
            hold them; quote it, ``'"NaN"'``, to mean the text).
    """
    try:
        parsed = json.loads(
            raw,
            parse_float=_exact_float,
            parse_int=_exact_int,
            parse_constant=_no_constant,
            object_pairs_hook=_unique_keys,
        )
    except _NotJsonConstant as error:
        raise InvalidInput(
            f"{name}: {error.args[0]} is not valid JSON (quote it, '\"{error.args[0]}\"',"
            " to mean the text)"
        ) from None
    except (ValueError, _Changed):
        return raw
    return json_value(parsed, name)


class _Changed(Exception):
    """A number or object that JSON would not give back as written."""


class _NotJsonConstant(Exception):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python reads them, JSON has no such thing."""


def _exact_float(text: str) -> float:
    number = float(text)
    if json.dumps(number) != text:
        raise _Changed(text)
    return number


def _exact_int(text: str) -> int:
    number = int(text)
    if str(number) != text:
        raise _Changed(text)
    return number


def _no_constant(text: str) -> Any:
    raise _NotJsonConstant(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Changed("duplicate key")
    return result


def _walk(value: Any, path: str, seen: set[int]) -> Any:
    # bool before int (a bool is an int), str/int/float subclasses (enums) made plain.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{path}: {_float_name(value)} is not valid JSON")
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        if id(value) in seen:
            raise InvalidInput(f"{path}: the value contains itself")
        seen.add(id(value))
        try:
            if isinstance(value, Mapping):
                return _mapping(value, path, seen)
            return [_walk(item, f"{path}[{i}]", seen) for i, item in enumerate(value)]
        finally:
            seen.discard(id(value))
    if isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInput(f"{path}: bytes are not valid JSON (decode or base64-encode them)")
    raise InvalidInput(
        f"{path}: {type(value).__name__} is not valid JSON"
        " (convert it first, e.g. with str() or float())"
    )


def _mapping(value: Mapping[Any, Any], path: str, seen: set[int]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        text = _key(key, path)
        where = f"{path}.{text}" if _NAME.match(text) else f"{path}[{text!r}]"
        if text in result:
            raise InvalidInput(f"{where}: two keys become the same JSON key {text!r}")
        result[text] = _walk(item, where, seen)
    return result


def _key(key: Any, path: str) -> str:
    """A key as JSON writes it: text as it is; numbers, booleans and None as their JSON."""
    if isinstance(key, str):
        return _text(str(key), f"{path} key {key!r}")
    if key is None or isinstance(key, bool | int):
        return json.dumps(key if key is None or isinstance(key, bool) else int(key))
    if isinstance(key, float):
        if not math.isfinite(key):
            raise InvalidInput(f"{path}: key {_float_name(key)} is not valid JSON")
        return json.dumps(float(key))
    raise InvalidInput(
        f"{path}: key {key!r} ({type(key).__name__}) is not valid JSON; keys are text"
    )


def _text(value: str, path: str) -> str:
    if "\x00" in value:
        raise InvalidInput(f"{path}: text with a NUL character (\\u0000) cannot be stored as JSON")
    if _SURROGATE.search(value):
        raise InvalidInput(f"{path}: text with a lone surrogate is not valid JSON")
    return str(value)


def _float_name(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
