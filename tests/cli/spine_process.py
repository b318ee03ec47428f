"""Run the real ``spine`` console script in a subprocess, as a user would."""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SPINE = Path(sys.executable).parent / "spine"
#: A narrow terminal: one-line errors must stay one line however long they are.
COLUMNS = "60"


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
    environment["COLUMNS"] = COLUMNS
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


def invoke_spine(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Completed:
    """``spine ARGS`` as :func:`run_spine` runs it, but in this process: no start-up.

    For commands that only print, exit and change the database. The environment, the
    working directory, the console's width (``COLUMNS``), stdout, stderr, the root logger
    and the SIGINT and SIGTERM handlers are the subprocess's for the call and restored
    after it. The app module (``--app`` or ``SPINE_APP``) is imported afresh into empty
    workflow and pipeline registries, as in a new process; the modules and registries
    are as before once it returns. Not for commands that wait for signals or prompt, nor
    for an app that keeps state in other modules (``spine.examples.finra`` does: its
    checks are applied once per process), nor for a step that starts ``spine`` itself
    (that process writes to the real stdout).
    """
    from spine.cli import main, output

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    environment["COLUMNS"] = COLUMNS
    environment.update(env or {})
    width = int(environment["COLUMNS"])
    stdout, stderr = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (dict(os.environ), sys.argv, root.handlers[:], root.level)
    widths = (output.console.width, output.err_console.width)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        os.environ.clear()
        os.environ.update(environment)
        sys.argv = ["spine", *args]
        root.handlers.clear()  # spine configures logging only when nothing else has
        output.console.width = output.err_console.width = width
        with (
            _fresh_app(_app_named(args, environment)),
            contextlib.chdir(cwd),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            try:
                main.run()
            except SystemExit as exit_:
                code = _exit_code(exit_.code, stderr)
            except Exception:  # as the interpreter reports an uncaught exception
                traceback.print_exc(file=stderr)
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        sys.argv = saved[1]
        root.handlers[:] = saved[2]
        root.setLevel(saved[3])
        output.console.width, output.err_console.width = widths
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
    return Completed(code, stdout.getvalue(), stderr.getvalue())


def _app_named(args: Sequence[str], environment: Mapping[str, str]) -> str | None:
    for option, value in itertools.pairwise(args):
        if option == "--app":
            return value
    return environment.get("SPINE_APP")


@contextlib.contextmanager
def _fresh_app(app: str | None) -> Iterator[None]:
    """Empty registries and no cached ``app`` module for the call; as before after it."""
    from spine.orchestration.registry import pipelines
    from spine.orchestration.workflow import workflows

    modules, path = dict(sys.modules), sys.path[:]
    registered = (dict(workflows._workflows), dict(pipelines._pipelines))
    if app is not None:
        for name in [n for n in sys.modules if n == app or n.startswith(app + ".")]:
            del sys.modules[name]
    workflows._workflows.clear()
    pipelines._pipelines.clear()
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n not in modules]:
            del sys.modules[name]
        sys.modules.update(modules)
        sys.path[:] = path
        workflows._workflows.clear()
        workflows._workflows.update(registered[0])
        pipelines._pipelines.clear()
        pipelines._pipelines.update(registered[1])


def _exit_code(code: object, stderr: io.StringIO) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    stderr.write(f"{code}\n")
    return 1


def run_spines(
    invocations: Sequence[tuple[Sequence[str], Mapping[str, str] | None, Path]],
    *,
    in_process: bool = False,
) -> list[Completed]:
    """Run independent ``(args, env, cwd)`` invocations side by side.

    Start-up is most of an invocation's time, and it overlaps well. ``in_process``: one
    after the other through :func:`invoke_spine`, which has no start-up.
    """
    if in_process:
        return [invoke_spine(*args, cwd=cwd, env=env) for args, env, cwd in invocations]
    with ThreadPoolExecutor(max_workers=len(invocations) or 1) as pool:
        futures = [
            pool.submit(run_spine, *args, cwd=cwd, env=env) for args, env, cwd in invocations
        ]
        return [future.result() for future in futures]


def spine_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``SPINE_*`` variables, plus ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    environment.update(env or {})
    return environment


def start_spine(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, stderr: Path | None = None
) -> subprocess.Popen[str]:
    """Start ``spine ARGS`` (to be signalled); stderr to the file ``stderr`` if given.

    A file, not a pipe, so that a test can read what the process said while it runs.
    """
    err = stderr.open("w") if stderr is not None else subprocess.PIPE
    try:
        return subprocess.Popen(
            [str(SPINE), *args],
            cwd=cwd,
            env=spine_environment(env),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    finally:
        if stderr is not None:
            err.close()  # type: ignore[union-attr]


def wait_for(
    condition: Callable[[], object],
    what: str,
    process: subprocess.Popen[str] | None = None,
    *,
    seconds: float = 60.0,
) -> None:
    """Poll ``condition`` until ``seconds`` have passed; fail at once if ``process`` exited."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the process exited ({process.returncode}): {out}{err}")
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def catches(pid: int, sig: signal.Signals) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (``SigCgt`` in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(
        next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16
    )
    return bool(caught & (1 << (sig - 1)))


def _sleeping(pid: int) -> bool:
    # Field 3 of /proc/PID/stat, after the parenthesised command name.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "S"


def in_its_loop(pid: int) -> Callable[[], bool]:
    """A condition: the command installed its handlers and sleeps waiting for work.

    The command installs its SIGTERM and SIGINT handlers together, then loops, sleeping
    between looks for work: SIGTERM caught and asleep at two looks is in the loop.
    """

    def check() -> bool:
        if not (catches(pid, signal.SIGTERM) and _sleeping(pid)):
            return False
        time.sleep(0.05)
        return _sleeping(pid)

    return check


def stop(process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    """Wait for ``process`` to exit (killing it if it does not); return stdout, stderr."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return out, err or ""
