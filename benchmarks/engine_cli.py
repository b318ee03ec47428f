"""The engine's per-step cost measured from outside, through `spine run`, against a floor.

    .venv/bin/python benchmarks/engine_cli.py --repeat 5
    .venv/bin/python benchmarks/engine_cli.py --repeat 5 --compare /path/to/other/checkout/src

Per-step cost is read from the runs' own records: (duration of a 1,000-step run minus duration
of a 100-step run) / 900, so process start-up and imports cancel out. Two floors, both a
plain sqlite3 loop in WAL mode with ``synchronous=NORMAL`` writing, per step, one step row
and two event rows in two commits: into spine's own migrated tables (with their indexes
and foreign keys; ``benchmarks/orchestration.py``'s floor), and into minimal tables with
a primary key and a unique event key only. A map of 1,000 no-op items
(concurrency 4) is compared with the 1,000-step sequence. With ``--compare SRC``, the same
figures are taken for the spine code under SRC, alternating run by run with this
checkout's, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orchestration import floor_loop
from spine.core.storage import create_database

SPINE = str(Path(sys.executable).with_name("spine"))

WORKFLOWS = textwrap.dedent(
    """
    from spine import Step, Workflow

    def noop(ctx):
        return None

    for n in (100, 1000):
        Workflow(f"bench.seq{n}", [Step.lambda_(f"s{i}", noop) for i in range(n)])
    Workflow(
        "bench.map1000",
        [
            Step.lambda_("items", lambda ctx: {"items": list(range(1000))}),
            Step.map("m", "items", Step.lambda_("item", noop), concurrency=4),
        ],
    )
    """
)


def floor_ms(folder: Path, steps: int = 1000) -> float:
    """Milliseconds per step for sqlite3 alone: a step row and two events, two commits."""
    path = folder / f"floor-{uuid.uuid4().hex}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE steps (step_id TEXT PRIMARY KEY, run_id TEXT, step_name TEXT,"
        " status TEXT, started_at TEXT, completed_at TEXT, outputs TEXT)"
    )
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, run_id TEXT, step_id TEXT,"
        " event_type TEXT, ts TEXT, payload TEXT, idempotency_key TEXT UNIQUE)"
    )
    event = (
        "INSERT INTO events (run_id, step_id, event_type, ts, payload, idempotency_key)"
        " VALUES (?, ?, ?, ?, ?, ?)"
    )
    start = time.perf_counter()
    for i in range(steps):
        step_id = uuid.uuid4().hex
        now = datetime.now(UTC).isoformat()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?)",
            (step_id, "r", f"s{i}", "RUNNING", now, None, None),
        )
        conn.execute(event, ("r", step_id, "step.started", now, "{}", f"{step_id}:R"))
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.execute(
            "UPDATE steps SET status = 'COMPLETED', completed_at = ?, outputs = '{}'"
            " WHERE step_id = ?",
            (now, step_id),
        )
        conn.execute(event, ("r", step_id, "step.completed", now, "{}", f"{step_id}:C"))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed / steps * 1000


def schema_floor_ms(path: Path, steps: int = 1000) -> float:
    """:func:`floor_ms` into spine's migrated tables of the database at ``path``."""
    url = f"sqlite:///{path}"
    database = create_database(url)
    try:
        return floor_loop(database, url, steps) / steps * 1000
    finally:
        database.dispose()


def recorded_ms(folder: Path, src: str | None, workflow: str) -> int:
    """The recorded duration of one `spine run` of ``workflow`` (ms)."""
    env = {
        **os.environ,
        "SPINE_DATABASE_URL": f"sqlite:///{folder / ('other.db' if src else 'spine.db')}",
        "SPINE_APP": "bench_workflows",
        "PYTHONPATH": os.pathsep.join(p for p in (src, str(folder)) if p),
    }
    out = subprocess.run(
        [SPINE, "run", workflow, "--json"], env=env, cwd=folder, check=True, capture_output=True
    ).stdout
    return int(json.loads(out)["run"]["duration_ms"])


def upgrade(folder: Path, src: str | None) -> None:
    env = {
        **os.environ,
        "SPINE_DATABASE_URL": f"sqlite:///{folder / ('other.db' if src else 'spine.db')}",
        "PYTHONPATH": src or "",
    }
    subprocess.run([SPINE, "db", "upgrade"], env=env, cwd=folder, check=True, capture_output=True)


def figures(folder: Path, src: str | None) -> dict[str, float]:
    seq100 = recorded_ms(folder, src, "bench.seq100")
    seq1000 = recorded_ms(folder, src, "bench.seq1000")
    map1000 = recorded_ms(folder, src, "bench.map1000")
    return {"step_ms": (seq1000 - seq100) / 900, "seq1000_ms": seq1000, "map1000_ms": map1000}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", help="src folder of another spine checkout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench_workflows.py").write_text(WORKFLOWS)
        sides = {"this checkout": None}
        if args.compare:
            sides["compared"] = str(Path(args.compare).resolve())
        for src in sides.values():
            upgrade(folder, src)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        schema_floors: dict[str, list[float]] = {name: [] for name in sides}
        floors = []
        for _ in range(args.repeat):
            floors.append(floor_ms(folder))
            for name, src in sides.items():
                samples[name].append(figures(folder, src))
                schema_floors[name].append(
                    schema_floor_ms(folder / ("other.db" if src else "spine.db"))
                )
        floor = statistics.median(floors)
        print(f"floor, minimal tables: {floor:.3f} ms/step")
        for name, rows in samples.items():
            step = statistics.median(r["step_ms"] for r in rows)
            seq = statistics.median(r["seq1000_ms"] for r in rows)
            fan = statistics.median(r["map1000_ms"] for r in rows)
            own = statistics.median(schema_floors[name])
            print(
                f"{name}: {step:.3f} ms/step; floor in its own tables {own:.3f} ms/step "
                f"({step / own:.2f}x), minimal floor {step / floor:.2f}x; "
                f"sequence of 1,000 {seq:.0f} ms; map of 1,000 {fan:.0f} ms "
                f"({fan / seq:.2f}x the sequence)"
            )


if __name__ == "__main__":
    main()
