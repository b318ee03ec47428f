"""Source fetch speed: fetch + hash + count of a 1 GB PSV file, beside the floor.

    .venv/bin/python -m benchmarks.sources                  # SQLite for the fetch row
    .venv/bin/python -m benchmarks.sources --postgres URL   # PostgreSQL for the fetch row
    .venv/bin/python -m benchmarks.sources --size-mb 256 --repeat 3

The file is generated once under /tmp (reused when present) and read from the page cache
(one warm-up read first). The floor is what the same work costs with the system's own
tools on the same file: ``sha256sum FILE`` plus ``wc -l FILE``, each a separate pass.
Spine does it in one pass: large reads, SHA-256 (which releases the GIL) and a newline
count over each chunk.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, row

from spine.config import load_settings
from spine.core.clock import SystemClock
from spine.sources import FetchStatus, SourceService
from spine.sources.formats import digest_file

HEADER = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
    "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n"
)


def make_file(path: Path, size_mb: int) -> Path:
    """A PSV file of about ``size_mb`` MiB in the FINRA format (kept for reuse)."""
    wanted = size_mb * 1024 * 1024
    if path.exists() and path.stat().st_size >= wanted:
        return path
    lines = [
        f"NMS Tier {1 + i % 2}|S{i % 9973:04d}|Issue {i % 9973}|Venue {i % 97}|"
        f"V{i % 97:03d}|{(i * 7919) % 10_000_000}|{(i * 31) % 100_000}|2025-01-13\n"
        for i in range(20_000)
    ]
    block = "".join(lines).encode()
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as out:
        out.write(HEADER.encode())
        written = len(HEADER)
        while written < wanted:
            out.write(block)
            written += len(block)
    tmp.rename(path)
    return path


def timed(fn: object, repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="record the fetch in PostgreSQL")
    parser.add_argument("--file", type=Path, default=None)
    args = parser.parse_args()
    path = make_file(
        args.file or Path(tempfile.gettempdir()) / f"spine-bench-{args.size_mb}mb.psv", args.size_mb
    )
    size_mb = path.stat().st_size / 1e6
    print(f"machine: {machine()}")
    print(f"file: {path} ({size_mb:,.0f} MB), median of {args.repeat}")
    for tool in ("sha256sum", "wc"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed for the floor")
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the cache

    sha = timed(
        lambda: subprocess.run(["sha256sum", str(path)], capture_output=True, check=True),
        args.repeat,
    )
    wc = timed(
        lambda: subprocess.run(["wc", "-l", str(path)], capture_output=True, check=True),
        args.repeat,
    )
    floor = sha + wc
    row("sha256sum FILE", f"{size_mb / sha:,.0f} MB/s", f"{sha:.2f} s")
    row("wc -l FILE", f"{size_mb / wc:,.0f} MB/s", f"{wc:.2f} s")
    row("floor: sha256sum + wc -l", f"{size_mb / floor:,.0f} MB/s", f"{floor:.2f} s")

    strict = None
    if shutil.which("openssl"):
        # sha256sum may lack the CPU's SHA instructions; OpenSSL (hashlib's library) uses
        # them, so this is the stricter floor for the same work.
        ossl = timed(
            lambda: subprocess.run(
                ["openssl", "dgst", "-sha256", str(path)], capture_output=True, check=True
            ),
            args.repeat,
        )
        strict = ossl + wc
        row("openssl dgst -sha256 FILE", f"{size_mb / ossl:,.0f} MB/s", f"{ossl:.2f} s")
        row("stricter floor: openssl + wc -l", f"{size_mb / strict:,.0f} MB/s", f"{strict:.2f} s")

    digest = timed(lambda: digest_file(path, "psv"), args.repeat)
    row(
        "spine digest_file (hash + count, one pass)",
        f"{size_mb / digest:,.0f} MB/s",
        f"{digest:.2f} s, {digest / floor:.2f}x the floor",
    )

    backend = "postgresql" if args.postgres else "sqlite"
    if args.postgres:
        import os

        os.environ["SPINE_BENCH_POSTGRES_URL"] = args.postgres
    with fresh_database(backend) as (database, _url), tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(sources_cache_dir=tmp)
        service = SourceService.build(settings, database, SystemClock())
        service.add("bench", "file", {"path": str(path), "format": "psv"})

        def fetch() -> None:
            result = service.fetch("bench", force=True)
            assert result.status is FetchStatus.SUCCESS, result.error

        whole = timed(fetch, args.repeat)
        unchanged = timed(lambda: service.fetch("bench"), args.repeat)
    row(
        f"spine.sources fetch --force ({backend} row)",
        f"{size_mb / whole:,.0f} MB/s",
        f"{whole:.2f} s, {whole / floor:.2f}x the floor (goal <= 1.5x)",
    )
    if strict:
        row("  ratio to the stricter floor", f"{whole / strict:.2f}x", "")
    row("spine.sources fetch, unchanged (size + mtime)", f"{unchanged * 1000:,.1f} ms", "no read")


if __name__ == "__main__":
    main()
