"""A SQLite WAL grown behind a long reader shrinks again once the reader has gone.

Issue 12, item 3: a reader that keeps an old snapshot stops checkpoints from getting past
it, so the WAL grows with every write meanwhile; SQLite reuses the file afterwards but
never makes it smaller by itself. A long-running ``spine worker`` truncates it at its next
checkpoint (``SPINE_SQLITE_CHECKPOINT_SECONDS``) once the reader has ended. A checkpoint
never waits for a reader: the worker goes on while the reader holds its snapshot.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli.spine_process import SPINE

MB = 1024 * 1024
APP = """
from spine import Step, Workflow

Workflow("wal.one", [Step.lambda_("only", lambda ctx: None)])
"""


def _holds_open(pid: int, path: str) -> bool:
    """Whether process ``pid`` has ``path`` open (a connection to the database)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == os.path.realpath(path) for fd in fds.iterdir())
    except OSError:  # an fd closed while listed
        return False


def _wal(path: str) -> int:
    wal = Path(path + "-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_wal_shrinks_after_a_long_reader_ends(db_url: str, tmp_path: Path) -> None:
    path = sa.make_url(db_url).database
    assert path is not None
    (tmp_path / "wal_app.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env.update(
        SPINE_DATABASE_URL=db_url,
        SPINE_APP="wal_app",
        SPINE_WORKER_POLL_SECONDS="0.1",
        SPINE_SQLITE_CHECKPOINT_SECONDS="0.5",
    )
    worker = subprocess.Popen(
        [str(SPINE), "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = sqlite3.connect(path, isolation_level=None)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        # Were the reader the last connection to close, closing it would checkpoint and
        # delete the WAL: the worker's pooled connection must be open first.
        deadline = time.monotonic() + 60
        while not _holds_open(worker.pid, path):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never opened the database"
            time.sleep(0.05)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
        writer.execute("CREATE TABLE scratch (body BLOB)")
        for _ in range(40):
            writer.execute("INSERT INTO scratch VALUES (randomblob(1024 * 1024))")
        writer.close()
        grown = _wal(path)
        assert grown > 30 * MB  # the reader kept every write in the WAL
        assert worker.poll() is None
        reader.rollback()  # the long reader ends
        reader.close()
        deadline = time.monotonic() + 60
        while _wal(path) > MB:
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, f"the WAL stayed at {_wal(path)} bytes"
            time.sleep(0.1)
        print(f"WAL {grown / MB:.1f} MB behind the reader, {_wal(path)} bytes after it ended")
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
