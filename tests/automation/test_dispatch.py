"""The dispatcher and executor in process: keys, executions, order, dependencies, depth."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from spine.automation.dispatcher import Dispatcher
from spine.automation.executions import ExecutionService, execution_to_dict
from spine.automation.models import (
    ExecutionStatus,
    FieldCondition,
    Operator,
)
from spine.automation.store.changes import ChangeLog
from spine.automation.store.executions import ExecutionStore
from spine.automation.store.results import run_once, stored_result
from spine.core.clock import FrozenClock
from spine.core.storage import Database
from spine.tenancy.models import Actor
from tests.automation.dispatch_support import (
    AT,
    acted,
    acted_rows,
    build_dispatcher,
    create_acted,
    make_rule,
    update,
)

SHIPPED = (FieldCondition(field_name="status", operator=Operator.CHANGED_TO, value="shipped"),)


def test_run_once_does_the_work_once_and_returns_the_kept_result(db: Database) -> None:
    create_acted(db)
    calls = []

    def work(conn: sa.Connection) -> dict[str, int]:
        calls.append(1)
        conn.execute(
            acted.insert().values(idempotency_key="k", rule="r", action="a", position=len(calls))
        )
        return {"n": len(calls)}

    assert run_once(db, "k", work, at=AT) == ({"n": 1}, False)
    assert run_once(db, "k", work, at=AT) == ({"n": 1}, True)
    assert len(calls) == 1
    assert stored_result(db, "k") == {"n": 1}
    assert len(acted_rows(db)) == 1


def test_run_once_keeps_nothing_when_the_work_fails(db: Database) -> None:
    def boom(conn: sa.Connection) -> dict[str, int]:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        run_once(db, "k", boom, at=AT)
    assert stored_result(db, "k") is None
    assert run_once(db, "k", lambda conn: {"ok": 1}, at=AT) == ({"ok": 1}, False)


def test_run_once_from_many_threads_does_the_work_once(db: Database) -> None:
    create_acted(db)
    start = threading.Barrier(4)
    results: list[bool] = []

    def work(conn: sa.Connection) -> dict[str, str]:
        conn.execute(acted.insert().values(idempotency_key="k", rule="r", action="a", position=1))
        return {"by": threading.current_thread().name}

    def claim() -> None:
        start.wait(timeout=10)
        results.append(run_once(db, "k", work, at=AT)[1])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True, True, True]
    assert len(acted_rows(db)) == 1


def test_a_matching_change_runs_the_rule_and_moves_the_cursor(db: Database) -> None:
    create_acted(db)
    rule = make_rule(db, "shipped", conditions=SHIPPED)
    update(db, 1, "new", "shipped")
    update(db, 2, "new", "packed")  # does not match
    dispatcher = build_dispatcher(db, [rule])

    report = dispatcher.run_once()

    assert (report.changes, report.executions, report.failed, report.position) == (2, 1, 0, 2)
    assert [(r["rule"], r["row_id"], r["position"]) for r in acted_rows(db)] == [("shipped", 1, 1)]
    (execution,) = ExecutionStore(db).list()
    assert execution.status is ExecutionStatus.SUCCESS
    assert execution.change_position == 1
    assert execution.actions_executed[0]["status"] == "success"
    assert execution.actions_executed[0]["result"] == {"title": "act", "position": 1}
    data = execution_to_dict(execution)
    assert data["rule"] == "shipped" and data["entity_type"] == "orders"
    assert data["trigger_data"]["new"] == {"id": 1, "status": "shipped"}
    assert dispatcher.run_once().changes == 0


def test_orders_run_in_sequence_and_a_failure_does_not_stop_the_others(db: Database) -> None:
    create_acted(db)
    rule = make_rule(
        db,
        "mixed",
        actions=(
            ("first-a", 1),
            ("first-b", 1, {"fail": True}),
            ("first-c", 1),
            ("second", 2),
        ),
    )
    update(db, 1, "new", "shipped")
    build_dispatcher(db, [rule]).run_once()

    rows = acted_rows(db)
    assert sorted(r["action"] for r in rows[:2]) == ["first-a", "first-c"]
    assert rows[2]["action"] == "second"  # after every action of order 1
    (execution,) = ExecutionStore(db).list()
    assert execution.status is ExecutionStatus.PARTIAL
    assert "first-b: told to fail" in (execution.error_message or "")
    statuses = {a["name"]: a["status"] for a in execution.actions_executed}
    assert statuses == {
        "first-a": "success",
        "first-b": "failed",
        "first-c": "success",
        "second": "success",
    }


def test_replay_repeats_no_action_and_retries_the_failed_ones(db: Database) -> None:
    create_acted(db)
    rule = make_rule(db, "r", actions=(("ok", 1), ("flaky", 1, {"fail": True})))
    update(db, 1, "new", "shipped")
    update(db, 2, "new", "shipped")
    clock = FrozenClock(AT)
    build_dispatcher(db, [rule], clock=clock).run_once()
    assert len(acted_rows(db)) == 2

    service = ExecutionService(ExecutionStore(db), ChangeLog(db), clock)
    report = service.replay(1)
    assert report.to_dict() == {
        "from_position": 1,
        "previous_position": 2,
        "last_position": 2,
        "changes": 2,
    }
    second = build_dispatcher(db, [rule]).run_once()
    assert second.changes == 2
    assert len(acted_rows(db)) == 2  # "ok" was not done again
    executions = service.executions(rule="r")
    assert len(executions) == 2  # one per rule and change, updated, not added
    for execution in executions:
        statuses = {a["name"]: a["status"] for a in execution.actions_executed}
        assert statuses == {"ok": "already_done", "flaky": "failed"}
        assert execution.status is ExecutionStatus.PARTIAL


def test_a_child_runs_only_after_its_parent_succeeded_for_the_same_change(db: Database) -> None:
    create_acted(db)
    child = make_rule(db, "child", depends_on=("parent",))
    parent = make_rule(db, "parent", conditions=SHIPPED)
    failing_parent = make_rule(db, "bad-parent", actions=(("x", 1, {"fail": True}),))
    orphan = make_rule(db, "orphan", depends_on=("bad-parent",))
    update(db, 1, "new", "shipped")  # parent matches: child runs after it
    update(db, 2, "new", "packed")  # parent does not match: child does not run

    build_dispatcher(db, [child, orphan, parent, failing_parent]).run_once()

    rows = [(r["rule"], r["row_id"]) for r in acted_rows(db)]
    assert rows == [("parent", 1), ("child", 1)]
    store = ExecutionStore(db)
    by_rule = {(e.rule_name, e.change_position): e for e in store.list()}
    assert ("child", 2) not in by_rule
    assert by_rule[("orphan", 1)].status is ExecutionStatus.FAILED
    assert "parent rule 'bad-parent' ended failed" in (by_rule[("orphan", 1)].error_message or "")


def test_a_change_past_the_depth_limit_is_recorded_not_acted_on(db: Database) -> None:
    create_acted(db)
    rule = make_rule(db, "cascade")
    update(db, 1, "a", "b", depth=2)
    update(db, 1, "b", "c", depth=3)

    report = build_dispatcher(db, [rule], max_depth=2).run_once()

    assert report.too_deep == 1
    assert [r["position"] for r in acted_rows(db)] == [1]
    deep = ExecutionService(ExecutionStore(db), ChangeLog(db), FrozenClock(AT)).executions(
        status="failed"
    )
    assert len(deep) == 1 and deep[0].depth == 3
    assert "cascade depth 3 is past the limit of 2" in (deep[0].error_message or "")


def test_a_change_of_one_workspace_reaches_only_that_workspaces_rules(db: Database) -> None:
    create_acted(db)
    other = uuid.uuid4()
    mine = make_rule(db, "mine")
    update(db, 1, "a", "b", workspace_id=other)  # recorded for another workspace
    update(db, 2, "a", "b")  # a trigger's change: every workspace watching

    build_dispatcher(db, [mine]).run_once()

    assert [r["row_id"] for r in acted_rows(db)] == [2]
    assert ExecutionStore(db, actor=Actor.system_in(other)).list() == []


def test_two_dispatchers_without_the_leader_lock_do_no_action_twice(db: Database) -> None:
    """The lock is an economy: keys and the unique execution keep two at once correct."""
    create_acted(db)
    rule = make_rule(db, "every", actions=(("a", 1), ("b", 1), ("c", 2)))
    first = build_dispatcher(db, [rule], batch_size=7)
    second = build_dispatcher(db, [rule], batch_size=5)
    writing = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        for i in range(60):
            update(db, i % 6, "a", f"s{i}")
        writing.set()

    def dispatch(dispatcher: Dispatcher) -> None:
        try:
            while not writing.is_set():
                dispatcher.drain()
            dispatcher.drain()
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=dispatch, args=(d,)) for d in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    first.drain()

    keys = [r["idempotency_key"] for r in acted_rows(db)]
    assert len(keys) == len(set(keys)) == 60 * 3
    executions = ExecutionStore(db).list(limit=1000)
    assert len(executions) == 60
    assert {e.status for e in executions} == {ExecutionStatus.SUCCESS}


def test_changes_captured_by_a_trigger_are_dispatched_in_order(db: Database) -> None:
    from spine.automation.capture import EntityService
    from spine.automation.store.entities import EntityStore

    create_acted(db)
    with db.write() as conn:
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)"))
        conn.execute(sa.text("INSERT INTO orders VALUES (1, 'new'), (2, 'new')"))
    EntityService(EntityStore(db, FrozenClock(AT))).watch("orders")
    rule = make_rule(db, "shipped", conditions=SHIPPED)
    for row_id in (2, 1):
        with db.write() as conn:
            conn.execute(
                sa.text("UPDATE orders SET status = 'shipped' WHERE id = :i"), {"i": row_id}
            )
    with db.write() as conn:
        conn.execute(sa.text("UPDATE orders SET status = 'shipped' WHERE id = 1"))  # no change

    report = build_dispatcher(db, [rule]).run_once()

    assert [(r["row_id"], r["position"]) for r in acted_rows(db)] == [(2, 1), (1, 2)]
    assert report.executions == 2
