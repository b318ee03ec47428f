"""Notifications of data quality: incidents and failed checks, to webhooks and channels.

:class:`QualityNotifications` (wired by :mod:`spine.bootstrap`) reacts to the quality
part's events in the transaction that records the change, so a notification is queued
(the alerting outbox) exactly when the change commits:

- ``incident.changed`` -> deliveries to the workspace's enabled webhooks that ask for
  the event (``incident.created`` / ``acknowledged`` / ``resolved``); and, for
  ``incident.created``, a spine alert (warning -> WARNING, error -> ERROR, fatal ->
  CRITICAL; source ``quality``, domain the table) routed to channels as any alert; for
  ``incident.resolved`` an INFO alert, so that whoever was told of the incident hears
  that it ended (channels at WARNING or above stay quiet).
- a failed ``check.result`` -> ``check.failed`` deliveries to the webhooks that ask for
  it, and never an alert: incidents, not runs, page people.

It reads only the events' payloads: the quality part sits on alerting's layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spine.alerting.listener import workspace_of
from spine.alerting.models import WEBHOOK_SOURCE, Channel
from spine.alerting.store import record_alert
from spine.alerting.store.alerts import enabled_channels
from spine.alerting.store.webhook_rows import channels_for
from spine.core.clock import Clock
from spine.core.events import Connection, Event, EventType, Listener, Publisher
from spine.core.storage import sql_connection

#: Quality severities as alert severities.
SEVERITIES = {"warning": "WARNING", "error": "ERROR", "fatal": "CRITICAL"}
#: ``core_alerts.source`` of an incident's alert.
SOURCE = "quality"
CHECK_FAILED = "check.failed"


def _severity(payload: Mapping[str, Any]) -> str:
    return SEVERITIES.get(str(payload.get("severity") or "error").lower(), "ERROR")


class QualityNotifications:
    """Reacts to ``incident.changed`` and failed ``check.result`` events (see module).

    Args:
        clock: When alerts and deliveries are recorded.
        listeners: Get ``alert.recorded`` for incident alerts, in the same transaction.
    """

    event_types = frozenset({EventType.INCIDENT_CHANGED, EventType.CHECK_RESULT})

    def __init__(self, clock: Clock, listeners: Sequence[Listener] = ()) -> None:
        self.clock = clock
        self.listeners = Publisher(listeners)

    def wants(self, event: Event) -> bool:
        """Every incident change; a check result only when it failed."""
        if event.type is EventType.CHECK_RESULT:
            return event.payload.get("rule_passed") is False
        return event.payload.get("event") in (
            "incident.created",
            "incident.acknowledged",
            "incident.resolved",
        )

    def handle(self, conn: Connection, event: Event) -> None:
        """Record the alert and the webhook deliveries on ``conn``."""
        sql = sql_connection(conn)
        workspace = workspace_of(event)
        name = CHECK_FAILED if event.type is EventType.CHECK_RESULT else str(event.payload["event"])
        data = {**event.payload, "workspace_id": str(workspace)}
        if event.type is EventType.INCIDENT_CHANGED:
            data.setdefault("incident_id", event.subject_id)
        hooks = channels_for(sql, workspace, name)
        metadata = {
            "webhook_event": name,
            "data": data,
            "occurred_at": event.at.isoformat(),
        }
        payload = event.payload
        check = payload.get("check_name") or payload.get("check_id") or "?"
        table = payload.get("table")
        if name in ("incident.created", "incident.resolved"):
            created = name == "incident.created"
            routed: list[Channel] = enabled_channels(sql, workspace) + hooks
            record_alert(
                sql,
                self.clock.now(),
                workspace_id=workspace,
                severity=_severity(payload) if created else "INFO",
                title=(
                    f"Check {check} failed on {table}: incident opened"
                    if created
                    else f"Check {check} on {table}: incident resolved"
                ),
                message=_message(name, payload),
                source=SOURCE,
                domain=str(table)[:200] if table else None,
                metadata={
                    "incident_id": payload.get("incident_id", event.subject_id),
                    "check_id": payload.get("check_id"),
                    **metadata,
                },
                channels=routed,
                listeners=self.listeners,
            )
            return
        if not hooks:
            return
        # Not an alert: a message of the outbox that carries the webhook deliveries.
        record_alert(
            sql,
            self.clock.now(),
            workspace_id=workspace,
            severity=_severity(payload),
            title=f"{name}: {check}"[:500],
            message=_message(name, payload),
            source=WEBHOOK_SOURCE,
            domain=str(table)[:200] if table else None,
            metadata=metadata,
            channels=hooks,
        )


def _message(name: str, payload: Mapping[str, Any]) -> str:
    """One line a person reads in a channel."""
    check = payload.get("check_name") or payload.get("check_id")
    if name == CHECK_FAILED:
        why = payload.get("error_message") or f"sensor value {payload.get('sensor_value')}"
        return f"check {check} failed at {payload.get('severity')}: {why}"
    if name == "incident.created":
        return (
            f"check {check} on {payload.get('table')} failed at {payload.get('severity')}; "
            f"incident {payload.get('incident_id')} opened"
        )
    if name == "incident.acknowledged":
        return f"incident of check {check} acknowledged by {payload.get('acknowledged_by')}"
    notes = payload.get("resolution_notes")
    return f"incident of check {check} resolved after {payload.get('failure_count')} failure(s)" + (
        f": {notes}" if notes else ""
    )
