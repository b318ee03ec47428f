"""``spine sources`` and ``spine connections`` through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.spine_process import Completed, invoke_spine, run_spines

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _env(db_url: str, **extra: str) -> dict[str, str]:
    return {"SPINE_DATABASE_URL": db_url, **extra}


def _one_line_error(done: Completed, *fragments: str) -> None:
    assert done.code == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_add_fetch_and_history(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "w_2025-01-10.psv").write_text("a|b\n1|2\n3|4\n")
    env = _env(db_url)
    config = json.dumps({"path": f"{data}/w_{{week}}.psv", "format": "psv"})
    added = invoke_spine(
        "sources",
        "add",
        "weekly",
        "--type",
        "file",
        "--config",
        config,
        "--domain",
        "demo",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert added.code == 0, added.stderr
    assert json.loads(added.stdout)["source_type"] == "file"
    fetched = invoke_spine(
        "sources", "fetch", "weekly", "--param", "week=2025-01-10", "--json", cwd=tmp_path, env=env
    )
    assert fetched.code == 0, fetched.stderr
    row = json.loads(fetched.stdout)
    assert (row["status"], row["record_count"], row["byte_count"]) == ("SUCCESS", 2, 12)
    assert len(row["content_hash"]) == 64
    again, missing, listed, shown, cached, evicted = run_spines(
        [
            (["sources", "fetch", "weekly", "--param", "week=2025-01-10"], env, tmp_path),
            (["sources", "fetch", "weekly", "--param", "week=2025-01-17"], env, tmp_path),
            (["sources", "list", "--json"], env, tmp_path),
            (["sources", "show", "weekly", "--json"], env, tmp_path),
            (["sources", "cache", "list", "--json"], env, tmp_path),
            (["sources", "cache", "evict", "--all", "--json"], env, tmp_path),
        ],
        in_process=True,
    )
    assert again.code == 0 and again.stdout.startswith("UNCHANGED  records=2  bytes=12")
    _one_line_error(missing, "NOT_FOUND", "no file matches")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["weekly"]
    assert json.loads(shown.stdout)["domain"] == "demo"
    assert cached.code == 0 and json.loads(cached.stdout) == []  # local files are not cached
    assert json.loads(evicted.stdout) == {"evicted": 0, "bytes": 0}
    history = invoke_spine(
        "sources", "fetches", "weekly", "--limit", "5", "--json", cwd=tmp_path, env=env
    )
    statuses = [f["status"] for f in json.loads(history.stdout)]
    assert sorted(statuses) == ["NOT_FOUND", "SUCCESS", "UNCHANGED"]
    missing_row = next(f for f in json.loads(history.stdout) if f["status"] == "NOT_FOUND")
    assert missing_row["error_category"] == "NOT_FOUND"


def test_bad_input_is_one_line(tmp_path: Path, db_url: str) -> None:
    env = _env(db_url)
    results = run_spines(
        [
            (["sources", "add", "x", "--type", "file", "--config", "{nope"], env, tmp_path),
            (["sources", "add", "x", "--type", "ftp", "--config", "{}"], env, tmp_path),
            (["sources", "fetch", "nope"], env, tmp_path),
            (["sources", "show", "nope"], env, tmp_path),
            (["connections", "test", "nope"], env, tmp_path),
            (
                [
                    "connections",
                    "add",
                    "c",
                    "--dialect",
                    "postgresql",
                    "--database",
                    "d",
                    "--password-ref",
                    "hunter2",
                ],
                env,
                tmp_path,
            ),
            (["connections", "add", "c", "--dialect", "oracle", "--database", "d"], env, tmp_path),
            (["sources", "cache", "evict", "--all", "--older-than-days", "3"], env, tmp_path),
        ],
        in_process=True,
    )
    expected = [
        ("--config is not valid JSON",),
        ("unknown source type 'ftp'",),
        ("no source named 'nope'",),
        ("no source named 'nope'",),
        ("no database connection named 'nope'",),
        ("env:VARIABLE or file:PATH",),
        ("unknown dialect 'oracle'",),
        ("not both",),
    ]
    for done, fragments in zip(results, expected, strict=True):
        _one_line_error(done, *fragments)
        assert "hunter2" not in done.stderr


def test_connections_never_print_the_password(tmp_path: Path, db_url: str) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t-value\n")
    env = _env(db_url, DB_PW="s3cr3t-value")
    added = invoke_spine(
        "connections",
        "add",
        "pg",
        "--dialect",
        "postgresql",
        "--host",
        "127.0.0.1",
        "--port",
        "1",
        "--database",
        "x",
        "--username",
        "postgres",
        "--password-ref",
        "env:DB_PW",
        "--pool-size",
        "3",
        cwd=tmp_path,
        env=env,
    )
    assert added.code == 0, added.stderr
    tested = invoke_spine("connections", "test", "pg", cwd=tmp_path, env=env)
    _one_line_error(tested, "connection 'pg'")
    shown, listed = run_spines(
        [
            (["connections", "show", "pg", "--json"], env, tmp_path),
            (["connections", "list"], env, tmp_path),
        ],
        in_process=True,
    )
    row = json.loads(shown.stdout)
    assert row["password_ref"] == "env:DB_PW"
    assert row["pool_size"] == 3
    assert row["last_error"] and row["last_error_at"] and row["last_connected_at"] is None
    for done in (added, tested, shown, listed):
        assert "s3cr3t-value" not in done.stdout + done.stderr
    removed = invoke_spine("connections", "remove", "pg", cwd=tmp_path, env=env)
    assert removed.code == 0


def test_workspace_option_confines_sources_and_connections(tmp_path: Path, db_url: str) -> None:
    from spine.bootstrap import build
    from spine.config import Settings
    from spine.tenancy import Actor

    services = build(Settings(database_url=db_url))
    try:
        services.tenancy.create_organization("acme")
        services.tenancy.create_workspace("data", "acme", Actor())
    finally:
        services.close()
    data = tmp_path / "w.psv"
    data.write_text("a|b\n1|2\n")
    env = _env(db_url)
    config = json.dumps({"path": str(data), "format": "psv"})
    in_data = ["--workspace", "acme/data"]
    added = run_spines(
        [
            (
                [*in_data, "sources", "add", "otc", "--type", "file", "--config", config],
                env,
                tmp_path,
            ),
            (["sources", "add", "otc", "--type", "file", "--config", config], env, tmp_path),
        ],
        in_process=True,
    )
    assert [done.code for done in added] == [0, 0], [done.stderr for done in added]
    made = invoke_spine(
        *in_data, "connections", "add", "warehouse", "--dialect", "sqlite", "--database", "w.db",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    listed, default_listed, conns, default_conns, removed = run_spines(
        [
            ([*in_data, "sources", "list", "--json"], env, tmp_path),
            (["sources", "list", "--json"], env, tmp_path),
            ([*in_data, "connections", "list", "--json"], env, tmp_path),
            (["connections", "list", "--json"], env, tmp_path),
            (["connections", "remove", "warehouse"], env, tmp_path),
        ],
        in_process=True,
    )
    mine, theirs = json.loads(listed.stdout), json.loads(default_listed.stdout)
    assert [s["name"] for s in mine] == [s["name"] for s in theirs] == ["otc"]
    assert mine[0]["id"] != theirs[0]["id"]
    assert mine[0]["workspace_id"] != theirs[0]["workspace_id"]
    assert [c["name"] for c in json.loads(conns.stdout)] == ["warehouse"]
    assert json.loads(default_conns.stdout) == []
    _one_line_error(removed, "no database connection named 'warehouse'")
    fetched = invoke_spine(*in_data, "sources", "fetch", "otc", "--json", cwd=tmp_path, env=env)
    assert fetched.code == 0, fetched.stderr
    shown = invoke_spine("sources", "fetches", "otc", "--json", cwd=tmp_path, env=env)
    assert json.loads(shown.stdout) == []
