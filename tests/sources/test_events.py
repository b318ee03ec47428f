"""``source.changed``: published once, in the transaction that records a changed fetch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from spine.core.events import EventType
from spine.core.storage import Database
from spine.sources import FetchStatus, SourceService
from tests.event_recorder import Abort, Aborter, Recorder, create_seen_table, seen

CHANGED = EventType.SOURCE_CHANGED
Make = Callable[..., SourceService]


@pytest.fixture
def otc(make_service: Make, tmp_path: Path) -> Path:
    path = tmp_path / "otc.psv"
    path.write_text("tierDescription|issueSymbolIdentifier\nNMS Tier 1|AAPL\n")
    make_service().add("otc", "file", {"path": str(path), "format": "psv"})
    return path


def test_a_changed_fetch_is_published_iff_it_is_recorded(
    db: Database, make_service: Make, otc: Path
) -> None:
    create_seen_table(db)
    with pytest.raises(Abort):
        make_service(listeners=[Recorder(CHANGED), Aborter(CHANGED)]).fetch("otc")
    assert make_service().fetches("otc") == [] and seen(db) == []

    result = make_service(listeners=[Recorder(CHANGED)]).fetch("otc", force=True)
    assert result.status is FetchStatus.SUCCESS
    source_id = make_service().get("otc").id
    assert seen(db) == [("source.changed", source_id, None)]


def test_an_unchanged_fetch_is_not_published(db: Database, make_service: Make, otc: Path) -> None:
    create_seen_table(db)
    service = make_service(listeners=[Recorder(CHANGED)])
    service.fetch("otc")
    assert service.fetch("otc").status is FetchStatus.UNCHANGED
    otc.write_text("tierDescription|issueSymbolIdentifier\nNMS Tier 1|MSFT\n")
    assert service.fetch("otc").status is FetchStatus.SUCCESS
    assert [event for event, _, _ in seen(db)] == ["source.changed", "source.changed"]
