"""Long-running processes outlive their database (issue 12, item 2).

Real ``spine worker``, ``spine scheduler`` and ``spine alerts deliver`` processes: on
SQLite another connection holds the write lock for 45 s; on PostgreSQL a loopback proxy
between them and the server is cut (the shared server is never stopped). Each case runs
the three processes together, so that its unavoidable wait is paid once. After the
outage they are still alive, finish their work (a multi-step run completes with every
step recorded once, fires go on with none doubled or lost, alerts are delivered), log
the outage once and its end once, and exit 0 on SIGTERM.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.alerting.receiver import Receiver
from tests.cli.long_running import Fleet, Process, wait_for
from tests.cli.tcp_proxy import TcpProxy

LOCK_SECONDS = 45
OUTAGE_SECONDS = 30
UNAVAILABLE = "the database is unavailable"
BACK = "the database is back after"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fleet(db_url: str, tmp_path: Path, receiver: Receiver) -> Iterator[Fleet]:
    fleet = Fleet(db_url, tmp_path, receiver)
    yield fleet
    fleet.close()


def _proxy(db_url: str) -> TcpProxy:
    url = sa.make_url(db_url)
    return TcpProxy((url.host or "127.0.0.1", url.port or 5432))


def _all_working(fleet: Fleet, run_id: str, alert_id: str) -> None:
    """Wait until the run is under way, the schedule fires and the alert is delivered."""
    wait_for(lambda: fleet.steps_done(run_id) >= 2, "the run's first steps", fleet.processes)
    wait_for(lambda: fleet.fires() >= 1, "a first fire", fleet.processes)
    wait_for(lambda: fleet.delivered(alert_id), "a first delivery", fleet.processes)


def _stopped_cleanly(fleet: Fleet, processes: list[Process]) -> None:
    codes = fleet.stop_all()
    for process in processes:
        assert "Traceback" not in process.output, process.output
    assert codes == {p.name: 0 for p in fleet.processes}, [p.output for p in processes]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_write_lock_held_45_s_kills_no_process(fleet: Fleet, db_url: str) -> None:
    processes = fleet.start(db_url)
    run_id = fleet.submit()
    _all_working(fleet, run_id, fleet.alert("before"))

    path = sa.make_url(db_url).database
    assert path is not None
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    locked_at = time.monotonic()
    try:
        while time.monotonic() - locked_at < LOCK_SECONDS:  # the fault lasts 45 s
            for process in processes:
                process.assert_alive()
            time.sleep(0.5)
        fires_during = fleet.fires()
    finally:
        locker.rollback()
        locker.close()
    released_at = time.monotonic()
    after = fleet.alert("after")
    wait_for(lambda: fleet.fires() > fires_during, "a fire after the lock", processes)
    resumed = time.monotonic() - released_at
    wait_for(lambda: fleet.finished(run_id), "the run to finish", processes)
    wait_for(lambda: fleet.delivered(after), "the delivery after the lock", processes)
    print(f"lock held {LOCK_SECONDS} s; first fire {resumed:.1f} s after its release")

    _stopped_cleanly(fleet, processes)
    fleet.check_run(run_id)
    fleet.check_fires()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgres_processes_started_while_the_database_is_down_wait_for_it(
    fleet: Fleet, db_url: str
) -> None:
    proxy = _proxy(db_url)  # not listening yet: the database is down
    run_id = fleet.submit()
    alert_id = fleet.alert("waiting")
    processes = fleet.start(proxy.url(db_url))
    try:
        for process in processes:
            wait_for(lambda p=process: p.count(UNAVAILABLE), f"{process.name} to wait", processes)
        down_since = time.monotonic()
        while time.monotonic() - down_since < 5:  # they keep waiting, alive
            for process in processes:
                process.assert_alive()
            time.sleep(0.5)
        proxy.restore()
        up_at = time.monotonic()
        wait_for(lambda: fleet.fires() >= 1, "a fire", processes)
        first_fire = time.monotonic() - up_at
        wait_for(lambda: fleet.delivered(alert_id), "the delivery", processes)
        wait_for(lambda: fleet.finished(run_id), "the run to finish", processes)
        print(f"first fire {first_fire:.1f} s after the database came up")
        _stopped_cleanly(fleet, processes)
    finally:
        proxy.cut()
    for process in processes:
        assert process.count(UNAVAILABLE) == 1, process.output
        assert process.count(BACK) == 1, process.output
    fleet.check_run(run_id)
    fleet.check_fires()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgres_outage_of_30_s_mid_run_stops_no_process(
    fleet: Fleet, db_url: str, tmp_path: Path
) -> None:
    proxy = _proxy(db_url)
    proxy.restore()
    url = proxy.url(db_url)
    processes = fleet.start(url)
    port = TcpProxy(("127.0.0.1", 0)).port  # a free port for the API
    serve = Process.start("serve", ["serve", "--port", str(port)], tmp_path, fleet.env(url))
    health = f"http://127.0.0.1:{port}/health"

    def status() -> int | None:
        try:
            return httpx.get(health, timeout=5).status_code
        except httpx.TransportError:
            return None

    try:
        run_id = fleet.submit()
        _all_working(fleet, run_id, fleet.alert("before"))
        wait_for(lambda: status() == 200, "/health to answer 200", [serve])

        proxy.cut()
        cut_at = time.monotonic()
        wait_for(lambda: status() == 503, "/health to answer 503", [serve])
        problem = httpx.get(health, timeout=5).json()
        assert "database" in problem["detail"], problem
        during = fleet.alert("during")  # written past the proxy: due when they are back
        while time.monotonic() - cut_at < OUTAGE_SECONDS:  # the outage lasts 30 s
            for process in processes:
                process.assert_alive()
            time.sleep(0.5)
        fires_during = fleet.fires()
        proxy.restore()
        up_at = time.monotonic()

        wait_for(lambda: fleet.fires() > fires_during, "a fire after the outage", processes)
        first_fire = time.monotonic() - up_at
        wait_for(lambda: fleet.delivered(during), "the delivery after the outage", processes)
        delivered = time.monotonic() - up_at
        wait_for(lambda: fleet.finished(run_id), "the run to finish", processes)
        finished = time.monotonic() - up_at
        wait_for(lambda: status() == 200, "/health to answer 200 again", [serve])
        print(
            f"outage {OUTAGE_SECONDS} s; after it: first fire {first_fire:.1f} s, "
            f"delivery {delivered:.1f} s, run finished {finished:.1f} s"
        )
        _stopped_cleanly(fleet, processes)
    finally:
        serve.stop()
        proxy.cut()
    for process in processes:
        assert process.count(UNAVAILABLE) == 1, process.output
        assert process.count(BACK) == 1, process.output
    fleet.check_run(run_id)
    fleet.check_fires()
