"""The worker: claims due runs and executes them, a bounded number at a time.

Runs are claimed from the database (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write
lock on SQLite), so any number of worker processes can share one database. When nothing
is due the worker sleeps until the next parked run wakes or the poll interval ends,
whichever is first. Told to stop (:meth:`Worker.stop`), it stops claiming; each run it
holds is released at its next step boundary for another worker to continue, and a step
attempt in progress gets the runner's stop grace to end before it is recorded interrupted
and its run released.

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

#: ``run(once=True)`` waits for a run it executed that parked (a retry's back-off, a
#: short wait step) when the park ends within this many seconds; longer parks are left.
ONCE_PATIENCE_SECONDS = 10.0


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
        self.in_progress = 0
        self._parked: set[str] = set()

    def stop(self) -> None:
        """Stop claiming; runs in progress are released at their next step.

        Only sets events, so a signal handler may call it.
        """
        self.stop_event.set()
        self.runner.stopping.set()

    def run(self, *, once: bool = False) -> int:
        """Work until stopped (or, with ``once``, until nothing is due).

        With ``once``, a run this call executed that parked until within
        :data:`ONCE_PATIENCE_SECONDS` is waited for and continued, so a retry's back-off
        or a short wait does not leave it half done.

        Returns the number of run executions (to the end or to a park) of this call.
        """
        executed_before = self.executed
        self._parked.clear()
        names = self.runner.workflows.names()
        if not names:
            log.warning("no workflow is registered (pass --app or set SPINE_APP): nothing to run")
        with ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="spine-worker"
        ) as pool:
            active: dict[Future[WorkflowRun | None], Claim] = {}
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
                    log.info(
                        "claimed run %s (%s)",
                        claim.run.run_id,
                        claim.run.workflow_name,
                        extra={"run_id": claim.run.run_id},
                    )
                    future = pool.submit(self._execute, claim)
                    future.add_done_callback(partial(self._note, claim.run.run_id))
                    active[future] = claim
                self.in_progress = len(active)
                if not active:
                    if not once:
                        if not self.runner.database_wait.down:  # an outage waited already
                            self.stop_event.wait(self._idle_seconds())
                        continue
                    pause = self._once_pause()
                    if pause is None:
                        break
                    self.runner.pause(pause)  # through the clock: a test's clock advances
                    continue
                done, _ = wait(active, timeout=self.poll_seconds, return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future, active.pop(future))
            for future, claim in active.items():
                self._collect(future, claim)
            self.in_progress = 0
        return self.executed - executed_before

    def left(self) -> str:
        """What is left to do, in words: ``2 runs parked until ..., 1 run held by ...``."""
        kinds = self.runner.store.unfinished(self.runner.workflows.names())
        words = {
            "parked": "parked until {wake}",
            "due": "due now",
            "held": "held by other workers",
            "other": "of workflows this worker does not know",
        }
        parts = []
        for kind, text in words.items():
            count, wake = kinds.get(kind, (0, None))
            if count:
                stamp = wake.strftime("%Y-%m-%dT%H:%M:%SZ") if wake is not None else "?"
                noun = "run" if count == 1 else "runs"
                parts.append(f"{count} {noun} " + text.format(wake=stamp))
        return ", ".join(parts) if parts else "nothing"

    def _note(self, run_id: str, future: Future[WorkflowRun | None]) -> None:
        """Remember the runs this worker parked, for ``once`` to wait for a short park."""
        if not future.cancelled() and future.exception() is None and future.result() is None:
            self._parked.add(run_id)
        else:
            self._parked.discard(run_id)

    def _once_pause(self) -> float | None:
        """With ``once`` and nothing due: how long to wait for a run it parked, or None."""
        now = self.runner.clock.now()
        soonest: float | None = None
        for run_id in list(self._parked):
            wake = self.runner.store.wake_at_of(run_id)
            if wake is None:  # finished, or another worker holds it
                self._parked.discard(run_id)
                continue
            delay = (wake - now).total_seconds()
            if delay <= ONCE_PATIENCE_SECONDS:
                soonest = delay if soonest is None else min(soonest, delay)
        return None if soonest is None else max(0.01, soonest)

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
