"""Random SIGKILLs of real `spine worker` processes: count what is lost and what is doubled.

    .venv/bin/python benchmarks/chaos.py --backend sqlite --runs 60 --seconds 90
    .venv/bin/python benchmarks/chaos.py --backend postgres --runs 60 --seconds 90

Submits ``--runs`` runs of a five-step workflow whose steps sleep a little and append a
line to a log file, starts ``--workers`` worker processes, and every ``--kill-every``
seconds (jittered) SIGKILLs one of them at random and starts a replacement. When the
time is up, or every run is finished, the killing stops and one last worker finishes
what is left. Then it counts, from the database and the step log:

- runs lost: runs not COMPLETED;
- steps completed twice: a (run, step) with more than one COMPLETED attempt;
- outputs doubled: a step whose *completion* was executed more than once, i.e. a line of
  the log after the attempt that completed (a killed attempt's line is expected: a step
  is executed at least once, and again only when its worker died before recording it);
- duplicate event keys: idempotency keys seen twice in the event table.

The figures are recorded in ``docs/reliability.md``; this is a soak, not a test: the
tests under ``tests/orchestration/test_durability.py`` hold the same invariants on
smaller, deterministic cases.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from _common import fresh_database, machine

from spine.core.storage.schema.workflow_history import (
    core_workflow_events,
    core_workflow_runs,
    core_workflow_steps,
)

SPINE = str(Path(sys.executable).with_name("spine"))
STEPS = 5

APP = textwrap.dedent(
    f"""
    import os, time
    from spine import Step, Workflow

    def step(name):
        def call(ctx):
            time.sleep(0.2)
            with open(os.environ["CHAOS_LOG"], "a") as log:
                log.write(f"{{ctx.run_id}},{{name}},{{ctx.attempt}},{{os.getpid()}}\\n")
            return {{"step": name}}
        return call

    Workflow("chaos.steps", [Step.lambda_(f"s{{i}}", step(f"s{{i}}")) for i in range({STEPS})])
    """
)


def start_worker(
    folder: Path, url: str, env: dict[str, str], number: int
) -> subprocess.Popen[bytes]:
    log = (folder / f"worker-{number}.log").open("wb")
    process = subprocess.Popen(
        [SPINE, "--database-url", url, "--app", "chaos_app", "worker", "--concurrency", "2"],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()
    return process


def busy_pids(step_log: Path) -> set[int]:
    """Worker processes that wrote a step line lately."""
    if not step_log.exists():
        return set()
    return {int(line.rsplit(",", 1)[1]) for line in step_log.read_text().splitlines()[-20:]}


def unfinished(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(core_workflow_runs)
                .where(core_workflow_runs.c.status.in_(["PENDING", "RUNNING"]))
            ).scalar_one()
        )


def soak(backend: str, runs: int, workers: int, seconds: float, kill_every: float) -> None:
    rng = random.Random(7)
    with fresh_database(backend) as (_database, url), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "chaos_app.py").write_text(APP)
        step_log = folder / "steps.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        env.update(
            PYTHONPATH=str(folder),
            CHAOS_LOG=str(step_log),
            SPINE_WORKER_LEASE_SECONDS="2",
            SPINE_WORKER_POLL_SECONDS="0.2",
        )
        for _ in range(runs):
            subprocess.run(
                [SPINE, "--database-url", url, "--app", "chaos_app", "run", "chaos.steps",
                 "--no-wait"],
                cwd=folder, env=env, check=True, capture_output=True,
            )  # fmt: skip
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        started = 0
        alive = []
        for _ in range(workers):
            alive.append(start_worker(folder, url, env, started))
            started += 1
        kills = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and unfinished(engine):
            time.sleep(kill_every * rng.uniform(0.5, 1.5))
            # Kill only a worker that is executing steps: one killed while it still
            # imports proves nothing.
            busy = busy_pids(step_log)
            candidates = [i for i, process in enumerate(alive) if process.pid in busy]
            if not candidates:
                continue
            victim = alive.pop(rng.choice(candidates))
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            kills += 1
            alive.append(start_worker(folder, url, env, started))
            started += 1
        # Let the survivors finish what the killing left (leases of the dead expire).
        finish_by = time.monotonic() + 120
        while unfinished(engine) and time.monotonic() < finish_by:
            time.sleep(0.5)
        for process in alive:
            process.send_signal(signal.SIGTERM)
        for process in alive:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

        with engine.connect() as conn:
            statuses = Counter(
                row.status for row in conn.execute(sa.select(core_workflow_runs.c.status))
            )
            completions = Counter(
                (row.run_id, row.step_name)
                for row in conn.execute(
                    sa.select(core_workflow_steps.c.run_id, core_workflow_steps.c.step_name).where(
                        core_workflow_steps.c.status == "COMPLETED"
                    )
                )
            )
            completed_attempt = {
                (row.run_id, row.step_name): row.attempt
                for row in conn.execute(
                    sa.select(
                        core_workflow_steps.c.run_id,
                        core_workflow_steps.c.step_name,
                        core_workflow_steps.c.attempt,
                    ).where(core_workflow_steps.c.status == "COMPLETED")
                )
            }
            interrupted = conn.execute(
                sa.select(sa.func.count())
                .select_from(core_workflow_steps)
                .where(core_workflow_steps.c.error.like("interrupted%"))
            ).scalar_one()
            keys = Counter(
                key for (key,) in conn.execute(sa.select(core_workflow_events.c.idempotency_key))
            )
        engine.dispose()

        executions = Counter()
        doubled = 0
        for line in step_log.read_text().splitlines():
            run_id, name, attempt, _pid = line.split(",")
            executions[(run_id, name)] += 1
            if int(attempt) > completed_attempt.get((run_id, name), 10**9):
                doubled += 1
        reexecuted = sum(count - 1 for count in executions.values() if count > 1)
        print(f"{backend}: {machine()}")
        print(f"  workers {workers}, kills {kills}, worker processes started {started}")
        print(f"  runs {runs}, completed {statuses.get('COMPLETED', 0)}, statuses {dict(statuses)}")
        print(f"  runs lost (not COMPLETED)        {runs - statuses.get('COMPLETED', 0)}")
        print(f"  steps completed twice            {sum(1 for c in completions.values() if c > 1)}")
        print(f"  executions after the completion  {doubled}")
        print(f"  attempts recorded interrupted    {interrupted} (their worker was killed)")
        print(f"  steps re-executed after a kill   {reexecuted} (at-least-once, expected)")
        print(f"  duplicate event keys             {sum(1 for c in keys.values() if c > 1)}")
        print(f"  events                           {sum(keys.values())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--kill-every", type=float, default=1.5)
    args = parser.parse_args()
    soak(args.backend, args.runs, args.workers, args.seconds, args.kill_every)


if __name__ == "__main__":
    main()
