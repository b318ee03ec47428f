"""What an audit entry says changed: ``{"field": {"old": ..., "new": ...}}``.

Secrets (passwords, tokens, signing keys, a key's digest) appear only as changed: their
entry is ``{"old": "[secret]", "new": "[secret]"}`` when the value changed, and never holds
the value. Values are made JSON-safe (times as ISO text, ids as text).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from ulid import ULID

from spine.tenancy.models import AuditAction

SECRET_MARK = "[secret]"


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One change to record in ``audit_log``, in the transaction that makes it.

    Attributes:
        entity_type: What kind of object: ``schedule``, ``alert_channel``, ``api_key`` ...
        entity_id: Its id: a ULID (``core_*`` tables) or a UUID, as text or UUID.
        action: Create, update or delete.
        changes: What :func:`changes_between` returned.
    """

    entity_type: str
    entity_id: str | uuid.UUID
    action: AuditAction
    changes: Mapping[str, Any]


def entity_uuid(entity_id: str | uuid.UUID) -> uuid.UUID:
    """``entity_id`` as a UUID: a ULID in its UUID form, a UUID as itself."""
    if isinstance(entity_id, uuid.UUID):
        return entity_id
    if len(entity_id) == 26:
        return ULID.from_str(entity_id).to_uuid()
    return uuid.UUID(entity_id)


def changes_between(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    secrets: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """The fields whose value differs between ``old`` and ``new``.

    Args:
        old: The fields before the change; ``None`` for a create.
        new: The fields after the change; ``None`` for a delete.
        secrets: Fields whose values are never written, only that they changed.

    Returns:
        ``{"field": {"old": ..., "new": ...}}``, fields in sorted order; a field absent
        on one side is ``None`` there.
    """
    before = old or {}
    after = new or {}
    hidden = frozenset(secrets)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        if name in hidden:
            out[name] = {
                "old": None if was is None else SECRET_MARK,
                "new": None if now is None else SECRET_MARK,
            }
        else:
            out[name] = {"old": _plain(was), "new": _plain(now)}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
