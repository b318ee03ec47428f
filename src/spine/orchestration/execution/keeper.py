"""Keeps a run's lease alive while a worker executes it."""

from __future__ import annotations

import logging
import threading

from spine.core.storage.outage import DatabaseWait, is_outage
from spine.orchestration.models import Lease
from spine.orchestration.store import RunStore

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews a lease every third of its length, in a background thread.

    If a renewal finds the lease gone (the worker stalled past it and another worker took
    the run over), :attr:`lost` becomes true; the runner's next write then fails with
    ``LeaseLost`` and it stops, leaving the run to its new holder. A cancellation request
    seen by a renewal is signalled on the lease.

    While the database is unavailable a renewal cannot be made: the failure goes to
    ``database_wait`` (logged once for the whole worker) and the next tick tries again. If
    the outage outlasted the lease and another worker claimed the run meanwhile, the first
    renewal after it finds the lease gone, as above.
    """

    def __init__(
        self,
        store: RunStore,
        lease: Lease,
        lease_seconds: float,
        database_wait: DatabaseWait | None = None,
    ) -> None:
        self.store = store
        self.database_wait = database_wait or DatabaseWait("lease keeper", logger=log)
        self.lease = lease
        self.lease_seconds = lease_seconds
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"lease-{lease.run_id}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while not self._stop.wait(interval):
            try:
                if not self.store.renew_lease(self.lease, self.lease_seconds):
                    self.lost = True
                    # Finishing or parking the run releases it, possibly just before
                    # this keeper is stopped: only another holder means a loss.
                    holder = self.store.lease_owner(self.lease.run_id)
                    if holder is not None:
                        log.warning(
                            "lost the lease on run %s to %s",
                            self.lease.run_id,
                            holder,
                            extra={"run_id": self.lease.run_id},
                        )
                    return
            except Exception as error:  # a failed renewal is retried at the next tick
                if self.lost:
                    return
                if is_outage(error):
                    self.database_wait.failed(error)
                else:
                    log.exception(
                        "could not renew the lease on run %s",
                        self.lease.run_id,
                        extra={"run_id": self.lease.run_id},
                    )
