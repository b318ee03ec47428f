"""The dashboard's reads: checks with their latest result and daily pass rates, pass
rates by table, and the incident board, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from spine.bootstrap import Services
from spine.core.clock import FrozenClock
from spine.core.errors import InvalidInput

from .conftest import make_orders


def _seed(services: Services, clock: FrozenClock, target: Path) -> None:
    """``rows`` passes on 3 days; ``negatives`` fails on day 2 and passes on day 3."""
    services.quality.add_check(
        "rows", connection="shop", check_type="row_count", table="orders", config={"min": 1}
    )
    services.quality.add_check(
        "negatives",
        connection="shop",
        check_type="out_of_range_count",
        table="orders",
        column="amount",
        config={"min_value": 0, "max": 0},
        severity="fatal",
    )
    services.quality.add_check(
        "idle", connection="shop", check_type="row_count", table="orders", enabled=False
    )
    services.quality.run_checks(["rows"])
    clock.advance(timedelta(days=1))
    make_orders(target, bad=2)
    services.quality.run_checks(["rows", "negatives"])
    services.quality.run_checks(["negatives"])
    clock.advance(timedelta(days=1))
    make_orders(target)
    services.quality.run_checks(["rows", "negatives"])


def test_checks_come_with_their_latest_result_and_days(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    _seed(services, clock, target)
    rows = {r.check.name: r for r in services.quality.check_rows()}
    assert list(rows) == ["idle", "negatives", "rows"]
    assert rows["idle"].latest is None and rows["idle"].days == []
    latest = rows["negatives"].latest
    assert latest is not None and latest.rule_passed and latest.executed_at == clock.now()
    assert [(d.total, d.passed) for d in rows["negatives"].days] == [(2, 0), (1, 1)]
    assert [(d.total, d.passed) for d in rows["rows"].days] == [(1, 1), (1, 1), (1, 1)]
    assert rows["rows"].days[-1].day == clock.now().date().isoformat()
    # Only the window's days.
    assert len(services.quality.check_rows(days=2)[2].days) == 2


def test_checks_are_filtered_and_paged_by_name(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    _seed(services, clock, target)
    names = [r.check.name for r in services.quality.check_rows(status="never")]
    assert names == ["idle"]
    passed = [r.check.name for r in services.quality.check_rows(status="passed")]
    assert passed == ["negatives", "rows"]
    assert services.quality.check_rows(status="failed") == []
    page = services.quality.check_rows(limit=1, after="idle")
    assert [r.check.name for r in page] == ["negatives"]
    assert services.quality.check_rows(table="elsewhere") == []
    assert len(services.quality.check_rows(table="orders", connection="shop")) == 3
    with pytest.raises(InvalidInput, match="unknown status"):
        services.quality.check_rows(status="green")


def test_pass_rate_by_table_and_the_incident_board(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    _seed(services, clock, target)
    [orders] = services.quality.table_pass_rates()
    assert (orders.connection, orders.table, orders.checks) == ("shop", "orders", 2)
    assert (orders.total, orders.passed) == (6, 4)
    assert services.quality.table_pass_rates(days=1)[0].total == 2
    unresolved, resolved = services.quality.incident_board()
    assert resolved == [] and [i.check_name for i in unresolved] == ["negatives"]
    services.quality.resolve(str(unresolved[0].id), notes="fixed")
    unresolved, resolved = services.quality.incident_board(resolved_limit=5)
    assert unresolved == [] and resolved[0].resolution_notes == "fixed"


def test_another_workspaces_checks_are_not_read(
    services: Services, clock: FrozenClock, target: Path
) -> None:
    _seed(services, clock, target)
    org = services.tenancy.create_organization("globex")
    other = services.tenancy.create_workspace("data", org.name, services.actor)
    from spine.tenancy import Actor

    theirs = services.for_actor(Actor(workspace_id=other.id)).quality
    assert theirs.check_rows() == []
    assert theirs.table_pass_rates() == []
    assert theirs.incident_board() == ([], [])
