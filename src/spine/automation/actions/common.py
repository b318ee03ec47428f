"""What the action handlers share: reading a config, recipients, times, the execution."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from spine.automation.errors import ActionFailed
from spine.automation.models import ActionContext, AlertSeverity
from spine.automation.store.alerts import execution_exists
from spine.core.errors import InvalidInput
from spine.core.events import Connection

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def text(config: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """``config[key]`` as non-empty text (``None`` when absent and not required).

    Raises:
        InvalidInput: If it is required and missing, or not text.
    """
    value = config.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"config.{key}: required")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"config.{key}: expected text")
    return str(value)


def mapping(config: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``config[key]`` as a mapping (empty when absent)."""
    value = config.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"config.{key}: expected a mapping")
    return dict(value)


def items(config: Mapping[str, Any], key: str, *, required: bool = True) -> list[Any]:
    """``config[key]`` as a list (a single text is a list of one)."""
    value = config.get(key)
    if value is None or value == []:
        if required:
            raise InvalidInput(f"config.{key}: give at least one")
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence):
        raise InvalidInput(f"config.{key}: expected a list")
    return list(value)


def check_recipients(config: Mapping[str, Any], key: str = "recipients") -> None:
    """Refuse recipients that are neither users nor roles (names are checked when sent)."""
    for index, item in enumerate(items(config, key)):
        if isinstance(item, str) and item.strip():
            continue
        if isinstance(item, Mapping) and (
            (item.get("type", "user") == "user" and isinstance(item.get("email"), str))
            or (item.get("type") == "role" and isinstance(item.get("name"), str))
        ):
            continue
        raise InvalidInput(
            f"config.{key}[{index}]: expected {{type: user, email: ...}} or "
            "{type: role, name: ...}"
        )


def severity(config: Mapping[str, Any], default: AlertSeverity) -> AlertSeverity:
    """``config.severity``: low, medium, high or critical."""
    value = config.get("severity")
    if value is None or value == "":
        return default
    try:
        return AlertSeverity(str(value).strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in AlertSeverity)
        raise InvalidInput(f"config.severity: {value!r} is not one of {known}") from None


def duration(value: Any, key: str) -> timedelta:
    """A duration: seconds as a number, or ``90s``, ``30m``, ``2h``, ``1d``, ``1w``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        found = _DURATION.fullmatch(str(value))
        if found is None:
            raise InvalidInput(f"config.{key}: expected a duration like 30m, 2h or 1d")
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise InvalidInput(f"config.{key}: must be more than nothing")
    return timedelta(seconds=seconds)


def expiry(config: Mapping[str, Any], now: datetime) -> datetime | None:
    """When an alert expires: ``expires_in`` after ``now``, or ``expires_date``."""
    if config.get("expires_in") not in (None, ""):
        return now + duration(config["expires_in"], "expires_in")
    raw = config.get("expires_date")
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        at = raw
    else:
        try:
            at = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"config.expires_date: not an ISO time: {raw!r}") from None
    if at.tzinfo is None:
        raise InvalidInput("config.expires_date: give a time zone (…Z or +00:00)")
    return at


def looks_templated(value: Any) -> bool:
    """Whether a value is rendered per change (checked when the action runs)."""
    return isinstance(value, str) and "{" in value


def linked_execution(conn: Connection, ctx: ActionContext) -> uuid.UUID | None:
    """The execution id to reference, when its row is already written.

    Alerts and deliveries reference ``automation_executions``; an executor that writes
    the execution after its actions leaves the reference empty (the id is still kept in
    the alert's context and the delivery's payload).
    """
    return ctx.execution_id if execution_exists(conn, ctx.execution_id) else None


def row_uuid(row: Mapping[str, Any]) -> uuid.UUID | None:
    """The changed row's ``id`` when it is a UUID (``alerts.source_entity_id``)."""
    value = row.get("id")
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def failed(error: Exception) -> ActionFailed:
    """An :class:`ActionFailed` saying ``error`` in one line."""
    return ActionFailed(str(error).splitlines()[0] if str(error) else type(error).__name__)
