"""Run the real ``spine`` with a terminal on its stdin, to answer its questions."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.cli.spine_process import SPINE, Completed


def run_spine_on_terminal(
    *args: str, answer: str, cwd: Path, env: Mapping[str, str] | None = None
) -> Completed:
    """Run ``spine ARGS`` with a pseudo-terminal as stdin, typing ``answer`` and Enter.

    stdout and stderr are pipes, read whole; the answer waits in the terminal's line
    buffer until spine reads it.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SPINE), *args],
            cwd=cwd,
            env=environment,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        terminal = -1
        os.write(controller, f"{answer}\n".encode())
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    return Completed(process.returncode, stdout, stderr)
