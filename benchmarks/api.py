"""The REST API's speed: authenticated runs listing and starting, and what key checking adds.

Starts ``spine serve`` (a process of its own) over a fresh migrated database and calls it
over keep-alive HTTP with httpx, with an API key of the default workspace holding every
scope. Each figure is the median of 5 rounds:

- ``GET /health`` per second (open: no key);
- ``GET /api/v1/workspaces/{id}/api-keys?limit=1`` per second (a key, one small query);
- ``GET .../runs?limit=50`` (50 runs seeded) and ``POST .../runs`` (body
  ``{"workflow_name": ..., "params": {...}}``) per second, when the runs router exists;
- key checking itself: ``TenancyService.authenticate`` (one query by ``key_prefix``,
  SHA-256, a constant-time compare; ``last_used_at`` written at most once a minute) plus
  the FastAPI dependency that calls it, timed in process, per call.

    .venv/bin/python benchmarks/api.py --backend sqlite
    .venv/bin/python benchmarks/api.py --backend postgresql
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_database, machine, row

from spine import Step, Workflow
from spine.bootstrap import Services, build
from spine.config import Settings
from spine.tenancy import ALL_SCOPES, OPERATOR

WORKFLOW = "bench.api_noop"
SPINE = str(Path(sys.executable).with_name("spine"))
REPEAT = 5


APP_MODULE = f"""
from spine import Step, Workflow

Workflow({WORKFLOW!r}, [Step.lambda_("noop", lambda ctx: None)])
"""


@contextmanager
def serving(url: str) -> Iterator[str]:
    """Run ``spine serve`` over ``url`` (with the benchmark's workflow); yield its base URL."""
    with tempfile.TemporaryDirectory(prefix="spine-bench-app-") as folder:
        Path(folder, "bench_api_app.py").write_text(APP_MODULE)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        env.update(PYTHONPATH=folder, SPINE_LOG_LEVEL="WARNING")
        process = subprocess.Popen(
            [SPINE, "--database-url", url, "--app", "bench_api_app", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("spine serve did not start") from None
                    time.sleep(0.1)
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def per_second(call: Callable[[], httpx.Response], requests: int) -> tuple[float, int]:
    """Median requests per second over :data:`REPEAT` rounds, and the last status."""
    rates = []
    status = 0
    for _ in range(REPEAT):
        start = time.perf_counter()
        for _ in range(requests):
            status = call().status_code
        rates.append(requests / (time.perf_counter() - start))
    return statistics.median(rates), status


def key_check_us(services: Services, key: str, calls: int) -> tuple[float, float, float]:
    """Median microseconds of a key check: ``authenticate`` as configured by default
    (the key's row read on every request), the API's whole dependency around it, and
    ``authenticate`` with ``SPINE_API_KEY_CACHE_SECONDS`` set (a dictionary lookup)."""
    from types import SimpleNamespace

    from fastapi.security import HTTPAuthorizationCredentials

    from spine.api.auth import FailedAuthLimiter, authenticated_key
    from spine.tenancy import TenancyService

    app = SimpleNamespace(
        state=SimpleNamespace(services=services, auth_limiter=FailedAuthLimiter())
    )
    request = SimpleNamespace(app=app, client=SimpleNamespace(host="127.0.0.1"))
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=key)
    cached = TenancyService(services.tenancy.store, services.clock, key_cache_seconds=300)

    default, through, with_cache = [], [], []
    for _ in range(REPEAT):
        start = time.perf_counter()
        for _ in range(calls):
            services.tenancy.authenticate(key)
        default.append((time.perf_counter() - start) / calls * 1e6)
        start = time.perf_counter()
        for _ in range(calls):
            authenticated_key(request, credentials)  # type: ignore[arg-type]
        through.append((time.perf_counter() - start) / calls * 1e6)
        start = time.perf_counter()
        for _ in range(calls):
            cached.authenticate(key)
        with_cache.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(default), statistics.median(through), statistics.median(with_cache)


def bench(backend: str, requests: int) -> None:
    """Print every figure for ``backend``."""
    Workflow(WORKFLOW, [Step.lambda_("noop", lambda ctx: None)])
    with fresh_database(backend) as (database, url):
        database.dispose()
        services = build(Settings(database_url=url))
        try:
            key = services.tenancy.create_key(OPERATOR, name="bench", scopes=ALL_SCOPES).secret
            runner = services.runner()
            for n in range(60):
                runner.submit(WORKFLOW, {"n": n})
            workspace = f"/api/v1/workspaces/{OPERATOR.workspace_id}"
            print(f"\n{backend}: {requests} requests per round, median of {REPEAT} rounds")
            with (
                serving(url) as base,
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
            ):
                health, _ = per_second(lambda: http.get("/health"), requests)
                keys, status = per_second(
                    lambda: http.get(f"{workspace}/api-keys?limit=1"), requests
                )
                row("GET /health (open)", f"{health:,.0f} req/s", f"{1e3 / health:.2f} ms each")
                row(
                    "GET .../api-keys?limit=1 (key checked)",
                    f"{keys:,.0f} req/s",
                    f"{1e3 / keys:.2f} ms each, HTTP {status}",
                )
                listed, status = per_second(
                    lambda: http.get(f"{workspace}/runs?limit=50"), requests
                )
                if status == 200:
                    row("GET .../runs?limit=50", f"{listed:,.0f} req/s", f"{1e3 / listed:.2f} ms")
                else:
                    row("GET .../runs?limit=50", "not served", f"HTTP {status}")
                body = {"workflow_name": WORKFLOW, "params": {"n": 1}}
                started, status = per_second(
                    lambda: http.post(f"{workspace}/runs", json=body), requests
                )
                if status in (200, 201, 202):
                    row("POST .../runs", f"{started:,.0f} req/s", f"{1e3 / started:.2f} ms")
                else:
                    row("POST .../runs", "not served", f"HTTP {status}")
            default, through, with_cache = key_check_us(services, key, requests)
            row("key check: authenticate (row read)", f"{default:,.0f} µs", "the default")
            row("key check: the API's dependency", f"{through:,.0f} µs", "goal < 200 µs")
            row("key check: authenticate, cache on", f"{with_cache:,.1f} µs", "opt-in")
        finally:
            services.close()


def main() -> None:
    """Parse the options and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=500, help="Requests per round.")
    args = parser.parse_args()
    print(machine())
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        bench(backend, args.requests)


if __name__ == "__main__":
    main()
