"""Scheduled rules fire through spine's scheduler, like check schedules do.

``spine scheduler`` calls :meth:`RuleScheduling.tick` on each pass (the scheduler's
``extra_ticks`` hook, wired in :mod:`spine.bootstrap`): every due scheduled rule selects
its entity's rows that match its conditions now, bounded by its ``max_rows``, and
appends one ``scheduled`` change per row to the change log, addressed to the rule
alone, in one transaction with moving its ``next_fire_at``
(:class:`~spine.automation.store.scheduled.ScheduledRuleStore`). The dispatcher then
runs the rule's actions once per row, as for any change. Fires missed while no
scheduler ran are coalesced into one.
"""

from __future__ import annotations

import logging
from datetime import datetime

from spine.automation.store.scheduled import Fired, ScheduledRuleStore

__all__ = ["RuleScheduling"]

log = logging.getLogger(__name__)


class RuleScheduling:
    """The scheduler's hook: fire the due scheduled rules of every workspace.

    Args:
        store: The scheduled rules' store.
        max_fires: Most rules fired in one pass (the rest wait for the next pass, which
            comes at once: the returned wake time is already due).
    """

    def __init__(self, store: ScheduledRuleStore, *, max_fires: int = 500) -> None:
        self.store = store
        self.max_fires = max_fires
        self.installed: bool | None = None
        self.fired: list[Fired] = []

    def tick(self) -> datetime | None:
        """Fire every due rule; return when the next one is due (``None``: none is)."""
        if self.installed is None:
            self.installed = self.store.installed()
        if not self.installed:
            return None
        for _ in range(self.max_fires):
            fired = self.store.fire_next()
            if fired is None:
                break
            log.info("scheduled rule %s fired: %s row(s)", fired.rule, fired.rows)
            self.fired.append(fired)
            del self.fired[:-100]  # the last fires, for whoever watches; not a history
        return self.store.next_due()
