"""Real ``spine automation dispatch`` processes under a stream of changes to a watched table.

- 20 SIGKILLs of the dispatcher while rows change: every change handled, no action twice;
- two dispatchers at once (the leader killed half-way): no change handled twice;
- the dispatcher down while rows change: everything handled on its restart, in order per row.

Each rule's action creates an alert (``create_alert``, a real effect in spine's database,
linked to its execution), so "done twice" is two alerts for one execution. Waits are on
conditions (the cursor's position), bounded; the poll interval is short.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from spine.automation.store.changes import ChangeLog
from spine.bootstrap import Services, build
from spine.config import load_settings
from spine.core.storage.schema.automation import alerts, automation_executions
from tests.cli.spine_process import run_spine, start_spine, stop, wait_for

ROWS = 5


@dataclass
class Setup:
    services: Services
    env: dict[str, str]
    cwd: Path
    engine: sa.Engine

    @property
    def log(self) -> ChangeLog:
        return ChangeLog(self.services.database)

    def position(self) -> int:
        return self.log.position()

    def last(self) -> int:
        self.log.sequence()
        return self.log.last_position()


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[Setup]:
    env = {
        "SPINE_DATABASE_URL": db_url,
        "SPINE_AUTOMATION_POLL_SECONDS": "0.05",
        "SPINE_AUTOMATION_BATCH_SIZE": "7",
    }
    services = build(load_settings(database_url=db_url))
    sqlite = db_url.startswith("sqlite")
    engine = sa.create_engine(
        db_url, poolclass=sa.NullPool, connect_args={"timeout": 30} if sqlite else {}
    )
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, seq INT)"))
        for i in range(1, ROWS + 1):
            conn.execute(sa.text("INSERT INTO orders VALUES (:i, 'new', 0)"), {"i": i})
    services.tenancy.add_role("oncall")
    automation = services.automation
    automation.entities.watch("orders")
    automation.rules.create(
        {
            "name": "changed",
            "entity": "orders",
            "trigger": "on_update",
            "conditions": [{"field_name": "status", "operator": "not_equals", "value": "x"}],
            "actions": [
                {
                    "name": "tell",
                    "type": "create_alert",
                    "execution_order": 1,
                    "config": {
                        "severity": "low",
                        "title": "order {{ new.id }} is {{ new.status }}",
                        "message": "seq {{ new.seq }}",
                        "recipients": [{"type": "role", "name": "oncall"}],
                    },
                }
            ],
        }
    )
    yield Setup(services, env, tmp_path, engine)
    engine.dispose()
    services.close()


class Writer:
    """Updates the watched rows, one transaction each, until ``count`` or :meth:`stop`."""

    def __init__(
        self, engine: sa.Engine, count: int | None = None, pause: float = 0.01, first: int = 0
    ) -> None:
        self.engine = engine
        self.first = first
        self.count = count
        self.pause = pause
        self.done = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._write, daemon=True)

    def start(self) -> Writer:
        self.thread.start()
        return self

    def _write(self) -> None:
        n = self.first
        while not self.stopping.is_set() and (self.count is None or n < self.first + self.count):
            n += 1
            with self.engine.begin() as conn:
                conn.execute(
                    sa.text("UPDATE orders SET status = :s, seq = :n WHERE id = :i"),
                    {"s": f"s{n}", "n": n, "i": n % ROWS + 1},
                )
            self.done = n - self.first
            if self.pause:
                self.stopping.wait(self.pause)  # a stream, not a burst

    def join(self) -> None:
        self.thread.join(timeout=120)
        assert not self.thread.is_alive()


def _dispatch(setup: Setup, log: str) -> subprocess.Popen[str]:
    return start_spine(
        "automation", "dispatch", cwd=setup.cwd, env=setup.env, stderr=setup.cwd / log
    )


def _drain(setup: Setup) -> None:
    process = _dispatch(setup, "drain.log")
    try:
        wait_for(lambda: setup.position() >= setup.last(), "the last change", process, seconds=90)
    finally:
        process.send_signal(signal.SIGTERM)
        stop(process)


def _check_each_change_handled_once(setup: Setup, changes: int) -> None:
    with setup.services.database.read() as conn:
        executions = conn.execute(
            sa.select(
                automation_executions.c.id,
                automation_executions.c.change_position,
                automation_executions.c.status,
            )
        ).all()
        per_execution = conn.execute(
            sa.select(alerts.c.automation_execution_id, sa.func.count()).group_by(
                alerts.c.automation_execution_id
            )
        ).all()
    assert len(executions) == changes  # one per change: the rule matches every update
    assert {row.status for row in executions} == {"success"}
    assert sorted(row.change_position for row in executions) == list(range(1, changes + 1))
    counts = dict(per_execution)
    assert len(counts) == changes
    assert set(counts.values()) == {1}  # no action done twice


def test_twenty_sigkills_lose_no_change_and_repeat_no_action(setup: Setup) -> None:
    rng = random.Random(15)
    written = 0
    # 20 on SQLite, as the issue asks; PostgreSQL's run the same rounds fewer times (each
    # round is a process start, the suite's time).
    rounds = 20 if setup.services.database.is_sqlite else 8
    for kill in range(rounds):
        # Each round, rows change while a fresh dispatcher works: it is killed once its
        # cursor moved (it is mid-stream), at once or a few milliseconds later.
        writer = Writer(setup.engine, pause=0.1, first=written).start()
        before = setup.position()
        process = _dispatch(setup, f"kill{kill}.log")
        wait_for(
            lambda before=before: setup.position() > before, "the dispatcher to advance", process
        )
        if rng.random() < 0.5:
            threading.Event().wait(rng.random() * 0.03)
        process.send_signal(signal.SIGKILL)
        stop(process)
        writer.stopping.set()
        writer.join()
        written += writer.done
    _drain(setup)
    _check_each_change_handled_once(setup, written)


def test_two_dispatchers_at_once_handle_no_change_twice(setup: Setup) -> None:
    writer = Writer(setup.engine, count=200).start()
    first = _dispatch(setup, "first.log")
    second = _dispatch(setup, "second.log")
    wait_for(lambda: setup.position() > 20, "the dispatchers to advance", first)
    # The leader dies half-way; the stand-by takes over.
    first.send_signal(signal.SIGKILL)
    stop(first)
    writer.join()
    wait_for(lambda: setup.position() >= setup.last(), "the last change", second, seconds=90)
    second.send_signal(signal.SIGTERM)
    stop(second)
    _check_each_change_handled_once(setup, writer.done)


def test_changes_made_while_the_dispatcher_is_down_are_handled_in_order(setup: Setup) -> None:
    writer = Writer(setup.engine, count=60, pause=0).start()
    writer.join()
    _drain(setup)
    _check_each_change_handled_once(setup, 60)
    with setup.services.database.read() as conn:
        rows = conn.execute(
            sa.select(automation_executions.c.trigger_data).order_by(
                automation_executions.c.executed_at, automation_executions.c.change_position
            )
        ).all()
    seen: dict[int, list[int]] = {}
    for (data,) in rows:
        new = data["new"] if isinstance(data, dict) else {}
        seen.setdefault(int(new["id"]), []).append(int(new["seq"]))
    assert len(seen) == ROWS
    for sequence in seen.values():
        assert sequence == sorted(sequence)  # each row's changes, in the order made


def test_the_worker_dispatches_unless_told_not_to(setup: Setup) -> None:
    Writer(setup.engine, count=2, pause=0).start().join()

    skipped = run_spine("worker", "--once", "--no-dispatch", cwd=setup.cwd, env=setup.env)
    assert skipped.code == 0, skipped.stderr
    assert setup.position() == 0
    worked = run_spine("worker", "--once", cwd=setup.cwd, env=setup.env)
    assert worked.code == 0, worked.stderr
    assert setup.position() == 2
    Writer(setup.engine, count=1, pause=0, first=2).start().join()
    once = run_spine("automation", "dispatch", "--once", "--json", cwd=setup.cwd, env=setup.env)
    assert once.code == 0, once.stderr
    assert json.loads(once.stdout) == {
        "changes": 1,
        "executions": 1,
        "failed": 0,
        "too_deep": 0,
        "resolved_alerts": 0,
        "position": 3,
        "leader": True,
    }
    _check_each_change_handled_once(setup, 3)
