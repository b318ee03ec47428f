"""The latest fetches of a page of sources in one statement (the dashboard's sources
page), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.sources import SourceService
from spine.tenancy import Actor, TenancyService
from spine.tenancy.store import TenancyStore
from tests.counting import selects, statements


def _file(tmp_path: Path, name: str) -> dict[str, str]:
    path = tmp_path / f"{name}.csv"
    path.write_text("a,b\n1,2\n")
    return {"path": str(path)}


def test_each_source_gets_its_latest_fetches_newest_first_in_one_statement(
    db: Database, sources: SourceService, clock: FrozenClock, tmp_path: Path
) -> None:
    busy = sources.add("busy", "file", _file(tmp_path, "busy"))
    quiet = sources.add("quiet", "file", _file(tmp_path, "quiet"))
    never = sources.add("never", "file", _file(tmp_path, "never"))
    for _ in range(4):
        clock.advance(60)
        sources.fetch("busy")
    sources.fetch("quiet")
    unknown = "01JNOSUCHSOURCE00000000000"
    with statements(db) as sent:
        latest = sources.latest_fetches([busy.id, quiet.id, never.id, unknown], 3)
    # One to keep the workspace's ids, one for every source's fetches.
    assert len(selects(sent)) == 2
    assert list(latest) == [busy.id, quiet.id, never.id, unknown]
    assert [r["id"] for r in latest[busy.id]] == [r["id"] for r in sources.fetches("busy", 3)]
    assert [r["status"] for r in latest[busy.id]] == ["UNCHANGED"] * 3
    assert [r["status"] for r in latest[quiet.id]] == ["SUCCESS"]
    assert latest[never.id] == [] and latest[unknown] == []
    assert sources.latest_fetches([], 3) == {}


def test_another_workspace_gets_no_fetches_of_ours(
    db: Database, sources: SourceService, clock: FrozenClock, tmp_path: Path
) -> None:
    ours = sources.add("ours", "file", _file(tmp_path, "ours"))
    sources.fetch("ours")
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("globex")
    other = tenancy.create_workspace("data", "globex", Actor()).id
    theirs = sources.acting_as(Actor(workspace_id=other))
    assert theirs.latest_fetches([ours.id], 5) == {ours.id: []}
    assert len(sources.latest_fetches([ours.id], 5)[ours.id]) == 1
