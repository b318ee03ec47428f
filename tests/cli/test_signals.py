"""Every long-running command stops cleanly on SIGTERM and on SIGINT and exits 0.

On SQLite and PostgreSQL. What a stop does to work in progress: ``test_stopping.py``.

Real ``spine`` processes, real signals. A signal is sent once the process is in its loop:
it has installed its own SIGTERM handler (``SigCgt`` in ``/proc/PID/status``) and sleeps
waiting for work, or, for ``spine serve``, answers ``/health``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.cli.spine_process import SPINE, in_its_loop, wait_for

APP = """
from spine import Step, Workflow

Workflow("signals.one", [Step.lambda_("only", lambda ctx: {"ok": True})])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return check


COMMANDS = {
    "worker": ["worker", "--concurrency", "1"],
    "scheduler": ["scheduler"],
    "alerts deliver": ["alerts", "deliver", "--poll-seconds", "0.2"],
    "serve": ["serve", "--port", "{port}"],
}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_long_running_command_exits_0_after_a_clean_stop(
    command: str, sig: signal.Signals, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "signals_app.py").write_text(APP)
    port = _free_port()
    args = [arg.format(port=port) for arg in COMMANDS[command]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env.update(
        SPINE_DATABASE_URL=db_url,
        SPINE_APP="signals_app",
        SPINE_WORKER_POLL_SECONDS="0.2",
        SPINE_SCHEDULER_MAX_SLEEP_SECONDS="0.2",
    )
    process = subprocess.Popen(
        [str(SPINE), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if command == "serve":
            wait_for(_answers(f"http://127.0.0.1:{port}"), "/health to answer", process)
        else:
            wait_for(in_its_loop(process.pid), "the command's loop", process)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    if command != "serve":
        assert "stopped after" in stdout
        # One line says it is stopping, and how to stop at once.
        (line,) = [line for line in stderr.splitlines() if line.startswith("stopping:")]
        assert line.endswith("Ctrl-C again to stop now")
