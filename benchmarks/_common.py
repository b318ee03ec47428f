"""Helpers shared by the benchmark scripts: fresh databases, timing, printing."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from spine.core.storage import Database, create_database
from spine.core.storage.migrator import Migrator

PG_URL = os.environ.get(
    "SPINE_BENCH_POSTGRES_URL",
    os.environ.get("SPINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


@contextmanager
def fresh_database(backend: str) -> Iterator[tuple[Database, str]]:
    """A new database migrated to head, dropped afterwards; yields it and its URL."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="spine-bench-") as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            database = create_database(url)
            Migrator(database).upgrade()
            yield database, url
            database.dispose()
        return
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"spine_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    database = create_database(url)
    try:
        Migrator(database).upgrade()
        yield database, url
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def median_seconds(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """Run ``fn`` ``repeat`` times; return the median and every time, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def row(label: str, value: str, note: str = "") -> None:
    """Print one aligned result line."""
    print(f"  {label:<52} {value:>14}  {note}")
