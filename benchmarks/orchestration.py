"""Workflow engine speed: per-step overhead against a driver-only floor, map vs sequence,
whole-process `spine run`, and history queries on a large database.

    .venv/bin/python benchmarks/orchestration.py                 # SQLite and PostgreSQL
    .venv/bin/python benchmarks/orchestration.py --backend sqlite --repeat 5
    .venv/bin/python benchmarks/orchestration.py --big           # + 1M runs / 10M steps

The floor is measured in the same run, on the same kind of database, with the same
durability settings: a plain loop with the driver alone writing, per step, one step row
and two event rows in two commits (what any durable engine must at least write).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, median_seconds, row

from spine import Step, Workflow
from spine.core.ids import new_id
from spine.core.storage import Database
from spine.orchestration.registry import WorkflowRegistry
from spine.orchestration.runner import WorkflowRunner
from spine.orchestration.store import RunStore

SPINE = str(Path(sys.executable).with_name("spine"))


def _noop(ctx: object) -> None:
    return None


def floor_loop(database: Database, url: str, steps: int) -> float:
    """Seconds for the driver alone to write ``steps`` step rows and 2x events."""
    run_id = new_id()
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with database.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO core_workflow_runs (run_id, workflow_name, status, created_at,"
                " triggered_by, workflow_version, total_steps, completed_steps, failed_steps,"
                " skipped_steps) VALUES (:r, 'floor', 'RUNNING', :now, 'manual', 1, 0, 0, 0, 0)"
            ),
            {"r": run_id, "now": now if database.dialect == "sqlite" else datetime.now(UTC)},
        )
    step_sql = (
        "INSERT INTO core_workflow_steps (step_id, run_id, step_name, step_type,"
        " step_order, status, started_at, attempt, max_attempts)"
        " VALUES ({p}, {p}, {p}, 'lambda', {p}, 'RUNNING', {p}, 1, 1)"
    )
    event_sql = (
        "INSERT INTO core_workflow_events (run_id, step_id, event_type, timestamp,"
        " payload, idempotency_key) VALUES ({p}, {p}, {p}, {p}, '{{}}', {p})"
    )
    if database.dialect == "sqlite":
        import sqlite3

        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        ):
            conn.execute(f"PRAGMA {pragma}")
        step_q, event_q = step_sql.format(p="?"), event_sql.format(p="?")
        start = time.perf_counter()
        for i in range(steps):
            step_id, ts = new_id(), datetime.now(UTC).isoformat(timespec="microseconds")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(step_q, (step_id, run_id, f"s{i}", i, ts))
            conn.execute(event_q, (run_id, step_id, "step.started", ts, f"{step_id}:s"))
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(event_q, (run_id, step_id, "step.completed", ts, f"{step_id}:c"))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed
    import psycopg

    pg = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    step_q, event_q = step_sql.format(p="%s"), event_sql.format(p="%s")
    start = time.perf_counter()
    for i in range(steps):
        step_id, ts = new_id(), datetime.now(UTC)
        with pg.transaction():
            pg.execute(step_q, (step_id, run_id, f"s{i}", i, ts))
            pg.execute(event_q, (run_id, step_id, "step.started", ts, f"{step_id}:s"))
        with pg.transaction():
            pg.execute(event_q, (run_id, step_id, "step.completed", ts, f"{step_id}:c"))
    elapsed = time.perf_counter() - start
    pg.close()
    return elapsed


def engine_figures(backend: str, steps: int, repeat: int) -> dict[str, float]:
    """Per-step overhead of a sequence and a map, beside the floor."""
    print(f"\n[{backend}] {steps} no-op steps, median of {repeat}")
    registry = WorkflowRegistry()
    Workflow(
        "bench.sequence", [Step.lambda_(f"s{i}", _noop) for i in range(steps)], registry=registry
    )
    Workflow(
        "bench.map",
        [
            Step.map(
                "items", lambda ctx: list(range(steps)), Step.lambda_("item", _noop), concurrency=4
            )
        ],
        registry=registry,
    )
    with fresh_database(backend) as (database, url):
        store = RunStore(database)
        runner = WorkflowRunner(store, workflow_registry=registry)
        floor, _ = median_seconds(lambda: floor_loop(database, url, steps), repeat)
        last: dict[str, str] = {}

        def sequence() -> None:
            last["seq"] = runner.run("bench.sequence").run_id

        def fan_out() -> None:
            last["map"] = runner.run("bench.map").run_id

        seq, _ = median_seconds(sequence, repeat)
        # The history is complete the moment run() returns: count what is there now.
        recorded = len(store.get_step_runs(last["seq"]))
        events = len(store.get_events(last["seq"]))
        fan, _ = median_seconds(fan_out, repeat)
    per_floor, per_seq = floor / steps * 1000, seq / steps * 1000
    row("floor: driver alone, 1 step row + 2 events, 2 commits", f"{per_floor:.3f} ms/step")
    row(
        "spine: sequence of no-op steps",
        f"{per_seq:.3f} ms/step",
        f"{per_seq / per_floor:.2f}x floor",
    )
    row(
        "spine: map of no-op items (concurrency 4)",
        f"{fan:.3f} s total",
        f"{fan / seq:.2f}x the sequence",
    )
    row(
        "history at return (step rows / events)",
        f"{recorded} / {events}",
        "complete" if recorded == steps else "INCOMPLETE",
    )
    return {
        "floor_ms": per_floor,
        "step_ms": per_seq,
        "ratio": per_seq / per_floor,
        "map_s": fan,
        "seq_s": seq,
    }


def process_figures(repeat: int) -> None:
    """`spine run` of a one-step workflow as a whole process: wall time and peak memory."""
    print(f"\n[sqlite] `spine run` of a one-step workflow, whole process, median of {repeat}")
    with tempfile.TemporaryDirectory(prefix="spine-bench-") as tmp:
        Path(tmp, "onestep.py").write_text(
            textwrap.dedent("""
            from spine import Step, Workflow
            Workflow("one", [Step.lambda_("only", lambda ctx: {"ok": True})])
        """)
        )
        env = {
            **os.environ,
            "SPINE_DATABASE_URL": f"sqlite:///{tmp}/one.db",
            "SPINE_APP": "onestep",
        }
        subprocess.run([SPINE, "db", "upgrade"], cwd=tmp, env=env, check=True, capture_output=True)
        probe = (
            "import resource, subprocess, sys, time; t = time.perf_counter(); "
            "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
            "print(time.perf_counter() - t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        times, peaks = [], []
        for _ in range(repeat):
            out = subprocess.run(
                [sys.executable, "-c", probe, SPINE, "run", "one"],
                cwd=tmp,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds, kib = out.split()
            times.append(float(seconds))
            peaks.append(int(kib) / 1024)
        times.sort()
        peaks.sort()
        row("spine run one (wall)", f"{times[len(times) // 2]:.3f} s", "goal < 1 s")
        row("spine run one (peak RSS)", f"{peaks[len(peaks) // 2]:.1f} MB", "goal < 80 MB")


def main() -> None:
    """Parse options and print every figure."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--big",
        action="store_true",
        help="also time runs list / runs stats on 1M runs and 10M steps",
    )
    parser.add_argument("--big-runs", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    figures: dict[str, object] = {}
    for backend in backends:
        figures[backend] = engine_figures(backend, args.steps, args.repeat)
    if "sqlite" in backends:
        process_figures(args.repeat)
    if args.big:
        from history_queries import big_figures

        for backend in backends:
            figures[f"{backend}_big"] = big_figures(backend, args.big_runs, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
