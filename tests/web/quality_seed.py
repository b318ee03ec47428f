"""Checks of a few types on a real SQLite table, with history, results and incidents.

Connection ``warehouse`` of workspace a reads ``orders`` (20 rows: 3 null customers,
2 negative amounts). ``orders_rows`` (row count, thresholds) passes, ``customer_nulls``
(null percent, warning and error) fails at error, ``negative_amounts`` fails with
samples, and ``orders_volume`` (row count with an anomaly rule) has ten days of history
recorded through the store, so its band is drawn. Every check runs once now.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from spine.bootstrap import Services
from spine.quality.anomaly import HistoryPoint
from spine.quality.rules import judge
from spine.quality.store import Recording

HISTORY = [20, 21, 19, 20, 22, 20, 18, 21, 20, 19]


def make_orders(path: Path) -> None:
    """Write ``orders``: 20 rows, customers 5, 10, 15 and 20 missing, amounts 1 and 2 negative."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT, amount REAL)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [
                (i, None if i % 5 == 0 else f"c{i}", -float(i) if i <= 2 else float(i))
                for i in range(1, 21)
            ],
        )
    conn.close()


def seed_checks(services: Services, directory: Path) -> dict[str, str]:
    """The checks above, run once now; returns their ids by name."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "warehouse.db"
    make_orders(data)
    services.sources.connections.add("warehouse", dialect="sqlite", database=str(data))
    quality = services.quality
    quality.add_check(
        "orders_rows",
        connection="warehouse",
        check_type="row_count",
        table="orders",
        config={"min": 1, "max": 1000},
    )
    quality.add_check(
        "customer_nulls",
        connection="warehouse",
        check_type="null_percent",
        table="orders",
        column="customer_id",
        config={"warning": {"max": 5}, "error": {"max": 10}},
    )
    quality.add_check(
        "negative_amounts",
        connection="warehouse",
        check_type="out_of_range_count",
        table="orders",
        column="amount",
        config={"min_value": 0, "max": 0},
        severity="fatal",
    )
    volume = quality.add_check(
        "orders_volume",
        connection="warehouse",
        check_type="row_count",
        table="orders",
        config={"anomaly": {"min_history": 5}},
    )
    now = services.clock.now()
    history: list[HistoryPoint] = []
    for back, value in zip(range(len(HISTORY), 0, -1), HISTORY, strict=True):
        at = now - timedelta(days=back)
        verdict = judge(volume, value, history, now=at)
        quality.store.record(
            Recording(
                check=volume,
                executed_at=at,
                execution_time_ms=3,
                sensor_value=value,
                passed=verdict.passed,
                severity=verdict.severity,
                details=verdict.details,
            )
        )
        history.append(HistoryPoint(executed_at=at, value=value))
    quality.run_checks(all_checks=True)
    return {check.name: str(check.id) for check in quality.list_checks()}
