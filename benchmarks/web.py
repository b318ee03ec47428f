"""The dashboard's speed: each page's render time over HTTP on a big SQLite database.

Builds (once; reused while the file exists) a SQLite database with N runs (default
1,000,000) and ten steps each, with ``history_queries.py``'s generator, the runs ending
at the current hour; then 200 checks with a result every hour for 30 days (144,000
results; one check in ten failing now, with an open incident, and older resolved
incidents). Serves the real API with the dashboard mounted (uvicorn in a thread, as the
browser tests do), logs in with an admin key, and times each page over keep-alive HTTP:
warm-ups, then ``--requests`` requests per page and round. Prints p50, p95 and max per
page (the median over ``--rounds`` rounds of each round's figure) beside the floor:
``GET /health`` over the same stack.

    .venv/bin/python benchmarks/web.py                        # 1,000,000 runs
    .venv/bin/python benchmarks/web.py --runs 100000 --rounds 1
    .venv/bin/python benchmarks/web.py --calls                # + the store calls alone
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _common import machine, row
from history_queries import STEPS_PER_RUN, generate
from tests.live_server import serving

from spine.api import create_app
from spine.bootstrap import Services, build
from spine.config import Settings
from spine.core.errors import NotFound
from spine.core.storage import Database, create_database
from spine.core.storage.migrator import Migrator
from spine.core.storage.schema.dq_platform import (
    check_definitions,
    check_results,
    incidents,
)
from spine.orchestration.history import RunFilter, WorkflowStatus
from spine.tenancy import ALL_SCOPES, DEFAULT_WORKSPACE_ID, Actor
from spine.web import mount_dashboard

CHECKS = 200
RESULT_DAYS = 30
#: One check in this many fails every result of its last day (an open incident).
FAILING_EVERY = 10
#: Resolved incidents per check, one a day before the last one.
RESOLVED_PER_CHECK = 5
GOAL_MS = 150.0
#: Runs of a second, small workspace (ids ``Q...``, before the generator's ``R...``): its
#: pages must not read the big workspace's runs.
SMALL_RUNS = 1_000


def run_id(number: int) -> str:
    """The id the generator gives run ``number`` (``R`` and 25 digits)."""
    return "R" + str(number).rjust(25, "0")


def _connection(path: Path) -> uuid.UUID:
    """Register the checks' connection through the sources service; return its mirror's id."""
    services = build(Settings(database_url=f"sqlite:///{path}", secret_key_file=_key_file(path)))
    try:
        sources = services.for_actor(Actor(workspace_id=DEFAULT_WORKSPACE_ID)).sources
        sources.connections.add("warehouse", dialect="duckdb", database="/tmp/warehouse.duckdb")
        return sources.connections.ensure_mirror("warehouse")
    finally:
        services.close()


def _key_file(path: Path) -> str:
    return str(path.with_name(path.name.removesuffix(".partial") + ".key"))


def _quality(database: Database, now: datetime, connection: uuid.UUID) -> None:
    """Checks, their hourly results and incidents, written straight in SQL."""
    workspace = DEFAULT_WORKSPACE_ID
    checks = [uuid.uuid5(workspace, f"bench.check.{i}") for i in range(CHECKS)]
    with database.write() as conn:
        conn.execute(
            sa.insert(check_definitions),
            [
                {
                    "id": check,
                    "connection_id": connection,
                    "workspace_id": workspace,
                    "name": f"check.{i:03d}",
                    "check_type": "row_count" if i % 2 else "null_count",
                    "target_type": "table",
                    "target_schema": "main",
                    "target_table": f"table_{i % 20}",
                    "target_column": None if i % 2 else "amount",
                    "config": {"min": 1} if i % 2 else {"max": 0},
                    "severity": "error",
                    "created_at": now - timedelta(days=RESULT_DAYS + 1),
                    "updated_at": now - timedelta(days=RESULT_DAYS + 1),
                }
                for i, check in enumerate(checks)
            ],
        )
        hours = RESULT_DAYS * 24
        for hour in range(hours):
            executed = now - timedelta(hours=hours - hour)
            conn.execute(
                sa.insert(check_results),
                [
                    {
                        "check_id": check,
                        "executed_at": executed,
                        "execution_time_ms": 20 + (i * 7 + hour) % 80,
                        "sensor_value": 1000 + (i * 31 + hour * 17) % 500,
                        "rule_passed": not (i % FAILING_EVERY == 0 and hour >= hours - 24),
                        "severity": "error",
                    }
                    for i, check in enumerate(checks)
                ],
            )
        made = []
        for i, check in enumerate(checks):
            for k in range(RESOLVED_PER_CHECK):
                seen = now - timedelta(days=RESULT_DAYS - k * 5)
                made.append(_incident(check, seen, seen + timedelta(hours=3), resolved=True))
            if i % FAILING_EVERY == 0:
                made.append(_incident(check, now - timedelta(hours=24), now, resolved=False))
        conn.execute(sa.insert(incidents), made)


def _incident(check: uuid.UUID, first: datetime, last: datetime, *, resolved: bool) -> Any:
    return {
        "id": uuid.uuid5(check, first.isoformat()),
        "check_id": check,
        "status": "resolved" if resolved else "open",
        "severity": "error",
        "failure_count": 3 if resolved else 24,
        "first_seen": first,
        "last_seen": last,
        "resolved_at": last if resolved else None,
        "created_at": first,
        "updated_at": last,
    }


def small_workspace(services: Services) -> uuid.UUID:
    """The small workspace (made with its runs on first use); return its id."""
    try:
        return services.tenancy.workspace("small").id
    except NotFound:
        pass
    services.tenancy.create_organization("bench")
    workspace = services.tenancy.create_workspace("small", "bench", Actor()).id
    with services.database.write() as conn:
        conn.execute(
            sa.text(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :n)"
                " INSERT INTO core_workflow_runs (run_id, workflow_name, domain, status,"
                " params, outputs, triggered_by, created_at, workspace_id)"
                " SELECT printf('Q%025d', i), 'wf.' || (i % 20), 'domain.0',"
                " CASE WHEN i % 100 < 90 THEN 'COMPLETED' ELSE 'FAILED' END,"
                " '{}', '{}', 'schedule', strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', 'now',"
                " '-' || i || ' minutes'), :workspace FROM n"
            ),
            {"workspace": workspace.hex, "n": SMALL_RUNS},
        )
    return workspace


def prepare(path: Path, runs: int) -> float | None:
    """Make (or reuse) the database at ``path``; return the seconds generating took.

    An existing file is reused (``None`` seconds) after migrating it to head, which builds
    any index added since. A new one is generated beside it and renamed when complete.
    """
    if path.exists():
        database = create_database(f"sqlite:///{path}")
        try:
            Migrator(database).upgrade()
            with database.read() as conn:
                last = conn.execute(sa.text("SELECT max(run_id) FROM core_workflow_runs"))
                if last.scalar() != run_id(runs - 1):
                    raise SystemExit(f"{path} holds another data set: delete it or pass --database")
        finally:
            database.dispose()
        return None
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    database = create_database(f"sqlite:///{partial}")
    try:
        Migrator(database).upgrade()
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        began = time.perf_counter()
        generate(database, runs, now=now)
        _quality(database, now, _connection(partial))
        with database.write() as conn:
            conn.execute(sa.text("ANALYZE"))
        seconds = time.perf_counter() - began
    finally:
        # The last connection to close checkpoints the WAL: the file is then the database.
        database.dispose()
    partial.rename(path)
    return seconds


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile of ``values`` (inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def time_requests(client: httpx.Client, path: str, warm: int, requests: int) -> list[float]:
    """Milliseconds of each of ``requests`` GETs of ``path`` after ``warm`` warm-ups."""
    for _ in range(warm):
        answer = client.get(path)
        if answer.status_code == 404:
            return []  # a page not built (yet), or the run or check not found
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


def pages(runs: int, check: uuid.UUID) -> dict[str, str]:
    """The pages measured, by label."""
    return {
        "floor: GET /health": "/health",
        "overview /ui/": "/ui/",
        "runs /ui/runs": "/ui/runs",
        "runs /ui/runs?status=FAILED": "/ui/runs?status=FAILED",
        "runs /ui/runs?workflow=wf.3": "/ui/runs?workflow=wf.3",
        "run /ui/runs/{id} (10 steps)": f"/ui/runs/{run_id(runs // 2)}",
        "checks /ui/checks": "/ui/checks",
        "check /ui/checks/{id}": f"/ui/checks/{check}",
    }


#: Pages of the small workspace (its own session), by label.
SMALL_PAGES = {
    "small workspace: /ui/runs": "/ui/runs",
    "small workspace: /ui/runs?status=FAILED": "/ui/runs?status=FAILED",
    "small workspace: /ui/runs?workflow=wf.3": "/ui/runs?workflow=wf.3",
}


def store_calls(services: Services, runs: int, check: uuid.UUID) -> dict[str, Callable[[], Any]]:
    """The service calls behind each page (as ``spine.web.pages`` makes them), by label."""
    history = services.runs
    quality = services.quality
    now = datetime.now(UTC)
    one = run_id(runs // 2)
    return {
        "overview: run_statistics(since 24 h)": lambda: history.run_statistics(
            since=now - timedelta(hours=24)
        ),
        "overview: runs_per_day(14 days)": lambda: history.runs_per_day(
            (now - timedelta(days=13)).date(), now.date()
        ),
        "overview: list_incidents(open, 101)": lambda: quality.list_incidents(
            status="open", limit=101
        ),
        "runs: page_runs()": lambda: history.page_runs(RunFilter(), limit=51),
        "runs: page_runs(status FAILED)": lambda: history.page_runs(
            RunFilter(status=WorkflowStatus.FAILED), limit=51
        ),
        "runs: page_runs(workflow wf.3)": lambda: history.page_runs(
            RunFilter(workflow_name="wf.3"), limit=51
        ),
        "runs: page_runs(workflow wf.3, status CANCELLED)": lambda: history.page_runs(
            RunFilter(workflow_name="wf.3", status=WorkflowStatus.CANCELLED), limit=51
        ),
        "run: run_row": lambda: history.run_row(one),
        "run: run_timeline": lambda: history.run_timeline(one, steps=1000, events=500),
        "run: child_runs": lambda: history.child_runs(one, 100),
        "run: get_step_runs (the API's)": lambda: history.get_step_runs(one),
        "API: page_workflow_runs(status FAILED)": lambda: history.page_workflow_runs(
            status="FAILED", limit=50
        ),
        "checks: check_rows(30 days, 51)": lambda: quality.check_rows(days=30, limit=51),
        "check: get_check": lambda: quality.get_check(str(check)),
        "check: results(200)": lambda: quality.results(str(check), limit=200),
    }


def time_calls(services: Services, runs: int, check: uuid.UUID, repeat: int) -> None:
    """Print the median milliseconds of each store call (after one warm-up call)."""
    print("\nstore calls (in process), median of", repeat)
    for label, call in store_calls(services, runs, check).items():
        try:
            call()
        except Exception as error:  # a call a page may not make: say so, go on
            row(label, "error", f"{type(error).__name__}: {error}"[:60])
            continue
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        row(label, f"{statistics.median(times):.1f} ms")


def main() -> None:
    """Parse options, build or reuse the data, serve the dashboard and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--database", type=Path, help="default /tmp/spine-bench-web-<runs>.db")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warm", type=int, default=3, help="warm-up requests per page")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", action="store_true", help="also time the store calls")
    parser.add_argument("--only", help="only the pages whose label contains this")
    args = parser.parse_args()
    path = args.database or Path(tempfile.gettempdir(), f"spine-bench-web-{args.runs}.db")
    print(f"machine: {machine()}")
    print(f"database: {path}, {args.runs:,} runs, {args.runs * STEPS_PER_RUN:,} steps, ")
    print(f"  {CHECKS} checks, {CHECKS * RESULT_DAYS * 24:,} results")
    seconds = prepare(path, args.runs)
    row("generate", "reused" if seconds is None else f"{seconds:.0f} s")

    services = build(Settings(database_url=f"sqlite:///{path}", secret_key_file=_key_file(path)))
    try:
        operator = Actor(workspace_id=DEFAULT_WORKSPACE_ID)
        key = services.tenancy.create_key(operator, name="bench web", scopes=ALL_SCOPES)
        check = uuid.uuid5(DEFAULT_WORKSPACE_ID, "bench.check.0")
        if args.calls:
            time_calls(services.for_actor(operator), args.runs, check, 5)
        app = create_app(services)
        mount_dashboard(app, services)
        small = Actor(workspace_id=small_workspace(services))
        small_key = services.tenancy.create_key(small, name="bench web", scopes=ALL_SCOPES)
        with serving(app) as base:
            client = logged_in(base, key.secret)
            small_client = logged_in(base, small_key.secret)
            clients = dict.fromkeys(pages(args.runs, check), client)
            for label in SMALL_PAGES:
                clients[label] = small_client
            measure(clients, {**pages(args.runs, check), **SMALL_PAGES}, args)
    finally:
        services.close()


def logged_in(base: str, key: str) -> httpx.Client:
    """A keep-alive client with a dashboard session for ``key``."""
    client = httpx.Client(base_url=base, timeout=60)
    login = client.post("/ui/login", data={"api_key": key})
    if login.status_code != 303:
        raise SystemExit(f"log in: {login.status_code} {login.text[:300]}")
    return client


def measure(
    clients: dict[str, httpx.Client], paths: dict[str, str], args: argparse.Namespace
) -> None:
    """Time every page for ``args.rounds`` rounds; print the medians of each round's figures."""
    if args.only:
        paths = {k: v for k, v in paths.items() if args.only in k or k.startswith("floor")}
    rounds: dict[str, list[tuple[float, float, float]]] = {label: [] for label in paths}
    for _ in range(args.rounds):
        for label, path in paths.items():
            times = time_requests(clients[label], path, args.warm, args.requests)
            if not times:
                continue
            rounds[label].append((percentile(times, 0.5), percentile(times, 0.95), max(times)))
    print(
        f"\npages over HTTP: {args.requests} requests after {args.warm} warm-ups, "
        f"median of {args.rounds} rounds; p50 / p95 / max in ms"
    )
    floor = statistics.median(p95 for _, p95, _ in rounds["floor: GET /health"])
    for label, figures in rounds.items():
        if not figures:
            row(label, "no page", "404")
            continue
        p50, p95, top = (statistics.median(f[i] for f in figures) for i in range(3))
        note = f"{p95 / floor:.1f}x floor"
        if not label.startswith("floor"):
            note += "  ok" if p95 < GOAL_MS else f"  OVER {GOAL_MS:.0f} ms"
        row(label, f"{p50:.1f} / {p95:.1f} / {top:.0f}", note)


if __name__ == "__main__":
    main()
