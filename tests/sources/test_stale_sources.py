"""Which sources are stale: not confirmed current (SUCCESS or UNCHANGED) since a cutoff,
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from spine.core.clock import FrozenClock
from spine.sources import SourceService
from spine.tenancy import Actor


def _file(tmp_path: Path, name: str) -> dict[str, str]:
    path = tmp_path / f"{name}.csv"
    path.write_text("a,b\n1,2\n")
    return {"path": str(path)}


def test_stale_sources_are_those_without_a_confirmed_fetch_since_the_cutoff(
    sources: SourceService, clock: FrozenClock, tmp_path: Path
) -> None:
    old = sources.add("old", "file", _file(tmp_path, "old"))
    sources.fetch("old")
    never = sources.add("never", "file", _file(tmp_path, "never"))
    broken = sources.add("broken", "file", _file(tmp_path, "broken"))
    sources.fetch("broken")
    paused = sources.add("paused", "file", _file(tmp_path, "paused"))
    sources.set_enabled("paused", False)
    clock.advance(3 * 3600)
    cutoff = clock.now() - timedelta(hours=1)
    # A failed fetch after the cutoff does not make a source current again.
    (tmp_path / "broken.csv").unlink()
    sources.fetch("broken")
    fresh = sources.add("fresh", "file", _file(tmp_path, "fresh"))
    sources.fetch("fresh")
    unchanged = sources.add("unchanged", "file", _file(tmp_path, "unchanged"))
    sources.fetch("unchanged")
    clock.advance(60)
    sources.fetch("unchanged")

    stale = sources.stale_sources(cutoff)

    names = [row["name"] for row in stale]
    assert set(names) == {"old", "never", "broken"}
    assert paused.id not in {row["id"] for row in stale}
    assert fresh.id not in {row["id"] for row in stale} and unchanged.id not in names
    by_name = {row["name"]: row for row in stale}
    assert by_name["never"]["last_confirmed_at"] is None
    assert by_name["old"]["last_confirmed_at"] < cutoff
    assert {old.id, never.id, broken.id} == {row["id"] for row in stale}
    assert len(sources.stale_sources(cutoff, limit=2)) == 2


def test_another_workspaces_sources_are_never_stale_here(
    sources: SourceService, clock: FrozenClock, tmp_path: Path
) -> None:
    sources.add("mine", "file", _file(tmp_path, "mine"))
    clock.advance(7200)
    elsewhere = sources.acting_as(Actor(workspace_id=uuid.uuid4()))
    assert elsewhere.stale_sources(clock.now()) == []
    assert [r["name"] for r in sources.stale_sources(clock.now())] == ["mine"]
