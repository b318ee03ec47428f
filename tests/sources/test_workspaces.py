"""Sources and connections confined to a workspace: names, cache, connections, events, audit."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spine.core.clock import FrozenClock
from spine.core.events import Event, EventType
from spine.core.storage import Database
from spine.sources import ConnectionNotFound, FetchStatus, SourceNotFound, SourceService
from spine.sources.store import Ref
from spine.tenancy import Actor, TenancyService
from spine.tenancy.store import TenancyStore

Make = Callable[..., SourceService]


class Events:
    """Keeps every ``source.changed`` it is given."""

    event_types = frozenset({EventType.SOURCE_CHANGED})

    def __init__(self) -> None:
        self.events: list[Event] = []

    def wants(self, event: Event) -> bool:
        return True

    def handle(self, conn: Any, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def tenancy(db: Database, clock: FrozenClock) -> TenancyService:
    return TenancyService(TenancyStore(db, clock), clock)


def _workspace(tenancy: TenancyService, org: str) -> Actor:
    tenancy.create_organization(org)
    return Actor(workspace_id=tenancy.create_workspace("data", org, Actor()).id)


def _warehouse(path: Path, rows: int) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    return path


QUERY = {"connection": "warehouse", "query": "SELECT n FROM t", "cache_ttl_seconds": 600}


def test_same_names_in_two_workspaces_read_their_own_data_and_cache(
    make_service: Make, tenancy: TenancyService, tmp_path: Path
) -> None:
    events = Events()
    shared = make_service(listeners=[events])
    a = shared.acting_as(_workspace(tenancy, "acme"))
    b = shared.acting_as(_workspace(tenancy, "globex"))
    for service, rows in ((a, 3), (b, 5)):
        database = _warehouse(tmp_path / f"{rows}.db", rows)
        service.connections.add("warehouse", dialect="sqlite", database=str(database))
        service.add("otc", "database", QUERY)
    for service, rows in ((a, 3), (b, 5)):
        assert service.fetch("otc").record_count == rows
    for service, rows in ((a, 3), (b, 5)):
        again = service.fetch("otc")  # a fresh cache entry: served from the cache
        assert (again.status, again.record_count) == (FetchStatus.UNCHANGED, rows)
    assert [e.workspace_id for e in events.events] == [
        str(a.actor.workspace_id),
        str(b.actor.workspace_id),
    ]
    assert len(a.cache.entries()) == len(b.cache.entries()) == 1
    assert a.cache.entries()[0].source_id == a.get("otc").id
    a.cache.evict(everything=True)
    assert (a.cache.entries(), len(b.cache.entries())) == ([], 1)
    assert [s.workspace_id for s in a.list_sources()] == [a.actor.workspace_id]
    assert shared.list_sources() == []  # the default workspace has none


def test_another_workspaces_objects_behave_as_missing_ones(
    make_service: Make, tenancy: TenancyService, tmp_path: Path
) -> None:
    shared = make_service()
    a = shared.acting_as(_workspace(tenancy, "acme"))
    b = shared.acting_as(_workspace(tenancy, "globex"))
    path = tmp_path / "f.psv"
    path.write_text("a|b\n1|2\n")
    source = a.add("otc", "file", {"path": str(path)})
    connection = a.connections.add("warehouse", dialect="sqlite", database="w.db")
    for ref in ("otc", Ref.id(source.id)):
        with pytest.raises(SourceNotFound) as missing:
            b.get(ref)
        assert "see `spine sources list`" in str(missing.value)
        for call in (b.fetch, b.remove):
            with pytest.raises(SourceNotFound):
                call(ref)
        with pytest.raises(SourceNotFound):
            b.update(ref, domain="x")
    for ref in ("warehouse", Ref.id(connection.id)):
        for call in (b.connections.get, b.connections.test, b.connections.remove):
            with pytest.raises(ConnectionNotFound):
                call(ref)
    assert a.get("otc").enabled and a.fetch("otc").ok
    b.add("stolen", "database", {"connection": "warehouse", "query": "SELECT 1"})
    failed = b.fetch("stolen")
    assert (failed.status, failed.error_category) == (FetchStatus.FAILED, "CONFIGURATION")
    with pytest.raises(SourceNotFound):
        b.fetches(Ref.id(source.id))
    assert b.fetches("otc") == []  # by name: the history of no source of b


def test_audit_rows_hide_secret_references(
    make_service: Make, tenancy: TenancyService, tmp_path: Path
) -> None:
    actor = _workspace(tenancy, "acme")
    service = make_service().acting_as(actor)
    config = {"url": "https://example.com/x", "token_ref": "env:SECRET_TOKEN_NAME"}
    service.add("api", "http", config)
    service.update("api", config={**config, "token_ref": "env:OTHER_NAME"})
    service.connections.add(
        "w", dialect="postgresql", database="dw", host="db", password_ref="env:PW_NAME"
    )
    entries = [e for e in tenancy.audit_entries(actor, limit=10) if e.entity_type != "workspace"]
    text = repr([e.changes for e in entries])
    for name in ("SECRET_TOKEN_NAME", "OTHER_NAME", "PW_NAME"):
        assert name not in text
    update = next(e for e in entries if e.entity_type == "source" and e.action.value == "update")
    assert update.changes == {"config_json.token_ref": {"old": "[secret]", "new": "[secret]"}}
    assert [e.entity_type for e in entries] == ["connection", "source", "source"]
    assert all(e.api_key_id is None and e.workspace_id == actor.workspace_id for e in entries)


def test_a_refused_change_writes_no_audit_row(make_service: Make, tenancy: TenancyService) -> None:
    actor = _workspace(tenancy, "acme")
    service = make_service().acting_as(actor)
    service.add("api", "http", {"url": "https://example.com/x"})
    with pytest.raises(Exception, match="http"):
        service.update("api", config={"url": "ftp://example.com/x"})
    with pytest.raises(Exception, match="exists already"):
        service.add("api", "http", {"url": "https://example.com/y"})
    service.update("api", domain=None)  # nothing changes: nothing audited
    assert len(tenancy.audit_entries(actor, entity_type="source", limit=10)) == 1
    assert uuid.UUID(str(actor.workspace_id))
