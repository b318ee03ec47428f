"""The README's PostgreSQL set-up works as written: a key, `spine db upgrade`, a channel."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.spine_process import invoke_spine

HOOK = json.dumps({"url": "https://hooks.example.com/spine"})


def test_a_channel_without_a_secret_is_added_with_the_secret_key_set(
    db_url: str, tmp_path: Path
) -> None:
    key = invoke_spine("secret-key", cwd=tmp_path)
    assert key.code == 0, key.stderr
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_SECRET_KEY": key.stdout.strip()}

    added = invoke_spine(
        "alerts", "channels", "add", "ops", "--type", "webhook", "--config", HOOK,
        cwd=tmp_path, env=env,
    )  # fmt: skip

    assert added.code == 0, added.stderr
    assert "whsec_" in added.stderr
    shown = invoke_spine("alerts", "channels", "show", "ops", "--json", cwd=tmp_path, env=env)
    assert json.loads(shown.stdout)["config_json"]["secret"] == "********"
    assert not list(tmp_path.glob("*.secret.key"))  # the key came from the environment


def test_without_the_key_postgresql_says_what_to_set(db_url: str, tmp_path: Path) -> None:
    env = {"SPINE_DATABASE_URL": db_url}

    added = invoke_spine(
        "alerts", "channels", "add", "ops", "--type", "webhook", "--config", HOOK,
        cwd=tmp_path, env=env,
    )  # fmt: skip

    if db_url.startswith("sqlite"):  # SQLite keeps a key file beside the database
        assert added.code == 0, added.stderr
        return
    assert added.code == 2
    assert added.stderr.count("\n") == 1
    assert "set SPINE_SECRET_KEY" in added.stderr
