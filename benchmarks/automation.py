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
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, row

from spine.automation.capture import EntityService
from spine.automation.store.entities import EntityStore
from spine.core.clock import SystemClock
from spine.core.storage import Database
from spine.core.storage.schema.automation import automation_changes

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


def _insert_update(database: Database, name: str, rows: int) -> float:
    """Seconds to insert ``rows`` rows then update each, ``BATCH`` rows a transaction."""
    start = time.perf_counter()
    for first in range(0, rows, BATCH):
        ids = range(first, min(first + BATCH, rows))
        values = ", ".join(
            f"({i}, 'new', {i % 997}.25, 'row {i}', '2026-12-02T12:00:00')" for i in ids
        )
        with database.write() as conn:
            conn.exec_driver_sql(f"INSERT INTO {name} {COLUMNS} VALUES {values}")
    for first in range(0, rows, BATCH):
        with database.write() as conn:
            conn.exec_driver_sql(
                f"UPDATE {name} SET status = 'shipped', updated_at = '2026-12-02T13:00:00' "
                f"WHERE id >= {first} AND id < {first + BATCH}"
            )
    return time.perf_counter() - start


def capture(backend: str, rows: int, repeat: int) -> dict[str, float]:
    """Median seconds unwatched and watched, alternating run by run (one database)."""
    plain: list[float] = []
    watched: list[float] = []
    with fresh_database(backend) as (database, _url):
        entities = EntityService(EntityStore(database, SystemClock()))
        for _ in range(repeat):
            _create(database, "bench_plain")
            plain.append(_insert_update(database, "bench_plain", rows))
            _create(database, "bench_watched")
            entities.watch("bench_watched")
            watched.append(_insert_update(database, "bench_watched", rows))
            with database.read() as conn:
                captured = conn.execute(
                    automation_changes.select().with_only_columns(
                        automation_changes.c.id.label("n")
                    )
                ).all()
            assert len(captured) == 2 * rows, len(captured)
            entities.unwatch("bench_watched")
    p, w = statistics.median(plain), statistics.median(watched)
    print(f"capture, {backend}: {rows:,} rows inserted then updated, median of {repeat}")
    row("unwatched", f"{p:.2f} s", f"{2 * rows / p:,.0f} row writes/s  runs {_fmt(plain)}")
    row("watched", f"{w:.2f} s", f"{2 * rows / w:,.0f} row writes/s  runs {_fmt(watched)}")
    row("ratio watched / unwatched", f"{w / p:.2f}x", "goal < 2x")
    return {"unwatched": p, "watched": w, "ratio": w / p}


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


BENCHES: dict[str, Callable[[argparse.Namespace, str], object]] = {
    "capture": lambda args, backend: capture(backend, args.rows, args.repeat),
}


def main() -> None:
    """Run the benchmarks asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--only", choices=tuple(BENCHES), action="append")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--lag-samples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    for name in args.only or tuple(BENCHES):
        for backend in backends:
            BENCHES[name](args, backend)


if __name__ == "__main__":
    main()
