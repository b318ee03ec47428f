"""The quality service end to end on real databases: spine's (SQLite and PostgreSQL) and
a user's SQLite file registered as a connection."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spine.bootstrap import Services
from spine.core.clock import FrozenClock
from spine.core.errors import Conflict, InvalidInput, NotFound
from spine.core.events import Connection, Event, EventType
from spine.core.storage.schema.dq_platform import audit_log, check_definitions, check_results
from spine.quality import IncidentStatus, JobStatus
from spine.quality.errors import CheckNotFound, IncidentNotFound
from spine.tenancy import Actor

from .conftest import make_orders


@dataclass
class Collector:
    """Keeps every quality event it is handed (in the publishing transaction)."""

    seen: list[Event] = field(default_factory=list)
    event_types: frozenset[EventType] = frozenset(
        {EventType.CHECK_RESULT, EventType.INCIDENT_CHANGED}
    )

    def wants(self, event: Event) -> bool:
        return True

    def handle(self, conn: Connection, event: Event) -> None:
        self.seen.append(event)

    def incident_events(self) -> list[str]:
        return [e.payload["event"] for e in self.seen if e.type is EventType.INCIDENT_CHANGED]


@pytest.fixture
def events(services: Services) -> Collector:
    collector = Collector()
    services.listeners = (*services.listeners, collector)
    return collector


def _count(services: Services, table: sa.Table) -> int:
    return services.database.run_read(
        lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    )


def test_add_list_get_and_run_row_count(services: Services, events: Collector) -> None:
    quality = services.quality
    check = quality.add_check(
        "orders_rows",
        connection="shop",
        check_type="row_count",
        table="orders",
        config={"min": 1},
        tags=["sales"],
    )
    assert check.target_type.value == "table"
    assert check.connection_name == "shop"
    assert quality.get_check("orders_rows") == check
    assert quality.get_check(str(check.id)) == check
    assert [c.name for c in quality.list_checks(table="orders")] == ["orders_rows"]
    assert quality.list_checks(tag="other") == []
    [outcome] = quality.run_checks(["orders_rows"])
    assert outcome.result.sensor_value == 20
    assert outcome.result.rule_passed
    assert outcome.incident is None
    out = outcome.to_dict()
    assert {
        "check",
        "sensor_value",
        "rule_passed",
        "severity",
        "execution_time_ms",
        "error_message",
    } <= set(out)
    assert out["sensor_value"] == 20 and out["check"] == "orders_rows"
    assert [r.id for r in quality.results("orders_rows")] == [outcome.result.id]
    assert quality.latest_result("orders_rows") == outcome.result
    [event] = [e for e in events.seen if e.type is EventType.CHECK_RESULT]
    assert (
        event.payload["sensor_value"] in ("20", "20.0")
        or Decimal(event.payload["sensor_value"]) == 20
    )
    assert event.payload["rule_passed"] is True
    assert event.workspace_id == str(check.workspace_id)
    assert check.to_dict()["connection_name"] == "shop"


def test_one_scan_for_the_tables_checks_and_full_precision(services: Services) -> None:
    quality = services.quality
    quality.add_check("rows", connection="shop", check_type="row_count", table="orders")
    quality.add_check(
        "email_nulls",
        connection="shop",
        check_type="null_percent",
        table="orders",
        column="email",
    )
    outcomes = quality.run_checks(table="orders")
    by_name = {o.check.name: o for o in outcomes}
    assert by_name["rows"].result.sensor_value == 20
    assert by_name["email_nulls"].result.sensor_value == Decimal(20)  # 4 of 20 null
    # The same scan served both: one executed_at.
    assert by_name["rows"].result.executed_at == by_name["email_nulls"].result.executed_at


def test_failures_open_one_incident_and_passes_resolve_it(
    services: Services, events: Collector, clock: FrozenClock, target: Path
) -> None:
    quality = services.quality
    quality.add_check(
        "no_negative",
        connection="shop",
        check_type="out_of_range_count",
        table="orders",
        column="amount",
        config={"min_value": 0, "max": 0},
        severity="error",
    )
    make_orders(target, bad=3)
    [first] = quality.run_checks(["no_negative"])
    assert not first.result.rule_passed
    assert first.result.severity is not None and first.result.severity.value == "error"
    assert first.incident is not None and first.incident.status is IncidentStatus.OPEN
    samples = (first.result.details or {})["samples"]
    assert 1 <= len(samples) <= 3
    clock.advance(timedelta(minutes=5))
    [second] = quality.run_checks(["no_negative"])
    assert second.incident is not None and second.incident.id == first.incident.id
    assert second.incident.failure_count == 2
    assert second.incident.last_seen > first.incident.last_seen
    assert events.incident_events() == ["incident.created"]  # no spam on repeats
    make_orders(target, bad=0)
    clock.advance(timedelta(minutes=5))
    [pass1] = quality.run_checks(["no_negative"])
    assert pass1.result.rule_passed and "samples" not in (pass1.result.details or {})
    assert pass1.incident is not None and pass1.incident.status is IncidentStatus.OPEN
    clock.advance(timedelta(minutes=5))
    [pass2] = quality.run_checks(["no_negative"])
    assert pass2.incident is not None and pass2.incident.status is IncidentStatus.RESOLVED
    assert events.incident_events() == ["incident.created", "incident.resolved"]
    assert quality.open_incident("no_negative") is None
    # Failing again within the flap window reopens the same incident, silently.
    make_orders(target, bad=1)
    clock.advance(timedelta(minutes=5))
    [again] = quality.run_checks(["no_negative"])
    assert again.incident is not None and again.incident.id == first.incident.id
    assert again.incident.status is IncidentStatus.OPEN
    assert again.incident.reopened_count == 1
    assert events.incident_events() == ["incident.created", "incident.resolved"]
    assert len(quality.list_incidents()) == 1
    # After the window, a new failure is a new incident.
    make_orders(target, bad=0)
    for _ in range(2):
        clock.advance(timedelta(minutes=5))
        quality.run_checks(["no_negative"])
    make_orders(target, bad=1)
    clock.advance(timedelta(hours=3))
    [late] = quality.run_checks(["no_negative"])
    assert late.incident is not None and late.incident.id != first.incident.id
    assert len(quality.list_incidents()) == 2
    assert [i.status for i in quality.list_incidents()] == [
        IncidentStatus.OPEN,
        IncidentStatus.RESOLVED,
    ]


def test_acknowledge_and_resolve_by_hand_are_audited(
    services: Services, events: Collector, target: Path
) -> None:
    quality = services.quality
    quality.add_check(
        "rows_max",
        connection="shop",
        check_type="row_count",
        table="orders",
        config={"max": 5},
        severity="warning",
    )
    [outcome] = quality.run_checks(["rows_max"])
    assert outcome.incident is not None
    incident_id = str(outcome.incident.id)
    with pytest.raises(InvalidInput):
        quality.acknowledge(incident_id, by=" ")
    acked = quality.acknowledge(incident_id, by="ana", notes="looking")
    assert acked.status is IncidentStatus.ACKNOWLEDGED and acked.acknowledged_by == "ana"
    assert quality.open_incident("rows_max") == acked
    resolved = quality.resolve(incident_id, notes="loaded twice; fixed")
    assert resolved.status is IncidentStatus.RESOLVED
    assert resolved.resolution_notes == "loaded twice; fixed"
    with pytest.raises(Conflict):
        quality.resolve(incident_id)
    assert events.incident_events() == [
        "incident.created",
        "incident.acknowledged",
        "incident.resolved",
    ]
    audited = services.database.run_read(
        lambda conn: conn.execute(
            sa.select(audit_log.c.entity_type, audit_log.c.action).order_by(audit_log.c.id)
        ).all()
    )
    assert ("check", "create") in audited
    assert audited.count(("incident", "update")) == 2
    assert quality.get_incident(incident_id).resolution_notes == "loaded twice; fixed"


def test_a_check_that_cannot_run_records_its_error_and_fails(
    services: Services, target: Path
) -> None:
    quality = services.quality
    quality.add_check(
        "rows", connection="shop", check_type="row_count", table="orders", severity="fatal"
    )
    with sqlite3.connect(target) as conn:
        conn.execute("DROP TABLE orders")  # the table is gone: the check cannot run
    [outcome] = quality.run_checks(["rows"])
    assert not outcome.result.rule_passed
    assert outcome.result.error_message
    assert outcome.result.severity is not None and outcome.result.severity.value == "fatal"
    assert outcome.incident is not None


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"check_type": "row_cnt"}, "row_cnt"),
        ({"table": "missing_table"}, "missing_table"),
        ({"check_type": "null_count", "column": "nope"}, "nope"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 * * * *", "timezone": "Mars/Base"}, "Mars/Base"),
        ({"severity": "bad"}, "severity"),
        ({"config": {"max": "lots"}}, "max"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    services: Services, kwargs: dict[str, Any], words: str
) -> None:
    args: dict[str, Any] = {
        "connection": "shop",
        "check_type": "row_count",
        "table": "orders",
        **kwargs,
    }
    with pytest.raises(InvalidInput, match=words):
        services.quality.add_check("c1", **args)
    assert _count(services, check_definitions) == 0


def test_names_clash_and_other_workspaces_see_nothing(services: Services) -> None:
    quality = services.quality
    check = quality.add_check("rows", connection="shop", check_type="row_count", table="orders")
    with pytest.raises(Conflict):
        quality.add_check("rows", connection="shop", check_type="row_count", table="orders")
    workspace = services.tenancy.create_workspace("other", "default", services.actor)
    elsewhere = services.for_actor(Actor(workspace_id=workspace.id)).quality
    for ref in ("rows", str(check.id)):
        with pytest.raises(CheckNotFound):
            elsewhere.get_check(ref)
    assert elsewhere.list_checks() == []
    [outcome] = quality.run_checks(["rows"])
    with pytest.raises(NotFound):
        elsewhere.results(str(check.id))
    assert elsewhere.list_jobs() == []
    with pytest.raises(IncidentNotFound):
        elsewhere.get_incident(str(outcome.result.check_id))


def test_update_enable_disable_and_remove(services: Services) -> None:
    quality = services.quality
    quality.add_check("rows", connection="shop", check_type="row_count", table="orders")
    changed = quality.update_check(
        "rows", {"config": {"min": 10}, "severity": "warning", "cron": "*/5 * * * *"}
    )
    assert changed.config == {"min": 10} and changed.severity.value == "warning"
    assert changed.cron_expression == "*/5 * * * *" and changed.timezone == "UTC"
    with pytest.raises(InvalidInput):
        quality.update_check("rows", {"name": "x"})
    with pytest.raises(InvalidInput):
        quality.update_check("rows", {"column": "nope", "check_type": "null_count"})
    assert quality.get_check("rows").config == {"min": 10}
    job = quality.queue_job("rows")
    assert quality.set_enabled("rows", False).enabled is False
    assert quality.get_job(str(job.id)).status is JobStatus.CANCELLED
    with pytest.raises(InvalidInput):
        quality.queue_job("rows")
    unscheduled = quality.update_check("rows", {"cron": None, "enabled": True})
    assert unscheduled.cron_expression is None and unscheduled.timezone is None
    quality.run_checks(["rows"])
    removed = quality.remove_check("rows")
    assert removed.name == "rows"
    assert _count(services, check_results) == 0
    with pytest.raises(CheckNotFound):
        quality.get_check("rows")


def test_run_needs_a_choice(services: Services) -> None:
    with pytest.raises(InvalidInput):
        services.quality.run_checks()


def test_summary_has_the_four_queries(services: Services, clock: FrozenClock) -> None:
    quality = services.quality
    quality.add_check(
        "rows", connection="shop", check_type="row_count", table="orders", config={"max": 5}
    )
    quality.add_check(
        "rows_ok", connection="shop", check_type="row_count", table="orders", cron="0 * * * *"
    )
    quality.run_checks(table="orders")
    clock.advance(timedelta(hours=2))
    summary = quality.summary().to_dict()
    latest = {row["name"]: row for row in summary["latest"]}
    assert latest["rows"]["last_passed"] is False and latest["rows"]["last_value"] == 20
    assert latest["rows_ok"]["last_passed"] is True
    [rate] = summary["pass_rate_by_table"]
    assert rate == {"target_table": "orders", "total_runs": 2, "passed": 1, "pass_rate": 50}
    [incident] = summary["open_incidents"]
    assert incident["check_name"] == "rows" and incident["connection_name"] == "shop"
    [due] = summary["due"]
    assert due["name"] == "rows_ok" and due["cron_expression"] == "0 * * * *"
