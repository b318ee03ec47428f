"""The worker: claims due runs and executes them, a bounded number at a time.

Runs are claimed from the database (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write
lock on SQLite), so any number of worker processes can share one database. When nothing
is due the worker sleeps until the next parked run wakes or the poll interval ends,
whichever is first. On SIGTERM or SIGINT it stops claiming, and each run it holds is
released at its next step boundary for another worker to continue.

When the database is unavailable or locked (:func:`~spine.core.storage.outage.is_outage`)
the worker does not exit: it backs off and looks again, logging the outage once when it
starts and once when it ends (:class:`~spine.core.storage.outage.DatabaseWait`, shared
with the runner's executions and lease keepers).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial

from spine.core.storage.outage import is_outage
from spine.orchestration.history.types import WorkflowRun
from spine.orchestration.models import Claim
from spine.orchestration.runner import WorkflowRunner

log = logging.getLogger(__name__)


class Worker:
    """Executes PENDING and resumable runs.

    Args:
        runner: Executes the runs this worker claims.
        concurrency: Runs executed at the same time (threads).
        poll_seconds: Longest sleep between looks for new runs.
    """

    def __init__(
        self, runner: WorkflowRunner, *, concurrency: int = 4, poll_seconds: float = 1.0
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.runner = runner
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self.executed = 0
        self.finished: list[WorkflowRun] = []

    def stop(self) -> None:
        """Stop claiming; runs in progress are released at their next step."""
        self.stop_event.set()
        self.runner.stopping.set()

    def run(self, *, once: bool = False) -> int:
        """Work until stopped (or, with ``once``, until nothing is due).

        Returns the number of run executions (to the end or to a park) of this call.
        """
        executed_before = self.executed
        names = self.runner.workflows.names()
        if not names:
            log.warning("no workflow is registered (pass --app or set SPINE_APP): nothing to run")
        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="spine-worker"
        ) as pool:
            active: set[Future[WorkflowRun | None]] = set()
            while not self.stop_event.is_set():
                while len(active) < self.concurrency and not self.stop_event.is_set():
                    try:
                        claim = self.runner.claim(workflow_names=names)
                    except Exception as error:
                        if not is_outage(error) or once:
                            raise
                        self.runner.database_wait.pause(error, self.stop_event)
                        break
                    self.runner.database_wait.succeeded()
                    if claim is None:
                        break
                    log.info("claimed run %s (%s)", claim.run.run_id, claim.run.workflow_name)
                    active.add(pool.submit(self._execute, claim))
                if not active:
                    if once:
                        break
                    if not self.runner.database_wait.down:
                        self.stop_event.wait(self._idle_seconds())
                    continue
                done, active = wait(active, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future)
            for future in active:
                self._collect(future)
        return self.executed - executed_before

    def _execute(self, claim: Claim) -> WorkflowRun | None:
        """Execute a claimed run; if the database drops it, hand it back once it answers.

        What the run did is its step rows: the run is resumed by replay. Its lease is
        ended at once (renewed for 0 s) rather than left to expire, so that it goes on as
        soon as the database answers, and rather than released, so that the next claim
        records the attempt that was under way as interrupted (and runs it again, as
        after a crash). If the worker is stopped first, the lease expires instead.
        """
        try:
            return self.runner.execute(claim)
        except Exception as error:
            if not is_outage(error):
                raise
            self.runner.database_wait.failed(error)
        log.info("run %s: the database is unavailable; handing it back", claim.run.run_id)
        expire_now = partial(self.runner.store.renew_lease, claim.lease, 0.0)
        self.runner.database_wait.call(expire_now, self.stop_event)
        return None

    def _collect(self, future: Future[WorkflowRun | None]) -> None:
        self.executed += 1
        try:
            result = future.result()
        except Exception:  # the run stays leased, expires, and is resumed elsewhere
            log.exception("a run failed inside the worker; its lease will expire")
            return
        if result is not None:
            self.finished.append(result)

    def _idle_seconds(self) -> float:
        try:
            wake = self.runner.store.next_wake()
        except Exception as error:
            if not is_outage(error):
                raise
            return self.runner.database_wait.failed(error)
        if wake is None:
            return self.poll_seconds
        delay = (wake - self.runner.clock.now()).total_seconds()
        return max(0.01, min(self.poll_seconds, delay))
