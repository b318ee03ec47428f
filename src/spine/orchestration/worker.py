"""The worker: claims due runs and executes them, a bounded number at a time.

Runs are claimed from the database (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write
lock on SQLite), so any number of worker processes can share one database. When nothing
is due the worker sleeps until the next parked run wakes or the poll interval ends,
whichever is first. On SIGTERM or SIGINT it stops claiming, and each run it holds is
released at its next step boundary for another worker to continue.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

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
            active: dict[Future[WorkflowRun | None], Claim] = {}
            while not self.stop_event.is_set():
                while len(active) < self.concurrency and not self.stop_event.is_set():
                    claim = self.runner.claim(workflow_names=names)
                    if claim is None:
                        break
                    log.info(
                        "claimed run %s (%s)",
                        claim.run.run_id,
                        claim.run.workflow_name,
                        extra={"run_id": claim.run.run_id},
                    )
                    active[pool.submit(self.runner.execute, claim)] = claim
                if not active:
                    if once:
                        break
                    self.stop_event.wait(self._idle_seconds())
                    continue
                done, _ = wait(active, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future, active.pop(future))
            for future, claim in active.items():
                self._collect(future, claim)
        return self.executed - executed_before

    def _collect(self, future: Future[WorkflowRun | None], claim: Claim) -> None:
        self.executed += 1
        run_id = claim.run.run_id
        try:
            result = future.result()
        except Exception:  # the run stays leased, expires, and is resumed elsewhere
            log.exception(
                "run %s failed inside the worker; its lease will expire",
                run_id,
                extra={"run_id": run_id},
            )
            return
        if result is None:
            log.info(
                "run %s (%s) parked or released",
                run_id,
                claim.run.workflow_name,
                extra={"run_id": run_id},
            )
            return
        self.finished.append(result)
        seconds = result.duration_seconds
        log.info(
            "run %s (%s) %s in %s",
            run_id,
            result.workflow_name,
            result.status.value,
            "?" if seconds is None else f"{seconds:.3f}s",
            extra={"run_id": run_id},
        )

    def _idle_seconds(self) -> float:
        wake = self.runner.store.next_wake()
        if wake is None:
            return self.poll_seconds
        delay = (wake - self.runner.clock.now()).total_seconds()
        return max(0.01, min(self.poll_seconds, delay))
