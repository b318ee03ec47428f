"""Check jobs in the existing processes: the scheduler queues them, the worker runs them.

``spine scheduler`` calls :meth:`CheckScheduling.tick` on each of its passes (a generic
hook of the scheduler, wired by bootstrap): due schedules become queued jobs
(``triggered_by = "schedule"``) and the next due time is returned so the scheduler
sleeps no longer than that. ``spine worker`` runs a :class:`JobWorker` beside its
workflow runs: it claims due jobs by whole tables (durably, with a lease)
and runs them in one scan; each job's result, its status and its incident change are
recorded in one transaction, only while the worker still holds the claim.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime

from spine.core.errors import SpineError
from spine.core.ids import new_id
from spine.core.storage.outage import DatabaseWait, is_outage
from spine.quality.models import CheckDefinition
from spine.quality.runner import CheckRunner
from spine.quality.store import JobClaim, QualityStore

log = logging.getLogger(__name__)


def worker_identity() -> str:
    """``host:pid:random``, written into ``jobs.claimed_by``."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"


class CheckScheduling:
    """The scheduler's hook: queue the jobs of due check schedules.

    Args:
        store: The quality store (its queuing works across workspaces).
        batch_size: Schedules queued per transaction.
    """

    def __init__(self, store: QualityStore, *, batch_size: int = 2000) -> None:
        self.store = store
        self.batch_size = batch_size
        self.installed: bool | None = None

    def tick(self) -> datetime | None:
        """Queue every due schedule's job; return when the next one is due."""
        if self.installed is None:
            self.installed = self.store.installed()
        if not self.installed:
            return None
        while len(self.store.queue_due(limit=self.batch_size)) >= self.batch_size:
            pass
        return self.store.next_due()


class JobWorker:
    """Claims and runs check jobs, a batch of whole tables at a time (one scan each).

    Args:
        store: The quality store.
        runner: Runs the claimed checks (one scan per table).
        lease_seconds: How long a claim holds; longer than a scan may take.
        max_attempts: Claims of one job before it is failed.
        poll_seconds: Sleep when no job is due.
        batch_size: The oldest due jobs claimed together, with every other due job of
            their tables.
        worker_id: Identity in ``claimed_by`` (default :func:`worker_identity`).
    """

    def __init__(
        self,
        store: QualityStore,
        runner: CheckRunner,
        *,
        lease_seconds: float = 300.0,
        max_attempts: int = 3,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.worker_id = worker_id or worker_identity()
        self.stop_event = threading.Event()
        self.database_wait = DatabaseWait("check worker", logger=log)
        self.executed = 0

    def stop(self) -> None:
        """Stop after the current batch (only sets an event: signal-safe)."""
        self.stop_event.set()

    def work_once(self) -> int:
        """Claim a batch of due jobs (whole tables) and run them; return how many."""
        claimed = self.store.claim_jobs(
            self.worker_id,
            lease_seconds=self.lease_seconds,
            max_attempts=self.max_attempts,
            limit=self.batch_size,
        )
        if not claimed:
            return 0
        claims = {
            check.id: JobClaim(job_id=job.id, claimed_by=self.worker_id) for job, check in claimed
        }
        checks = [check for _, check in claimed]
        try:
            self.runner.run(checks, jobs=claims, on_lost=self._lost)
        except Exception as error:
            if is_outage(error):
                raise  # the claims expire; another pass (or worker) runs them
            log.exception("check jobs of %s failed outside any check", checks[0].table_label)
            text = f"{type(error).__name__}: {error}".splitlines()[0]
            for claim in claims.values():
                self.store.fail_job(claim.job_id, self.worker_id, text)
        self.executed += len(claimed)
        return len(claimed)

    def _lost(self, check: CheckDefinition, error: SpineError) -> None:
        log.warning("check %s: %s", check.name, error)

    def drain(self) -> int:
        """Run batches until none is due (or stopped); return the jobs claimed."""
        total = 0
        while not self.stop_event.is_set():
            done = self.work_once()
            if not done:
                break
            total += done
        return total

    def run(self, *, once: bool = False) -> int:
        """Work until stopped (with ``once``: until nothing is due); return jobs claimed."""
        before = self.executed
        installed = self.database_wait.call(self.store.installed, self.stop_event)
        if not installed:
            log.info("no quality tables (basic tier): the worker runs no check jobs")
            return 0
        while not self.stop_event.is_set():
            try:
                self.drain()
            except Exception as error:
                if once:
                    raise
                if is_outage(error):
                    self.database_wait.pause(error, self.stop_event)
                else:
                    # A bug must not stop the checks for good: the claims expire and
                    # are retried (at most max_attempts times), and so is the loop.
                    log.exception("check jobs: a batch failed; going on")
                    self.stop_event.wait(self.poll_seconds)
                continue
            self.database_wait.succeeded()
            if once:
                break
            self.stop_event.wait(self.poll_seconds)
        return self.executed - before
