"""History queries on a large database: `runs list` with filters and `runs stats`.

Generates N runs (default 1,000,000) with 10 steps each straight in SQL, then times the
store calls behind `spine runs list` and `spine runs stats`. Run through
``benchmarks/orchestration.py --big`` or alone:

    .venv/bin/python benchmarks/history_queries.py --backend sqlite --runs 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, median_seconds, row

from spine.core.storage import Database
from spine.orchestration.store import RunStore

WORKFLOWS = 20
DOMAINS = 5
STEPS_PER_RUN = 10
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Status by run number modulo 100: 90 % COMPLETED, 7 % FAILED, 1 % each of the rest.
SQLITE_RUNS = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :runs)
INSERT INTO core_workflow_runs (run_id, workflow_name, workflow_version, domain, status,
  started_at, completed_at, duration_ms, params, outputs, total_steps, completed_steps,
  failed_steps, skipped_steps, triggered_by, created_at)
SELECT printf('R%025d', i), 'wf.' || (i % 20), 1, 'domain.' || (i % 5),
  CASE WHEN i % 100 < 90 THEN 'COMPLETED' WHEN i % 100 < 97 THEN 'FAILED'
       WHEN i % 100 = 97 THEN 'CANCELLED' WHEN i % 100 = 98 THEN 'RUNNING' ELSE 'PENDING' END,
  strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', :start, '+' || (i * :spacing) || ' seconds'),
  strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', :start, '+' || (i * :spacing + 30) || ' seconds'),
  1000 + (i * 7919) % 60000, '{}', '{}', 10, 10, 0, 0, 'schedule',
  strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', :start, '+' || (i * :spacing) || ' seconds')
FROM n
"""
SQLITE_STEPS = """
INSERT INTO core_workflow_steps (step_id, run_id, step_name, step_type, step_order, status,
  started_at, completed_at, duration_ms, params, outputs, attempt, max_attempts)
SELECT 'S' || substr(r.run_id, 4, 23) || printf('%02d', k.k), r.run_id, 'step' || k.k,
  'lambda', k.k, 'COMPLETED', r.started_at, r.completed_at, 100, '{}', '{}', 1, 1
FROM core_workflow_runs r
CROSS JOIN (WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 9)
            SELECT k FROM s) k
"""
PG_RUNS = """
INSERT INTO core_workflow_runs (run_id, workflow_name, workflow_version, domain, status,
  started_at, completed_at, duration_ms, params, outputs, total_steps, completed_steps,
  failed_steps, skipped_steps, triggered_by, created_at)
SELECT 'R' || lpad(i::text, 25, '0'), 'wf.' || (i % 20), 1, 'domain.' || (i % 5),
  CASE WHEN i % 100 < 90 THEN 'COMPLETED' WHEN i % 100 < 97 THEN 'FAILED'
       WHEN i % 100 = 97 THEN 'CANCELLED' WHEN i % 100 = 98 THEN 'RUNNING' ELSE 'PENDING' END,
  CAST(:start AS timestamptz) + make_interval(secs => i * :spacing),
  CAST(:start AS timestamptz) + make_interval(secs => i * :spacing + 30),
  1000 + (i * 7919) % 60000, '{}', '{}', 10, 10, 0, 0, 'schedule',
  CAST(:start AS timestamptz) + make_interval(secs => i * :spacing)
FROM generate_series(0::bigint, :runs - 1) AS i
"""
PG_STEPS = """
INSERT INTO core_workflow_steps (step_id, run_id, step_name, step_type, step_order, status,
  started_at, completed_at, duration_ms, params, outputs, attempt, max_attempts)
SELECT 'S' || substr(r.run_id, 4, 23) || lpad(k::text, 2, '0'), r.run_id, 'step' || k,
  'lambda', k, 'COMPLETED', r.started_at, r.completed_at, 100, '{}', '{}', 1, 1
FROM core_workflow_runs r CROSS JOIN generate_series(0, 9) AS k
"""


def generate(database: Database, runs: int, *, now: datetime = NOW) -> float:
    """Fill the database with runs spread over the year before ``now``; return the seconds."""
    start_at = now - timedelta(days=365)
    spacing = 365 * 86400 / runs
    params = {
        "runs": runs,
        "start": start_at.isoformat()
        if database.dialect == "postgresql"
        else start_at.strftime("%Y-%m-%d %H:%M:%S"),
        "spacing": spacing,
    }
    began = time.perf_counter()
    with database.write() as conn:
        if database.dialect == "sqlite":
            conn.execute(sa.text(SQLITE_RUNS), params)
            conn.execute(sa.text(SQLITE_STEPS))
        else:
            conn.execute(sa.text(PG_RUNS), params)
            conn.execute(sa.text(PG_STEPS))
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("VACUUM ANALYZE core_workflow_runs")
            )
    else:
        with database.write() as conn:
            conn.execute(sa.text("ANALYZE"))
    # Rows written straight in SQL bypass the per-day statistics: recount them.
    RunStore(database).rebuild_run_statistics()
    return time.perf_counter() - began


def big_figures(backend: str, runs: int, repeat: int) -> dict[str, float]:
    """Time the history queries on ``runs`` runs and ten times as many steps."""
    print(
        f"\n[{backend}] history queries on {runs:,} runs / {runs * STEPS_PER_RUN:,} steps, "
        f"median of {repeat}"
    )
    figures: dict[str, float] = {}
    with fresh_database(backend) as (database, _url):
        seconds = generate(database, runs)
        row("generate", f"{seconds:.0f} s")
        store = RunStore(database)
        since = NOW - timedelta(days=30)
        cases = {
            "runs list (no filter, limit 50)": lambda: store.list_workflow_runs(limit=50),
            "runs list --status FAILED": lambda: store.list_workflow_runs(
                status="FAILED", limit=50
            ),
            "runs list --workflow wf.7": lambda: store.list_workflow_runs(
                workflow_name="wf.7", limit=50
            ),
            "runs list --domain domain.3 --status RUNNING": lambda: store.list_workflow_runs(
                domain="domain.3", status="RUNNING", limit=50
            ),
            "runs list --workflow wf.7 --since 30 days": lambda: store.list_workflow_runs(
                workflow_name="wf.7", since=since, limit=50
            ),
            "runs stats": lambda: store.get_run_statistics(),
            "runs stats --workflow wf.7": lambda: store.get_run_statistics(workflow_name="wf.7"),
            "runs stats --since 30 days": lambda: store.get_run_statistics(since=since),
            "runs show (one run, 10 steps)": lambda: store.get_step_runs(
                "R" + str(runs // 2).rjust(25, "0")
            ),
        }
        for label, call in cases.items():
            call()  # warm the cache, as a dashboard polling the same query would
            median, _ = median_seconds(call, repeat)
            figures[label] = median * 1000
            row(label, f"{median * 1000:.1f} ms", "goal < 50 ms")
    return figures


def main() -> None:
    """Parse options and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for backend in ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]:
        big_figures(backend, args.runs, args.repeat)


if __name__ == "__main__":
    main()
