"""Values that cross into the database as JSON: params, outputs, partition keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from spine.core.errors import InvalidInput


def json_dict(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``value`` as it will read back from a JSON column.

    Raises:
        InvalidInput: If it cannot be saved as JSON.
    """
    if not value:
        return {}
    try:
        return dict(json.loads(json.dumps(dict(value), default=_iso_default)))
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{what} are not JSON-serialisable: {error}") from None


def partition_text(key: str | Mapping[str, Any] | None) -> str | None:
    """A partition key as stored: text as given, a mapping as canonical JSON."""
    if key is None or isinstance(key, str):
        return key
    return json.dumps(dict(key), sort_keys=True, separators=(",", ":"))


def _iso_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
