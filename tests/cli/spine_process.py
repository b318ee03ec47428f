"""Run the real ``spine`` console script in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SPINE = Path(sys.executable).parent / "spine"


@dataclass(frozen=True, slots=True)
class Completed:
    """What one ``spine`` invocation did."""

    code: int
    stdout: str
    stderr: str


Spine = Callable[..., Completed]


def run_spine(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Completed:
    """Run ``spine ARGS`` in ``cwd`` with no ``SPINE_*`` variables but those in ``env``."""
    assert SPINE.exists(), f"the spine console script is not installed at {SPINE}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    # A narrow terminal: one-line errors must stay one line however long they are.
    environment["COLUMNS"] = "60"
    environment.update(env or {})
    process = subprocess.run(
        [str(SPINE), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Completed(process.returncode, process.stdout, process.stderr)


def run_spines(
    invocations: Sequence[tuple[Sequence[str], Mapping[str, str] | None, Path]],
) -> list[Completed]:
    """Run independent ``(args, env, cwd)`` invocations side by side.

    Start-up is most of an invocation's time, and it overlaps well.
    """
    with ThreadPoolExecutor(max_workers=len(invocations) or 1) as pool:
        futures = [
            pool.submit(run_spine, *args, cwd=cwd, env=env) for args, env, cwd in invocations
        ]
        return [future.result() for future in futures]
