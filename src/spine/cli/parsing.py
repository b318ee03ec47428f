"""Parsing of option values shared by command groups; each error is one clear line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from typing import Any

from spine.core.errors import InvalidInput
from spine.core.jsonsafe import json_object, text_value


def parse_param_text(pairs: list[str] | None) -> dict[str, str]:
    """Turn ``k=v`` pairs into a dict of their text, for a workflow to read by its types.

    Raises:
        InvalidInput: If a pair has no ``=`` or an empty key.
    """
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"bad --param {pair!r}: expected key=value")
        params[key] = raw
    return params


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """Turn ``k=v`` pairs into a dict; ``v`` is JSON if it reads back as written, else text.

    ``10`` is a number and ``1.10`` the text ``"1.10"`` (see
    :func:`spine.core.jsonsafe.text_value`).

    Raises:
        InvalidInput: If a pair has no ``=`` or an empty key, or ``v`` is JSON holding
            NaN or Infinity.
    """
    return {key: text_value(raw, f"--param {key}") for key, raw in parse_param_text(pairs).items()}


def parse_json_object(raw: str | None, option: str) -> dict[str, Any] | None:
    """Parse a JSON object given on the command line.

    Raises:
        InvalidInput: If it is not valid JSON or not an object, or holds NaN or Infinity
            (which Python's reader accepts); the message names where.
    """
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise InvalidInput(f"{option} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{option} must be a JSON object, e.g. \'{{"week_ending": "2025-01-10"}}\''
        )
    return json_object(value, option)


def parse_time(raw: str | None, option: str, *, naive_in: tzinfo = UTC) -> datetime | None:
    """Parse an ISO-8601 date or time, as aware UTC; naive values are read in ``naive_in``.

    Raises:
        InvalidInput: If it is not ISO-8601.
    """
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{option} {raw!r} is not an ISO-8601 time (e.g. 2025-01-10T06:00:00Z)"
        ) from None
    return (value.replace(tzinfo=naive_in) if value.tzinfo is None else value).astimezone(UTC)
