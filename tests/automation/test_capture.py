"""Watching tables: triggers capture every change with its rows, in the change's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from spine.automation.capture import EntityService, entity_to_dict
from spine.automation.errors import EntityNotFound
from spine.automation.models import Change, EntityType, Operation
from spine.automation.store.changes import ChangeLog, cascade_depth
from spine.automation.store.entities import EntityStore, is_watched
from spine.core.clock import FrozenClock
from spine.core.errors import Conflict, InvalidInput
from spine.core.storage import Database
from spine.core.storage.schema.automation import automation_changes as changes_t
from spine.core.storage.schema.dq_platform import audit_log as audit_t
from spine.core.storage.types import format_timestamp
from spine.tenancy import DEFAULT_WORKSPACE_ID, OPERATOR, Actor, TenancyService
from spine.tenancy.store import TenancyStore

START = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def orders(db: Database) -> Iterator[str]:
    """A user's table ``orders`` in spine's database (PostgreSQL: schema ``public``)."""
    with db.write() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount NUMERIC)"
        )
    yield "orders"


@pytest.fixture
def entities(db: Database, clock: FrozenClock) -> EntityService:
    return EntityService(EntityStore(db, clock))


@pytest.fixture
def other(db: Database, clock: FrozenClock) -> Actor:
    """The CLI in another workspace."""
    tenancy = TenancyService(TenancyStore(db, clock), clock)
    tenancy.create_organization("acme")
    return Actor(workspace_id=tenancy.create_workspace("data", "acme", OPERATOR).id)


def _changes(db: Database) -> list[Change]:
    log = ChangeLog(db)
    log.sequence()
    return log.read(0, 1000)


def _sql(db: Database, *statements: str) -> None:
    with db.write() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_inserts_updates_and_deletes_are_captured_with_their_rows(
    db: Database, orders: str, entities: EntityService
) -> None:
    entity = entities.watch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10)")
    _sql(db, "UPDATE orders SET status = 'shipped' WHERE id = 1")
    _sql(db, "DELETE FROM orders WHERE id = 1")

    changes = _changes(db)
    assert [c.operation for c in changes] == [Operation.INSERT, Operation.UPDATE, Operation.DELETE]
    insert, update, delete = changes
    assert insert.old is None
    assert insert.new == {"id": 1, "status": "new", "amount": 10}
    assert update.old == {"id": 1, "status": "new", "amount": 10}
    assert update.new == {"id": 1, "status": "shipped", "amount": 10}
    assert delete.old == {"id": 1, "status": "shipped", "amount": 10}
    assert delete.new is None
    assert {c.table_name for c in changes} == {"orders"}
    assert {c.schema_name for c in changes} == {"public" if db.dialect == "postgresql" else None}
    assert {(c.depth, c.workspace_id, c.rule_id) for c in changes} == {(0, None, None)}
    assert entity.columns == ("id", "status", "amount")
    assert entity.entity_type is EntityType.TABLE and entity.is_active


def test_a_rolled_back_change_leaves_neither_the_row_nor_its_record(
    db: Database, orders: str, entities: EntityService
) -> None:
    entities.watch(orders)
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.exec_driver_sql("INSERT INTO orders VALUES (1, 'new', 10)")
        raise RuntimeError("the application gives up")

    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(changes_t)).scalar_one() == 0


def test_a_change_and_its_record_commit_together(
    db: Database, orders: str, entities: EntityService
) -> None:
    entities.watch(orders)
    with db.write() as conn:
        conn.exec_driver_sql("INSERT INTO orders VALUES (1, 'new', 10)")
        # Inside the transaction the record is already there, written by the trigger.
        assert conn.execute(sa.select(sa.func.count()).select_from(changes_t)).scalar_one() == 1
    assert len(_changes(db)) == 1


def test_an_update_that_changes_nothing_is_not_recorded(
    db: Database, orders: str, entities: EntityService
) -> None:
    entities.watch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10)")
    _sql(db, "UPDATE orders SET status = 'new' WHERE id = 1")
    _sql(db, "UPDATE orders SET amount = NULL WHERE id = 1")

    changes = _changes(db)
    assert [c.operation for c in changes] == [Operation.INSERT, Operation.UPDATE]
    assert changes[1].new == {"id": 1, "status": "new", "amount": None}


def test_unwatching_stops_capture_and_watching_again_resumes_it(
    db: Database, orders: str, entities: EntityService
) -> None:
    first = entities.watch(orders)
    unwatched = entities.unwatch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10)")
    assert _changes(db) == []
    assert not unwatched.is_active
    assert [e.is_active for e in entities.entities()] == [False]

    again = entities.watch(orders)
    _sql(db, "INSERT INTO orders VALUES (2, 'new', 10)")
    assert [c.new["id"] for c in _changes(db) if c.new] == [2]
    assert again.id == first.id and again.is_active


def test_watching_again_refreshes_the_trigger_with_new_columns(
    db: Database, orders: str, entities: EntityService
) -> None:
    entities.watch(orders)
    entities.watch(orders)  # idempotent
    _sql(db, "ALTER TABLE orders ADD COLUMN note TEXT")
    assert entities.watch(orders).columns == ("id", "status", "amount", "note")
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10, 'fragile')")

    [change] = _changes(db)
    assert change.new == {"id": 1, "status": "new", "amount": 10, "note": "fragile"}
    assert len(entities.entities()) == 1


def test_the_trigger_stays_while_another_workspace_watches_the_table(
    db: Database, orders: str, entities: EntityService, other: Actor
) -> None:
    theirs = EntityService(entities.store.acting_as(other))
    entities.watch(orders)
    theirs.watch(orders)
    entities.unwatch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10)")
    assert len(_changes(db)) == 1

    theirs.unwatch(orders)
    _sql(db, "INSERT INTO orders VALUES (2, 'new', 10)")
    assert len(_changes(db)) == 1
    with db.read() as conn:
        assert not is_watched(conn, orders, other.workspace_id)
        assert not is_watched(conn, orders, DEFAULT_WORKSPACE_ID)


def test_entities_belong_to_their_workspace(
    db: Database, orders: str, entities: EntityService, other: Actor
) -> None:
    entities.watch(orders)
    theirs = EntityService(entities.store.acting_as(other))
    assert theirs.entities() == []
    with pytest.raises(EntityNotFound):
        theirs.entity(orders)
    with pytest.raises(EntityNotFound):
        theirs.unwatch(orders)
    with db.read() as conn:
        assert is_watched(conn, orders, DEFAULT_WORKSPACE_ID)
        assert not is_watched(conn, orders, other.workspace_id)


def test_a_change_made_in_a_cascade_carries_its_depth(
    db: Database, orders: str, entities: EntityService
) -> None:
    entities.watch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10)")
    with db.write() as conn, cascade_depth(conn, 3):
        conn.exec_driver_sql("UPDATE orders SET status = 'held' WHERE id = 1")
    with db.write() as conn:  # the depth does not outlive its block
        conn.exec_driver_sql("UPDATE orders SET status = 'shipped' WHERE id = 1")

    assert [c.depth for c in _changes(db)] == [0, 3, 0]


def test_sqlite_records_times_in_spines_timestamp_format(
    db: Database, orders: str, entities: EntityService
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL stores TIMESTAMPTZ")
    entities.watch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10)")
    with db.read() as conn:
        raw = conn.exec_driver_sql("SELECT created_at FROM automation_changes").scalar_one()
    [change] = _changes(db)
    assert change.created_at is not None
    assert raw == format_timestamp(change.created_at)
    assert abs((datetime.now(UTC) - change.created_at).total_seconds()) < 60


def test_sqlite_blobs_are_captured_as_null_without_failing_the_write(
    db: Database, entities: EntityService
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL's to_jsonb turns bytea into text")
    _sql(db, "CREATE TABLE files (id INTEGER PRIMARY KEY, body BLOB)")
    entities.watch("files")
    with db.write() as conn:
        conn.exec_driver_sql("INSERT INTO files VALUES (1, ?)", (b"\x00\x01",))
    [change] = _changes(db)
    assert change.new == {"id": 1, "body": None}


def test_a_wide_table_is_captured_whole(db: Database, entities: EntityService) -> None:
    names = [f"c{i}" for i in range(150)]
    _sql(
        db,
        f"CREATE TABLE wide (id INTEGER PRIMARY KEY, {', '.join(f'{n} INTEGER' for n in names)})",
    )
    entities.watch("wide")
    _sql(db, f"INSERT INTO wide VALUES (1, {', '.join(str(i) for i in range(150))})")
    [change] = _changes(db)
    assert change.new == {"id": 1, **{n: i for i, n in enumerate(names)}}


def test_a_table_with_awkward_names_is_quoted(db: Database, entities: EntityService) -> None:
    _sql(db, 'CREATE TABLE "Odd Table" ("Key" INTEGER PRIMARY KEY, "it\'s" TEXT)')
    entities.watch("Odd Table")
    _sql(db, "INSERT INTO \"Odd Table\" VALUES (1, 'x')")
    [change] = _changes(db)
    assert change.table_name == "Odd Table"
    assert change.new == {"Key": 1, "it's": "x"}


def test_unknown_tables_and_spines_own_are_refused(db: Database, entities: EntityService) -> None:
    with pytest.raises(InvalidInput, match="no table 'nothing'"):
        entities.watch("nothing")
    with pytest.raises(InvalidInput, match="spine's own tables"):
        entities.watch("automation_changes")
    with pytest.raises(InvalidInput, match="spine's own tables"):
        entities.watch("core_schedules")
    with pytest.raises(EntityNotFound):
        entities.unwatch("nothing")
    with pytest.raises(EntityNotFound):
        entities.columns("nothing")
    assert entities.entities() == []


def test_spines_own_tables_are_watched_without_a_trigger(
    db: Database, entities: EntityService
) -> None:
    runs = entities.watch("core_workflow_runs")
    assert "status" in runs.columns and "workflow_name" in runs.columns
    entities.watch("incidents")
    assert entities.columns("incidents")[:3] == ("id", "check_id", "status")
    with db.read() as conn:
        assert is_watched(conn, "core_workflow_runs", DEFAULT_WORKSPACE_ID)
        names = _trigger_names(conn)
    assert names == []


def test_a_view_is_watched_for_scheduled_rules_without_a_trigger(
    db: Database, orders: str, entities: EntityService
) -> None:
    _sql(db, "CREATE VIEW open_orders AS SELECT id, status FROM orders WHERE status = 'new'")
    view = entities.watch("open_orders")
    assert view.entity_type is EntityType.VIEW
    assert view.columns == ("id", "status")


def test_watching_is_audited(db: Database, orders: str, entities: EntityService) -> None:
    entity = entities.watch(orders)
    entities.watch(orders)  # no change, no entry
    entities.unwatch(orders)
    with db.read() as conn:
        rows = conn.execute(
            sa.select(audit_t.c.action, audit_t.c.changes)
            .where(audit_t.c.entity_type == "automation_entity", audit_t.c.entity_id == entity.id)
            .order_by(audit_t.c.id)
        ).all()
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[1].changes == {"is_active": {"old": True, "new": False}}


def test_entity_json_uses_spec_field_names(
    db: Database, orders: str, entities: EntityService
) -> None:
    entity = entities.watch(orders)
    data = entity_to_dict(entities.entity(orders))
    assert data == {
        "id": str(entity.id),
        "name": "orders",
        "entity_type": "table",
        "schema_name": "public" if db.dialect == "postgresql" else None,
        "is_active": True,
        "created_date": START.isoformat(),
        "workspace_id": str(DEFAULT_WORKSPACE_ID),
        "columns": ["id", "status", "amount"],
    }


def test_postgres_watches_a_table_of_another_schema_and_wakes_listeners(
    db: Database, entities: EntityService
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no schemas")
    _sql(db, "CREATE SCHEMA sales", "CREATE TABLE sales.orders (id integer PRIMARY KEY, s text)")
    _sql(db, "CREATE TABLE orders (id integer PRIMARY KEY)")
    entity = entities.watch("orders", schema="sales")
    assert entity.schema_name == "sales"
    with pytest.raises(Conflict, match="schema 'sales'"):
        entities.watch("orders")  # public.orders: the workspace names entities by table
    with db.engine.connect() as listener:
        listener.exec_driver_sql("LISTEN spine_automation")
        listener.commit()
        _sql(db, "INSERT INTO sales.orders VALUES (1, 'a')")
        driver = listener.connection.driver_connection
        assert driver is not None
        notices = list(driver.notifies(timeout=5, stop_after=1))
    assert [(n.channel, n.payload) for n in notices] == [("spine_automation", "")]
    [change] = _changes(db)
    assert (change.schema_name, change.new) == ("sales", {"id": 1, "s": "a"})


def test_sqlite_refuses_a_schema(db: Database, orders: str, entities: EntityService) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL has schemas")
    with pytest.raises(InvalidInput, match="SQLite has no schema 'sales'"):
        entities.watch(orders, schema="sales")
    assert entities.watch(orders, schema="main").schema_name is None


def _trigger_names(conn: sa.Connection) -> list[str]:
    """The capture triggers in the database (PostgreSQL: by their table)."""
    if conn.dialect.name == "postgresql":
        query = "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = 'spine_capture'"
    else:
        query = "SELECT name FROM sqlite_master WHERE name LIKE 'spine_capture%'"
    return [str(n) for n in conn.exec_driver_sql(query).scalars()]


def test_an_update_of_a_rows_key_is_its_delete_and_an_insert(
    db: Database, orders: str, entities: EntityService
) -> None:
    entities.watch(orders)
    _sql(db, "INSERT INTO orders VALUES (1, 'new', 10), (2, 'new', 20)")
    _sql(db, "UPDATE orders SET id = id + 10, status = 'moved' WHERE id = 1")
    _sql(db, "UPDATE orders SET status = 'x'")  # a multi-row statement, keys kept

    changes = _changes(db)[2:]
    rekeyed = {(c.operation, c.old and c.old["id"], c.new and c.new["id"]) for c in changes[:2]}
    assert rekeyed == {(Operation.DELETE, 1, None), (Operation.INSERT, None, 11)}
    assert sorted((c.old or {})["id"] for c in changes[2:]) == [2, 11]
    assert {c.operation for c in changes[2:]} == {Operation.UPDATE}
    assert all(c.old and c.new and c.old["id"] == c.new["id"] for c in changes[2:])


def test_a_table_without_a_key_is_captured_row_by_row(
    db: Database, entities: EntityService
) -> None:
    _sql(db, "CREATE TABLE events (name TEXT, n INTEGER)")
    entities.watch("events")
    _sql(db, "INSERT INTO events VALUES ('a', 1), ('b', 2)")
    _sql(db, "UPDATE events SET n = n + 1")
    _sql(db, "UPDATE events SET n = n")  # nothing changed
    _sql(db, "DELETE FROM events WHERE name = 'a'")

    changes = _changes(db)
    assert [c.operation for c in changes] == [Operation.INSERT] * 2 + [Operation.UPDATE] * 2 + [
        Operation.DELETE
    ]
    updates = sorted((c.old["n"], c.new["n"]) for c in changes[2:4] if c.old and c.new)
    assert updates == [(1, 2), (2, 3)]
    assert changes[4].old == {"name": "a", "n": 2}
