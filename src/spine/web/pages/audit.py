"""The audit log: who changed what in the workspace, newest first (``spine audit list``).

Read through ``access.services.tenancy.audit_entries``, keyset-paginated by the entry's
id (``before``), filtered by entity type and action. "Who" is the API key that made the
change (its name, when the key is the workspace's), or the CLI when no key did.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from spine.tenancy import ApiKey, AuditAction, AuditEntry
from spine.web.access import Viewer
from spine.web.params import optional_choice
from spine.web.rendering import render

router = APIRouter()

_PAGE = 50
#: Keys read to name the authors of a page (a workspace has a few dozen at most).
_KEYS = 1000
#: The entity types spine's parts write (the field also takes any other).
ENTITY_TYPES = (
    "action_template",
    "alert_channel",
    "api_key",
    "automation_entity",
    "automation_rule",
    "check",
    "connection",
    "incident",
    "role",
    "run",
    "schedule",
    "source",
    "webhook",
    "workspace",
)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of an audit entry's changes."""

    name: str
    #: ``None`` when the field had no value before (a creation).
    old: str | None
    new: str


def field_changes(changes: Mapping[str, Any] | None) -> list[FieldChange]:
    """An entry's ``{"field": {"old": ..., "new": ...}}`` as rows (other shapes shown whole)."""
    rows = []
    for name, change in (changes or {}).items():
        if isinstance(change, Mapping) and set(change) <= {"old", "new"}:
            old = change.get("old")
            rows.append(
                FieldChange(name, None if old is None else _text(old), _text(change.get("new")))
            )
        else:
            rows.append(FieldChange(name, None, _text(change)))
    return rows


def _text(value: Any) -> str:
    return "\u2014" if value is None else json.dumps(value, default=str)


def author(entry: AuditEntry, keys: Mapping[uuid.UUID, ApiKey]) -> str:
    """Who made the change: the API key's name and prefix, or the CLI."""
    if entry.api_key_id is None:
        return "the CLI"
    key = keys.get(entry.api_key_id)
    if key is None:
        return f"API key {entry.api_key_id}"
    return f"API key {key.name} ({key.key_prefix}…)"


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    access: Viewer,
    entity_type: Annotated[str | None, Query(max_length=50)] = None,
    action: str | None = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The workspace's audit log, newest first."""
    tenancy = access.services.tenancy
    wanted_type = (entity_type or "").strip() or None
    wanted_action = optional_choice(AuditAction, action, "action")
    found = tenancy.audit_entries(
        access.actor,
        entity_type=wanted_type,
        action=wanted_action,
        before_id=before,
        limit=_PAGE + 1,
    )
    entries = found[:_PAGE]
    keys = {}
    if any(e.api_key_id is not None for e in entries):
        keys = {k.id: k for k in tenancy.keys(access.actor, limit=_KEYS)}
    rows = [(e, author(e, keys), field_changes(e.changes)) for e in entries]
    return render(
        request,
        "audit.html",
        {
            "title": "Audit log",
            "rows": rows,
            "cursor": str(entries[-1].id) if len(found) > _PAGE else None,
            "entity_type": wanted_type or "",
            "action": wanted_action.value if wanted_action else "",
            "actions": [a.value for a in AuditAction],
            "entity_types": ENTITY_TYPES,
            "filtered": wanted_type is not None or wanted_action is not None,
        },
    )
