"""Rows of the alerting tables turned into alerting's records."""

from __future__ import annotations

import re
from typing import Any

from spine.alerting.models import Alert, Channel, Delivery, DeliveryStatus, Severity

_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def is_ulid(value: str) -> bool:
    """Whether ``value`` can be the id of a ``core_*`` row (a ULID).

    Anything else is no row of ours, and is not sent to the database.
    """
    return bool(_ULID.fullmatch(value))


def channel_from_row(row: Any) -> Channel:
    """A :class:`Channel` from a ``core_alert_channels`` row."""
    m = row._mapping
    return Channel(
        id=m["id"],
        name=m["name"],
        channel_type=m["channel_type"],
        config=dict(m["config_json"] or {}),
        min_severity=Severity(m["min_severity"]),
        domains=tuple(m["domains"] or ()),
        enabled=bool(m["enabled"]),
        throttle_minutes=int(m["throttle_minutes"] or 0),
        last_success_at=m["last_success_at"],
        last_failure_at=m["last_failure_at"],
        consecutive_failures=int(m["consecutive_failures"] or 0),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        created_by=m["created_by"],
        workspace_id=m["workspace_id"],
        events=None if m["events"] is None else tuple(m["events"]),
    )


def alert_from_row(row: Any) -> Alert:
    """An :class:`Alert` from a ``core_alerts`` row."""
    m = row._mapping
    return Alert(
        id=m["id"],
        severity=Severity(m["severity"]),
        title=m["title"],
        message=m["message"],
        source=m["source"],
        domain=m["domain"],
        execution_id=m["execution_id"],
        run_id=m["run_id"],
        metadata=dict(m["metadata_json"] or {}),
        error_category=m["error_category"],
        created_at=m["created_at"],
        dedup_key=m["dedup_key"],
        capture_id=m["capture_id"],
        workspace_id=m["workspace_id"],
    )


def delivery_from_row(row: Any) -> Delivery:
    """A :class:`Delivery` from a ``core_alert_deliveries`` row."""
    m = row._mapping
    return Delivery(
        id=m["id"],
        alert_id=m["alert_id"],
        channel_id=m["channel_id"],
        channel_name=m["channel_name"],
        status=DeliveryStatus(m["status"]),
        attempt=int(m["attempt"]),
        attempted_at=m["attempted_at"],
        delivered_at=m["delivered_at"],
        response=m["response_json"],
        error=m["error"],
        next_retry_at=m["next_retry_at"],
    )


def as_dict(row: Any) -> dict[str, Any]:
    """A row as a dict keyed by the specification's column names."""
    return dict(row._mapping)
