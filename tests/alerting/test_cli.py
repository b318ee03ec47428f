"""``spine alerts``, ``spine dlq`` and ``spine breakers`` through the real console script.

On SQLite only: every command is a process start (about a second on a busy machine), and
the store behind them is tested on both backends; the worker processes test runs on both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spine.alerting import AlertService, AlertStore, DeliveryPolicy, DeliveryWorker
from spine.core.clock import SystemClock
from spine.core.storage import create_database
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.cli.spine_process import invoke_spine, run_spines


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _env(db_url: str, **extra: str) -> dict[str, str]:
    return {
        "SPINE_DATABASE_URL": db_url,
        "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true",
        "HOOK_SECRET": WHSEC,
        **extra,
    }


def test_channels_send_list_show_deliver(db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    env = _env(db_url, SNOW_PASSWORD="hunter2")

    def spine(*args: str) -> str:
        done = invoke_spine(*args, cwd=tmp_path, env=env)
        assert done.code == 0, done.stderr
        return done.stdout

    config = {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"}
    snow = {
        "instance_url": "http://user:pw@127.0.0.1:9",
        "username": "u",
        "password_ref": "env:SNOW_PASSWORD",
    }
    added = run_spines(
        [
            (
                [
                    "alerts",
                    "channels",
                    "add",
                    "ops",
                    "--type",
                    "webhook",
                    "--config",
                    json.dumps(config),
                    "--min-severity",
                    "WARNING",
                    "--domains",
                    "finra.*,sec.*",
                    "--throttle-minutes",
                    "5",
                ],
                env,
                tmp_path,
            ),
            (
                [
                    "alerts",
                    "channels",
                    "add",
                    "snow",
                    "--type",
                    "servicenow",
                    "--config",
                    json.dumps(snow),
                ],
                env,
                tmp_path,
            ),
        ],
        in_process=True,
    )
    assert [a.code for a in added] == [0, 0], [a.stderr for a in added]
    alert_id = spine(
        "alerts",
        "send",
        "--severity",
        "ERROR",
        "--title",
        "late",
        "--message",
        "m",
        "--source",
        "finra.weekly_ingest",
        "--domain",
        "finra.otc",
    ).strip()
    assert "1 attempts" in spine("alerts", "channels", "disable", "snow") + spine(
        "alerts", "deliver", "--once"
    )
    assert receiver.requests[0].json()["data"]["alert_id"] == alert_id
    reads = run_spines(
        [
            (["alerts", "channels", "list", "--json"], env, tmp_path),
            (["alerts", "channels", "show", "snow", "--json"], env, tmp_path),
            (["alerts", "show", alert_id, "--json"], env, tmp_path),
            (
                ["alerts", "list", "--severity", "ERROR", "--since", "2000-01-01", "--json"],
                env,
                tmp_path,
            ),
            (["breakers", "list", "--json"], env, tmp_path),
        ],
        in_process=True,
    )
    assert [r.code for r in reads] == [0] * 5, [r.stderr for r in reads]
    listed, shown, shown_alert, errors, breakers = (json.loads(r.stdout) for r in reads)
    assert [(c["name"], c["enabled"], c["domains"]) for c in listed] == [
        ("ops", True, ["finra.*", "sec.*"]),
        ("snow", False, []),
    ]
    assert shown["config_json"]["password_ref"] == "env:SNOW_PASSWORD"
    assert "pw@" not in json.dumps(shown) and "hunter2" not in json.dumps(shown)
    assert shown_alert["severity"] == "ERROR" and shown_alert["source"] == "finra.weekly_ingest"
    assert [(d["channel_name"], d["status"], d["attempt"]) for d in shown_alert["deliveries"]] == [
        ("ops", "SENT", 1),
        ("snow", "PENDING", 1),  # disabled: it waits
    ]
    assert [a["id"] for a in errors] == [alert_id]
    ids = {c["name"]: c["id"] for c in listed}
    assert {b["channel_name"]: (b["name"], b["state"]) for b in breakers} == {
        "ops": (f"alert-channel:{ids['ops']}", "closed"),
        "snow": (f"alert-channel:{ids['snow']}", "closed"),
    }


def test_dead_letter_list_and_retry(db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    env = _env(db_url)
    policy = DeliveryPolicy(max_attempts=1, allow_private_urls=True)
    database = create_database(db_url)
    service = AlertService(AlertStore(database, SystemClock(), policy), policy)
    service.add_channel("ops", "webhook", {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    service.send("ERROR", "t", "m", source="s")
    receiver.status = 500
    DeliveryWorker(service.store, policy).drain()
    listed = invoke_spine("dlq", "list", "--json", cwd=tmp_path, env=env)
    [letter] = json.loads(listed.stdout)
    assert letter["status"] == "pending" and letter["source_type"] == "alert_delivery"
    receiver.status = 200
    retried = invoke_spine("dlq", "retry", letter["dlq_id"], cwd=tmp_path, env=env)
    assert retried.code == 0, retried.stderr
    DeliveryWorker(service.store, policy).drain()
    [letter] = service.store.list_dead_letters()
    assert letter["status"] == "resolved"
    assert len(receiver.requests) == 2
    database.dispose()


def test_deliver_once_exits_1_when_every_attempt_failed(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = _env(db_url)
    policy = DeliveryPolicy(allow_private_urls=True)
    database = create_database(db_url)
    service = AlertService(AlertStore(database, SystemClock(), policy), policy)
    service.add_channel("ops", "webhook", {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    nothing = invoke_spine("alerts", "deliver", "--once", cwd=tmp_path, env=env)
    assert (nothing.code, nothing.stderr) == (0, "")  # nothing was due
    receiver.status = 500
    for i in range(2):
        service.send("ERROR", f"t{i}", "m", source="s")
    failed = invoke_spine("alerts", "deliver", "--once", cwd=tmp_path, env=env)
    assert failed.code == 1
    assert failed.stderr.splitlines() == [
        "error: all 2 delivery attempts failed; see `spine dlq list` and `spine breakers list`"
    ]
    receiver.status = 200
    service.send("ERROR", "t2", "m", source="s")  # the two failed ones wait for their backoff
    sent = invoke_spine("alerts", "deliver", "--once", cwd=tmp_path, env=env)
    assert (sent.code, sent.stderr) == (0, ""), sent.stderr
    assert "after 1 attempts" in sent.stdout
    assert len(receiver.requests) == 3
    database.dispose()


def test_dlq_retry_says_when_the_breaker_is_open_and_how_to_reset_it(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = _env(db_url)
    policy = DeliveryPolicy(max_attempts=1, breaker_threshold=1, allow_private_urls=True)
    database = create_database(db_url)
    service = AlertService(AlertStore(database, SystemClock(), policy), policy)
    service.add_channel("ops", "webhook", {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    service.send("ERROR", "t", "m", source="s")
    receiver.status = 500
    DeliveryWorker(service.store, policy).drain()  # one failure: dead letter, breaker open
    [letter] = service.store.list_dead_letters()
    retried = invoke_spine("dlq", "retry", letter["dlq_id"], cwd=tmp_path, env=env)
    assert retried.code == 0, retried.stderr
    queued, note = retried.stdout.splitlines()
    assert queued.startswith(f"dead letter {letter['dlq_id']} queued again as delivery ")
    assert note.startswith("note: the circuit breaker of channel ops is open")
    assert note.endswith("to send it now, run `spine breakers reset ops`")
    reset = invoke_spine("breakers", "reset", "ops", cwd=tmp_path, env=env)
    assert reset.code == 0, reset.stderr
    receiver.status = 200
    assert DeliveryWorker(service.store, policy).drain() == 1
    assert [r["status"] for r in service.store.list_dead_letters()] == ["resolved"]
    database.dispose()


FILE_URL = json.dumps({"url": "file:///etc/passwd"})


def test_bad_input_is_one_line_and_exit_2(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url)
    cases = [
        ["alerts", "channels", "add", "x", "--type", "webhook", "--config", "[1]"],
        ["alerts", "channels", "add", "f", "--type", "apprise", "--config", FILE_URL],
        ["alerts", "send", "--severity", "LOUD", "--title", "t", "--message", "m", "--source", "s"],
        ["alerts", "channels", "show", "nope"],
        ["dlq", "retry", "nope"],
    ]
    results = run_spines([(args, env, tmp_path) for args in cases], in_process=True)
    for args, done in zip(cases, results, strict=True):
        assert done.code == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr
    listed = invoke_spine("alerts", "channels", "list", "--json", cwd=tmp_path, env=env)
    assert json.loads(listed.stdout) == []


def test_webhook_without_secret_gets_one_shown_once_and_sealed(db_url: str, tmp_path: Path) -> None:
    env = {"SPINE_DATABASE_URL": db_url}  # no SPINE_SECRET_KEY: SQLite's local key file
    config = json.dumps({"url": "https://hooks.invalid/spine"})  # saved though unresolvable

    done = invoke_spine(
        "alerts", "channels", "add", "hook", "--type", "webhook", "--config", config,
        cwd=tmp_path, env=env,
    )  # fmt: skip

    assert done.code == 0, done.stderr
    secret = done.stderr.strip().rsplit(" ", 1)[-1]
    assert secret.startswith("whsec_")
    shown = invoke_spine("alerts", "channels", "show", "hook", "--json", cwd=tmp_path, env=env)
    assert shown.code == 0 and secret not in shown.stdout
    assert json.loads(shown.stdout)["config_json"]["secret"] == "********"
    database = create_database(db_url)
    try:
        with database.read() as conn:
            stored = conn.exec_driver_sql("SELECT config_json FROM core_alert_channels").scalar()
    finally:
        database.dispose()
    assert secret not in str(stored) and "fernet:" in str(stored)
    assert (tmp_path / "spine.db.secret.key").exists()  # beside the database (db_url)


def test_channels_update_and_rotate_secret(db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    env = _env(db_url)  # no SPINE_SECRET_KEY: SQLite's local key file seals the new secret

    def spine(*args: str) -> str:
        done = invoke_spine(*args, cwd=tmp_path, env=env)
        assert done.code == 0, done.stderr
        return done.stdout

    hook = json.dumps({"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
    spine("alerts", "channels", "add", "hook", "--type", "webhook", "--config", hook)
    changes = "--min-severity ERROR --domains finra.* --throttle-minutes 5 --disable --json"
    updated = json.loads(spine("alerts", "channels", "update", "hook", *changes.split()))
    assert (updated["min_severity"], updated["domains"], updated["enabled"]) == (
        "ERROR",
        ["finra.*"],
        False,
    )
    assert updated["throttle_minutes"] == 5
    assert updated["config_json"] == {"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"}

    done = invoke_spine(
        "alerts", "channels", "update", "hook", "--enable", "--rotate-secret",
        "--overlap-hours", "1", "--json", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    new = done.stderr.strip().rsplit(" ", 1)[-1]
    assert new.startswith("whsec_") and new not in done.stdout
    rotated = json.loads(done.stdout)
    assert rotated["enabled"] is True
    assert rotated["config_json"]["secret"] == "********"
    assert rotated["config_json"]["previous_secret"] == "env:HOOK_SECRET"
    assert (
        rotated["config_json"]
        == json.loads(spine("alerts", "channels", "show", "hook", "--json"))["config_json"]
    )

    cases = [
        ["alerts", "channels", "update", "nope", "--enable"],
        ["alerts", "channels", "update", "hook"],
        ["alerts", "channels", "update", "hook", "--min-severity", "LOUD"],
        ["alerts", "channels", "update", "hook", "--config", "[1]"],
        ["alerts", "channels", "update", "hook", "--config", FILE_URL, "--disable"],
    ]
    for args, failed in zip(
        cases, run_spines([(a, env, tmp_path) for a in cases], in_process=True), strict=True
    ):
        assert failed.code == 2, (args, failed.stderr)
        assert len(failed.stderr.strip().splitlines()) == 1, (args, failed.stderr)
        assert "Traceback" not in failed.stderr
    assert json.loads(spine("alerts", "channels", "show", "hook", "--json")) == rotated


def test_workspace_option_confines_alerting_and_deliver_serves_every_workspace(
    db_url: str, tmp_path: Path
) -> None:
    from spine.bootstrap import build
    from spine.config import Settings
    from spine.tenancy import Actor

    services = build(Settings(database_url=db_url))
    try:
        services.tenancy.create_organization("acme")
        team = services.tenancy.create_workspace("team", "acme", Actor())
    finally:
        services.close()
    env = _env(db_url)
    home, away = Receiver(), Receiver()
    home.start()
    away.start()
    try:

        def spine(*args: str) -> str:
            done = invoke_spine(*args, cwd=tmp_path, env=env)
            assert done.code == 0, done.stderr
            return done.stdout

        for workspace, receiver in (("default", home), ("acme/team", away)):
            config = json.dumps({"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"})
            spine("--workspace", workspace, "alerts", "channels", "add", "ops", "--type",
                  "webhook", "--config", config)  # fmt: skip
        alert_id = spine(
            "--workspace", "acme/team", "alerts", "send", "--severity", "ERROR",
            "--title", "t", "--message", "m", "--source", "s",
        ).strip()  # fmt: skip
        assert "1 attempts" in spine("alerts", "deliver", "--once")  # default's CLI: all
        assert [r.json()["data"]["alert_id"] for r in away.requests] == [alert_id]
        assert home.requests == []
        lists = {
            workspace: (
                json.loads(spine("--workspace", workspace, "alerts", "list", "--json")),
                json.loads(spine("--workspace", workspace, "alerts", "channels", "list", "--json")),
                json.loads(spine("--workspace", workspace, "breakers", "list", "--json")),
            )
            for workspace in ("default", "acme/team")
        }
        assert [a["id"] for a in lists["acme/team"][0]] == [alert_id]
        assert lists["default"][0] == []
        ids = {w: [c["id"] for c in lists[w][1]] for w in lists}
        assert len(ids["default"]) == len(ids["acme/team"]) == 1
        assert ids["default"] != ids["acme/team"]
        assert [b["channel_id"] for b in lists["acme/team"][2]] == ids["acme/team"]
        shown = invoke_spine("alerts", "show", alert_id, cwd=tmp_path, env=env)
        assert shown.code != 0 and "no alert" in shown.stderr
        removed = invoke_spine("alerts", "channels", "remove", "ops", cwd=tmp_path, env=env)
        assert removed.code == 0, removed.stderr
        left = spine("--workspace", "acme/team", "alerts", "channels", "list", "--json")
        assert [c["id"] for c in json.loads(left)] == ids["acme/team"]
    finally:
        home.stop()
        away.stop()
    services = build(Settings(database_url=db_url))
    try:
        entries = services.tenancy.audit_entries(Actor(workspace_id=team.id))
    finally:
        services.close()
    mine = [e for e in entries if e.entity_type != "workspace"]
    assert sorted(e.entity_type for e in mine) == ["alert", "alert_channel"]
    assert {e.api_key_id for e in mine} == {None}
