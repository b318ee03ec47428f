"""Ctrl-C on ``spine run``: cancel the run it executes, or with ``--detach`` hand it back.

The first SIGINT or SIGTERM stops the runner (no step starts after it; a step attempt in
progress gets the stop grace, then is recorded interrupted) and, without ``--detach``,
records the cancellation request at once, with its reason, so that it holds even if a
second Ctrl-C ends the process before the run is cancelled: whichever worker takes the
run over then cancels it. Once the runner has handed the run back, the run no worker
holds is CANCELLED with that reason, and the command exits ``128 + signal`` (130).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import NoReturn

import typer
from rich.markup import escape

from spine.cli.output import err_console, print_json
from spine.orchestration.errors import RunFinished
from spine.orchestration.runner import WorkflowRunner

log = logging.getLogger(__name__)

_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class RunInterrupt:
    """What a stop signal does to the run ``spine run`` executes.

    Args:
        runner: The runner driving the run.
        run_id: The run.
        detach: Hand the run back to the workers instead of cancelling it.
    """

    def __init__(self, runner: WorkflowRunner, run_id: str, *, detach: bool) -> None:
        self.runner = runner
        self.run_id = run_id
        self.detach = detach
        self.received: signal.Signals | None = None
        self._request: threading.Thread | None = None

    @property
    def reason(self) -> str:
        """The reason recorded with the cancellation."""
        name = _NAMES.get(self.received, "a signal") if self.received else "a signal"
        return f"{name} in spine run"

    def stop(self, received: signal.Signals) -> str:
        """At the first signal (in its handler): stop the runner; return the line to print."""
        self.received = received
        self.runner.stopping.set()
        grace = f"a step gets up to {self.runner.stop_grace_seconds:g} s"
        if self.detach:
            return (
                f"stopping: handing run {self.run_id} back to the workers ({grace}); "
                "Ctrl-C again to stop now"
            )
        # A thread: the handler may have interrupted this thread inside a transaction.
        self._request = threading.Thread(target=self._ask, name="spine-run-cancel", daemon=True)
        self._request.start()
        return f"cancelling run {self.run_id} ({grace}); Ctrl-C again to stop now"

    def finish(self, *, as_json: bool) -> NoReturn:
        """After the runner returned: cancel (or leave) the run, say so, exit 128 + signal."""
        assert self.received is not None
        store = self.runner.store
        if self._request is not None:
            self._request.join()
        if self.detach:
            run = store.run_row(self.run_id)
            line = f"run {self.run_id} handed back ({run.status.value}): a worker continues it"
        else:
            try:
                # No worker holds the run now: it is CANCELLED in this call.
                run = store.request_cancel(self.run_id, self.reason)
            except RunFinished:
                run = store.run_row(self.run_id)
            if run.status.value == "CANCELLED":
                line = f"run {self.run_id} CANCELLED by {self.reason}"
            elif run.is_terminal:
                line = f"run {self.run_id} {run.status.value} before it could be cancelled"
            else:  # followed by its idempotency key, and another worker holds it
                line = f"run {self.run_id} will be cancelled at its next step"
        if as_json:
            print_json({"run": run.to_dict(), "interrupted_by": self.received.name})
        err_console.print(escape(line), highlight=False, soft_wrap=True)
        raise typer.Exit(128 + self.received)

    def _ask(self) -> None:
        try:
            self.runner.store.request_cancel(self.run_id, self.reason)
        except RunFinished:
            pass
        except Exception:  # finish() asks again, once the runner has let the run go
            log.exception("could not ask for run %s to be cancelled", self.run_id)
