"""``spine standalone``: all of spine in one process, for one machine or a first look.

The API and the dashboard (uvicorn), the scheduler, a worker for workflow runs and check
jobs, the alert delivery worker, and the automation dispatcher and notification sender
each run in a thread of this process: the same loops as ``spine serve``, ``spine
scheduler``, ``spine worker`` and ``spine alerts deliver``, sharing one database pool and
one outage back-off (an outage is reported once, not once per loop).

It prints the dashboard's address with a one-time login token, as Jupyter does. The
first SIGINT or SIGTERM stops every loop; the threads get :data:`STOP_SECONDS` between
them to end, so the process exits within ten seconds. What was in progress is handed
back: a step still running after :data:`STEP_GRACE_SECONDS` is recorded interrupted and
its run released, unsent deliveries are unclaimed, and what a second signal cuts short
(``spine.cli.stopping``) expires and is taken over as if the process had died.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from spine.cli.context import state
from spine.cli.output import console, err_console, fail

if TYPE_CHECKING:
    from spine.bootstrap import Services
    from spine.web import LoginToken

#: How long the loops get between them to end after the first signal.
STOP_SECONDS = 8.0
#: The most a step in progress may go on once stopping (``worker_stop_grace_seconds``
#: if lower): then it is recorded interrupted and its run handed back, within
#: :data:`STOP_SECONDS`.
STEP_GRACE_SECONDS = 5.0


@dataclass
class _Loop:
    """One of the process's loops: what it is, its thread, and how to ask it to stop."""

    name: str
    what: str
    target: Callable[[], object]
    stop: Callable[[], None]
    thread: threading.Thread = field(init=False)
    error: BaseException | None = field(default=None, init=False)
    result: object = field(default=None, init=False)

    def start(self, ended: threading.Event) -> None:
        def run() -> None:
            try:
                self.result = self.target()
            except BaseException as error:  # one line, and every other loop stops too
                self.error = error
            finally:
                ended.set()

        self.thread = threading.Thread(target=run, name=f"spine-{self.name}", daemon=True)
        self.thread.start()


def standalone_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Runs executed at once (default: SPINE_WORKER_CONCURRENCY, 4).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run everything in one process: API, dashboard, scheduler, worker, alerts, automation.

    Prints the dashboard's address with a one-time login token. Stops on SIGINT/SIGTERM
    within 10 s (twice: at once); work in progress is handed back, never lost.
    """
    from spine.core.storage.engine import redact
    from spine.web import LoginToken

    # First, so that a port in use is said at once, before any work.
    listening = _listen(host, port)
    cli = state(ctx)
    services = cli.services()
    upgraded = _upgrade_schema(services)
    # Without an app it still runs: scheduled checks, automation rules and the API.
    cli.load_app()
    token = LoginToken.fresh()
    loops = _loops(services, listening, host=host, port=port, workers=workers, token=token)
    ended = threading.Event()
    stopping_since: list[float] = []

    def on_stop(received: signal.Signals) -> str:
        stopping_since.append(time.monotonic())
        for loop in loops:
            loop.stop()
        ended.set()
        return (
            f"stopping: every loop finishes what it is doing (a step gets up to "
            f"{_grace(services):g} s); Ctrl-C again to stop now"
        )

    from spine.cli.stopping import StopSignals

    with StopSignals(on_stop):
        for loop in loops:
            loop.start(ended)
        base = f"http://{_url_host(host)}:{port}"
        if upgraded:
            console.print(
                f"upgraded the schema of {redact(services.settings.database_url)}",
                highlight=False,
                soft_wrap=True,
            )
        console.print(
            f"spine standalone on {redact(services.settings.database_url)}, in one process:",
            highlight=False,
            soft_wrap=True,
        )
        for loop in loops:
            console.print(f"  {loop.name:<15} {loop.what}", highlight=False, soft_wrap=True)
        console.print(f"API docs: {base}/docs", highlight=False, soft_wrap=True)
        console.print(
            f"Dashboard (the link logs you in, once): {base}/ui/?token={token.value}",
            highlight=False,
            soft_wrap=True,
        )
        console.print("Ctrl-C stops it.", highlight=False)
        sys.stdout.flush()
        while not ended.wait(1.0):
            pass
        if not stopping_since:  # a loop ended by itself: the others stop too
            stopping_since.append(time.monotonic())
            for loop in loops:
                loop.stop()
        late = _join(loops, deadline=stopping_since[0] + STOP_SECONDS)
    failed = [loop for loop in loops if loop.error is not None]
    for loop in failed:
        err_console.print(f"{loop.name}: {escape(_first_line(loop.error))}", highlight=False)
    if late:
        # A thread that did not end holds nothing that is lost: leases and claims expire.
        names = ", ".join(loop.name for loop in late)
        err_console.print(
            f"{names} did not stop in time: what it held is taken over once its lease runs out",
            highlight=False,
        )
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(1 if failed else 0)
    # The interpreter's last collections walk every object of the ~900 modules loaded:
    # seconds on a busy machine, against the ten the stop has. The process is ending;
    # frozen objects are skipped by them (and still freed by reference counts).
    gc.freeze()
    done = {loop.name: loop.result for loop in loops}
    console.print(
        f"spine standalone stopped after {done['worker']} run executions, "
        f"{done['check jobs']} check jobs, {done['scheduler']} schedule fires and "
        f"{done['alert delivery']} delivery attempts",
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        raise typer.Exit(1)


def _loops(
    services: Services,
    listening: socket.socket,
    *,
    host: str,
    port: int,
    workers: int | None,
    token: LoginToken,
) -> list[_Loop]:
    """Every loop of the process, built (not started) over ``services``."""
    from spine.cli.automation_worker import AutomationLoops
    from spine.cli.runs import run_check_jobs
    from spine.cli.serve import api_server
    from spine.orchestration.worker import Worker

    server = api_server(
        services,
        host=host,
        port=port,
        command="standalone",
        login_token=token,
        graceful_seconds=STOP_SECONDS / 2,
    )
    runner = services.runner()
    runner.stop_grace_seconds = _grace(services)
    concurrency = workers or services.settings.worker_concurrency
    worker = Worker(
        runner, concurrency=concurrency, poll_seconds=services.settings.worker_poll_seconds
    )
    # One outage back-off for every loop: an outage is reported once per process.
    wait = runner.database_wait
    checks = services.check_worker(database_wait=wait)
    scheduler = services.scheduler()
    scheduler.database_wait = wait
    delivery = services.alerting().worker()
    delivery.database_wait = wait
    automation = AutomationLoops(services, once=False, database_wait=wait)
    names = runner.workflows.names()
    workflows = f"{len(names)} workflow{'' if len(names) == 1 else 's'}" if names else "no --app"

    def serve() -> None:
        server.run(sockets=[listening])

    def check_jobs() -> int:
        run_check_jobs(checks, once=False)
        return checks.executed

    def automate() -> None:
        automation.start()
        automation.join()

    def stop_server() -> None:
        server.should_exit = True

    return [
        _Loop("api", f"the API and the dashboard on port {port}", serve, stop_server),
        _Loop(
            "worker",
            f"executes runs ({workflows}), {concurrency} at once",
            worker.run,
            worker.stop,
        ),
        _Loop("check jobs", "runs queued data-quality checks", check_jobs, checks.stop),
        _Loop(
            "scheduler",
            "fires due schedules, scheduled checks and rules",
            scheduler.run,
            scheduler.stop,
        ),
        _Loop("alert delivery", "sends alerts to their channels", delivery.run, delivery.stop),
        _Loop(
            "automation",
            "dispatches rules on watched tables; sends notifications",
            automate,
            automation.stop,
        ),
    ]


def _join(loops: list[_Loop], *, deadline: float) -> list[_Loop]:
    """Wait until ``deadline`` (monotonic) for the loops' threads; return those still alive."""
    for loop in loops:
        loop.thread.join(max(0.0, deadline - time.monotonic()))
    return [loop for loop in loops if loop.thread.is_alive()]


def _grace(services: Services) -> float:
    return min(services.settings.worker_stop_grace_seconds, STEP_GRACE_SECONDS)


def _upgrade_schema(services: Services) -> bool:
    """Bring the schema to the head of every tier; return whether anything was applied.

    Unlike other commands, on any database: the one process is all of spine, and it
    needs every tier (schedules' locks, automation).
    """
    migrator = services.migrator
    if all(status.current == status.head for status in migrator.status()):
        return False
    try:
        migrator.upgrade()
    except Exception:
        # Another process starting at the same moment may have applied it first.
        if not all(status.current == status.head for status in migrator.status()):
            raise
    return True


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before any loop starts; a port in use is one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            fail(f"port {port} on {escape(host)} is in use: pass another with --port")
        fail(escape(f"cannot listen on {host}:{port}: {error.strerror or error}"))
    # Listening now, so that the address printed next answers at once.
    sock.listen(2048)
    return sock


def _url_host(host: str) -> str:
    """The host to put in a URL: a wildcard address shown as this machine's loopback."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _first_line(error: BaseException | None) -> str:
    text = str(error) if error is not None else ""
    return text.splitlines()[0] if text else type(error).__name__
