"""Values that cross into the database as JSON: params, outputs, partition keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from spine.core.jsonsafe import json_object


def json_dict(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``value`` as it will read back from a JSON column; ``what`` names it in errors.

    Raises:
        InvalidInput: If some part of it cannot be saved as JSON (NaN, bytes, an
            object JSON has no form for); the message names that part, e.g.
            ``outputs.rows[3].price: NaN is not valid JSON``.
    """
    if not value:
        return {}
    return json_object(value, what)


def partition_text(key: str | Mapping[str, Any] | None) -> str | None:
    """A partition key as stored: text as given, a mapping as canonical JSON.

    Raises:
        InvalidInput: If a mapping holds a value JSON cannot hold.
    """
    if key is None or isinstance(key, str):
        return key
    checked = json_object(key, "partition_key")
    return json.dumps(checked, sort_keys=True, separators=(",", ":"), allow_nan=False)
