"""The fetch history of a page of sources at once, and which sources are stale.

A listing of sources shows each one's recent fetches (hash, size, status); reading them
source by source would be a query per row. One statement reads them all: a
``UNION ALL`` of one bounded branch per source, each newest first from the
``(source_id, started_at)`` index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spine.core.storage.schema.sources import core_source_fetches, core_sources
from spine.sources.models import FetchStatus
from spine.sources.store.workspace import WorkspaceStore

#: The outcomes that confirm a source's content is current.
CONFIRMED = (FetchStatus.SUCCESS.value, FetchStatus.UNCHANGED.value)


class FetchHistoryRows(WorkspaceStore):
    """The fetch-history part of :class:`~spine.sources.store.SourceStore`."""

    def latest_fetches(
        self, source_ids: Sequence[str], per_source: int
    ) -> dict[str, list[dict[str, Any]]]:
        """The latest ``per_source`` fetch rows of each of the workspace's ``source_ids``.

        Returns:
            For every id asked for, its fetch rows newest first (none for a source of
            another workspace, or an unknown id).
        """
        ids = list(dict.fromkeys(source_ids))
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if not ids or per_source < 1:
            return found
        f, s = core_source_fetches, core_sources

        def branch(source_id: str) -> sa.Select[Any]:
            newest = (
                sa.select(f)
                .where(f.c.source_id == source_id)
                .order_by(f.c.started_at.desc(), f.c.id.desc())
                .limit(per_source)
                .subquery()
            )
            return sa.select(newest)

        def work(conn: sa.Connection) -> list[dict[str, Any]]:
            mine = sa.select(s.c.id).where(s.c.workspace_id == self.workspace_id, s.c.id.in_(ids))
            owned = [str(i) for i in conn.execute(mine).scalars()]
            if not owned:
                return []
            union = sa.union_all(*(branch(i) for i in owned)).subquery()
            query = sa.select(union).order_by(union.c.started_at.desc(), union.c.id.desc())
            return [dict(r._mapping) for r in conn.execute(query).all()]

        for row in self.db.run_read(work):
            found[str(row["source_id"])].append(row)
        return found

    def stale_sources(self, cutoff: datetime, limit: int) -> list[dict[str, Any]]:
        """The workspace's enabled sources not confirmed current since ``cutoff``.

        A source is stale when its newest SUCCESS or UNCHANGED fetch started before
        ``cutoff``, or when it has none and was created before ``cutoff``. Each source's
        newest confirmed fetch is read from the ``(source_id, started_at)`` index.

        Returns:
            Up to ``limit`` rows (``id``, ``name``, ``source_type``, ``created_at``,
            ``last_confirmed_at``, ``None`` when never), longest stale first.
        """
        f, s = core_source_fetches, core_sources
        last_confirmed = (
            sa.select(sa.func.max(f.c.started_at))
            .where(f.c.source_id == s.c.id, f.c.status.in_(CONFIRMED))
            .scalar_subquery()
        )
        listed = (
            sa.select(
                s.c.id,
                s.c.name,
                s.c.source_type,
                s.c.created_at,
                last_confirmed.label("last_confirmed_at"),
            )
            .where(s.c.workspace_id == self.workspace_id, s.c.enabled.is_(True))
            .subquery()
        )
        query = (
            sa.select(listed)
            .where(
                sa.or_(
                    listed.c.last_confirmed_at < cutoff,
                    sa.and_(listed.c.last_confirmed_at.is_(None), listed.c.created_at < cutoff),
                )
            )
            .order_by(
                sa.func.coalesce(listed.c.last_confirmed_at, listed.c.created_at),
                listed.c.name,
            )
            .limit(limit)
        )
        return self.db.run_read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
