"""Automation speed: what capture costs a watched table, and how fast rules act on changes.

    .venv/bin/python -m benchmarks.automation                      # everything, both backends
    .venv/bin/python -m benchmarks.automation --only capture --backend sqlite --repeat 3
    .venv/bin/python -m benchmarks.automation --rows 20000 --events 2000 --lag-samples 50

- **capture**: insert then update ``--rows`` rows (batches of 1,000 rows a transaction,
  one multi-row statement each) of a 5-column table, unwatched and then watched (a
  trigger writes one change record per row). Goal: watched under 2x unwatched.
- **dispatch**: 20 rules on one watched table, 3 conditions each, each with an ``in_app``
  ``create_alert`` action; ``--events`` changes, every one matching every rule, handed
  to one dispatcher (``Dispatcher.run_once`` until the log is drained). Figure: changes
  per second (each makes 20 executions and 20 alerts). Goal: over 1,000/s on SQLite.
- **lag**: the dispatcher runs (``Dispatcher.run``) and is idle; one change is committed,
  and the time until its action's result is in ``allocation_results`` is measured,
  ``--lag-samples`` times. Goal: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, row

from spine.automation.capture import EntityService
from spine.automation.store.entities import EntityStore
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.clock import SystemClock
from spine.core.storage import Database
from spine.core.storage.schema.automation import alerts, automation_changes
from spine.core.storage.schema.automation import allocation_results as results

BATCH = 1_000
COLUMNS = "(id, status, amount, note, updated_at)"


def _create(database: Database, name: str) -> None:
    with database.write() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        conn.exec_driver_sql(
            f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, status TEXT, amount NUMERIC, "
            "note TEXT, updated_at TEXT)"
        )
        conn.execute(automation_changes.delete())


def _insert_update(database: Database, name: str, rows: int, style: str) -> float:
    """Seconds to insert ``rows`` rows then update each, ``BATCH`` rows a transaction.

    ``sets``: one multi-row INSERT and one ranged UPDATE per batch. ``rows``: one
    parameterised statement per row (the driver's executemany), as a loader writes.
    """
    start = time.perf_counter()
    for first in range(0, rows, BATCH):
        ids = range(first, min(first + BATCH, rows))
        with database.write() as conn:
            if style == "sets":
                values = ", ".join(
                    f"({i}, 'new', {i % 997}.25, 'row {i}', '2026-12-02T12:00:00')" for i in ids
                )
                conn.exec_driver_sql(f"INSERT INTO {name} {COLUMNS} VALUES {values}")
            else:
                conn.execute(
                    sa.text(
                        f"INSERT INTO {name} {COLUMNS} VALUES (:id, 'new', :amount, :note, "
                        "'2026-12-02T12:00:00')"
                    ),
                    [{"id": i, "amount": i % 997 + 0.25, "note": f"row {i}"} for i in ids],
                )
    for first in range(0, rows, BATCH):
        ids = range(first, min(first + BATCH, rows))
        with database.write() as conn:
            if style == "sets":
                conn.exec_driver_sql(
                    f"UPDATE {name} SET status = 'shipped', updated_at = '2026-12-02T13:00:00' "
                    f"WHERE id >= {first} AND id < {first + BATCH}"
                )
            else:
                conn.execute(
                    sa.text(
                        f"UPDATE {name} SET status = 'shipped', "
                        "updated_at = '2026-12-02T13:00:00' WHERE id = :id"
                    ),
                    [{"id": i} for i in ids],
                )
    return time.perf_counter() - start


def capture(backend: str, rows: int, repeat: int) -> dict[str, float]:
    """Median seconds unwatched and watched, alternating run by run, for both write styles."""
    out: dict[str, float] = {}
    with fresh_database(backend) as (database, _url):
        entities = EntityService(EntityStore(database, SystemClock()))
        for style in ("rows", "sets"):
            plain: list[float] = []
            watched: list[float] = []
            for _ in range(repeat):
                _create(database, "bench_plain")
                plain.append(_insert_update(database, "bench_plain", rows, style))
                _create(database, "bench_watched")
                entities.watch("bench_watched")
                watched.append(_insert_update(database, "bench_watched", rows, style))
                assert _count(database, automation_changes) == 2 * rows
                entities.unwatch("bench_watched")
            p, w = statistics.median(plain), statistics.median(watched)
            print(
                f"capture, {backend}, {style}: {rows:,} rows inserted then updated, "
                f"median of {repeat}"
            )
            row("unwatched", f"{p:.2f} s", f"{2 * rows / p:,.0f} row writes/s  {_fmt(plain)}")
            row("watched", f"{w:.2f} s", f"{2 * rows / w:,.0f} row writes/s  {_fmt(watched)}")
            row("ratio watched / unwatched", f"{w / p:.2f}x", "goal < 2x")
            out[style] = w / p
    return out


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _rule(number: int) -> dict[str, Any]:
    return {
        "name": f"rule-{number:02d}",
        "entity": "orders",
        "trigger": "on_create",
        "conditions": [
            {"field_name": "status", "operator": "equals", "value": "new"},
            {"field_name": "amount", "operator": "greater_than", "value": 10},
            {"field_name": "region", "operator": "in", "value": ["eu", "us"]},
        ],
        "actions": [
            {
                "name": "tell-ops",
                "type": "create_alert",
                "execution_order": 1,
                "config": {
                    "severity": "high",
                    "title": "Order {{ new.id }} placed",
                    "message": "{{ new.amount }} in {{ new.region }} ({{ rule.name }})",
                    "recipients": [{"type": "user", "email": "ops@example.com"}],
                },
            }
        ],
    }


@contextmanager
def _automation(backend: str, rules: int, poll: float | None = None) -> Iterator[Services]:
    """Services on a fresh database with ``orders`` watched and ``rules`` rules on it."""
    with fresh_database(backend) as (database, url):
        database.dispose()
        extra = {} if poll is None else {"automation_poll_seconds": poll}
        services = build(load_settings(database_url=url, **extra))
        with services.database.write() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount NUMERIC, "
                "region TEXT)"
            )
        services.tenancy.add_user("ops@example.com")
        automation = services.automation
        automation.entities.watch("orders")
        for number in range(rules):
            automation.rules.create(_rule(number))
        try:
            yield services
        finally:
            services.close()


def _orders(database: Database, first: int, count: int) -> None:
    values = ", ".join(f"({i}, 'new', {20 + i % 50}, 'eu')" for i in range(first, first + count))
    with database.write() as conn:
        conn.exec_driver_sql(f"INSERT INTO orders VALUES {values}")


def _count(database: Database, table: sa.Table) -> int:
    with database.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def dispatch(backend: str, events: int, repeat: int) -> float:
    """Median changes per second through one dispatcher (20 rules, 3 conditions each)."""
    rates: list[float] = []
    for _ in range(repeat):
        with _automation(backend, 20) as services:
            _orders(services.database, 0, events)
            dispatcher = services.automation.dispatcher()
            start = time.perf_counter()
            report = dispatcher.drain()
            elapsed = time.perf_counter() - start
            assert report.changes == events, report
            assert _count(services.database, alerts) == 20 * events
            rates.append(events / elapsed)
    rate = statistics.median(rates)
    print(f"dispatch, {backend}: {events:,} changes x 20 rules (3 conditions, create_alert)")
    runs = ", ".join(f"{r:,.1f}" for r in rates)
    row("changes per second", f"{rate:,.1f}/s", f"{20 * rate:,.0f} executions/s  runs {runs}")
    return rate


def lag(backend: str, samples: int, poll: float | None) -> tuple[float, float]:
    """p50 and p99 seconds from a change's commit to its action's kept result."""
    waits: list[float] = []
    with _automation(backend, 1, poll) as services:
        database = services.database
        stop = threading.Event()
        worker = threading.Thread(target=services.automation.dispatcher().run, args=(stop,))
        worker.start()
        try:
            for sample in range(samples):
                time.sleep(0.05 + (sample % 7) * 0.03)  # idle, at varied points of its wait
                before = _count(database, results)
                _orders(database, sample, 1)
                start = time.perf_counter()
                while _count(database, results) == before:
                    time.sleep(0.002)
                    assert time.perf_counter() - start < 30, "no result within 30 s"
                waits.append(time.perf_counter() - start)
        finally:
            stop.set()
            worker.join(timeout=30)
    p50, p99 = _percentile(waits, 0.5), _percentile(waits, 0.99)
    setting = services.settings.automation_poll_seconds
    print(f"lag, {backend}: commit to action result, {samples} changes, poll {setting:g} s")
    row("p50 / p99", f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms", "goal p99 < 1 s")
    return p50, p99


BENCHES: dict[str, Callable[[argparse.Namespace, str], object]] = {
    "capture": lambda args, backend: capture(backend, args.rows, args.repeat),
    "dispatch": lambda args, backend: dispatch(backend, args.events, args.repeat),
    "lag": lambda args, backend: lag(backend, args.lag_samples, args.poll),
}


def main() -> None:
    """Run the benchmarks asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--only", choices=tuple(BENCHES), action="append")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--lag-samples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--poll", type=float, help="automation_poll_seconds for the lag")
    args = parser.parse_args()
    print(machine())
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    for name in args.only or tuple(BENCHES):
        for backend in backends:
            BENCHES[name](args, backend)


if __name__ == "__main__":
    main()
