"""``spine serve``: the real console script, in a subprocess, as a user starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from spine.core.clock import SystemClock
from spine.core.storage import create_database
from spine.orchestration.history import HistoryTracker, WorkflowStatus
from spine.orchestration.store import RunStore
from spine.tenancy import DEFAULT_WORKSPACE_ID, OPERATOR, ApiScope, TenancyService
from spine.tenancy.store import TenancyStore

SPINE = Path(sys.executable).parent / "spine"


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env["COLUMNS"] = "60"
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(process: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("spine serve did not answer within 30 s")


# The command's wiring does not depend on the backend; the in-process tests cover both.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_spine_serve_serves_the_history_of_its_database(db_url: str, tmp_path: Path) -> None:
    database = create_database(db_url)
    try:
        with HistoryTracker(RunStore(database)).track_workflow("finra.weekly_ingest") as run:
            pass
        clock = SystemClock()
        tenancy = TenancyService(TenancyStore(database, clock), clock)
        key = tenancy.create_key(OPERATOR, name="serve", scopes=frozenset({ApiScope.READ}))
    finally:
        database.dispose()
    port = _free_port()
    process = subprocess.Popen(
        [
            str(SPINE),
            "--database-url",
            db_url,
            "--app",
            "spine.examples.finra",
            "serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(process, url)
        refused = httpx.get(f"{url}/history/runs", timeout=10)
        runs = httpx.get(
            f"{url}/history/runs",
            headers={"Authorization": f"Bearer {key.secret}"},
            timeout=10,
        ).json()
        registered = httpx.get(
            f"{url}/api/v1/workspaces/{DEFAULT_WORKSPACE_ID}/workflows",
            headers={"Authorization": f"Bearer {key.secret}"},
            timeout=10,
        ).json()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)

    assert refused.status_code == 401
    # `--app` is imported: the API knows the user's workflows.
    assert "finra.weekly_ingest" in [w["workflow_name"] for w in registered["items"]]
    assert [(r["run_id"], r["status"]) for r in runs] == [
        (run.run_id, WorkflowStatus.COMPLETED.value)
    ]
    # A clean stop on SIGTERM exits 0 (uvicorn alone would re-raise the signal).
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}" in stdout
    assert "Traceback" not in stderr


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn"])
def test_spine_serve_without_the_api_extra_says_so_in_one_line(
    tmp_path: Path, missing: str
) -> None:
    # A package that fails to import as if it were not installed, ahead of the real one.
    shadow = tmp_path / "shadow" / missing
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        f"raise ModuleNotFoundError({f'No module named {missing!r}'!r}, name={missing!r})\n"
    )
    done = subprocess.run(
        [str(SPINE), "serve"],
        cwd=tmp_path,
        env=_environment(PYTHONPATH=str(tmp_path / "shadow")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "spine-core[api]" in lines[0]
    assert missing in lines[0]
