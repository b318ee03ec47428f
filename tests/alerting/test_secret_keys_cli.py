"""Where the local key lives and `spine secret-key rotate`, through the real console script."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from spine.alerting import verify_signature
from spine.core.crypto import generate_key
from spine.core.storage import create_database
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.cli.spine_process import Completed, invoke_spine

HOOK = ["alerts", "channels", "add", "hook", "--type", "webhook", "--config"]


def _stored_configs(db_url: str) -> list[str]:
    database = create_database(db_url)
    try:
        with database.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT config_json FROM core_alert_channels ORDER BY name"
            ).all()
    finally:
        database.dispose()
    return [json.dumps(row[0]) if not isinstance(row[0], str) else row[0] for row in rows]


def _sent_with_secret(receiver: Receiver, secret: str) -> bool:
    request = receiver.requests[-1]
    return verify_signature(secret, request.headers, request.body)


def _one_line_exit_2(done: Completed) -> str:
    assert done.code == 2, (done.stdout, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_local_key_lives_beside_the_sqlite_file(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true"}
    config = json.dumps({"url": receiver.url(), "secret": WHSEC})  # a literal: sealed

    added = invoke_spine(*HOOK, config, cwd=first, env=env)
    tested = invoke_spine("alerts", "channels", "test", "hook", cwd=second, env=env)
    shown = invoke_spine("alerts", "channels", "show", "hook", "--json", cwd=second, env=env)

    assert added.code == 0, added.stderr
    assert tested.code == 0, tested.stderr  # before: a second key in b, "cannot decrypt"
    assert _sent_with_secret(receiver, WHSEC)
    assert shown.code == 0 and json.loads(shown.stdout)["config_json"]["secret"] == "********"
    key = tmp_path / "spine.db.secret.key"  # db_url is tmp_path/spine.db
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not (first / ".spine").exists() and not (second / ".spine").exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_key_left_in_the_working_directory_still_opens_what_it_sealed(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    old = tmp_path / "old"
    (old / ".spine").mkdir(parents=True)
    legacy = generate_key()
    (old / ".spine" / "secret.key").write_text(legacy + "\n")
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true"}
    # Sealed as an earlier version did from `old`: with the key in old/.spine/secret.key.
    config = json.dumps({"url": receiver.url(), "secret": WHSEC})
    added = invoke_spine(*HOOK, config, cwd=old, env={**env, "SPINE_SECRET_KEY": legacy})
    assert added.code == 0, added.stderr

    # The first run without a key adopts the old key beside the database ...
    tested = invoke_spine("alerts", "channels", "test", "hook", cwd=old, env=env)
    assert tested.code == 0, tested.stderr
    assert (tmp_path / "spine.db.secret.key").read_text().strip() == legacy
    # ... so the secret reads from any directory.
    elsewhere = invoke_spine("alerts", "channels", "test", "hook", cwd=tmp_path, env=env)
    assert elsewhere.code == 0, elsewhere.stderr
    assert _sent_with_secret(receiver, WHSEC)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_different_key_left_in_the_working_directory_is_kept_to_open(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true"}
    # The key beside the database exists already (made from tmp_path) ...
    made = invoke_spine(*HOOK, json.dumps({"url": receiver.url()}), cwd=tmp_path, env=env)
    assert made.code == 0, made.stderr
    # ... and an earlier version sealed another channel with old/.spine/secret.key.
    old = tmp_path / "old"
    (old / ".spine").mkdir(parents=True)
    legacy = generate_key()
    (old / ".spine" / "secret.key").write_text(legacy + "\n")
    config = json.dumps({"url": receiver.url(), "secret": WHSEC})
    added = invoke_spine(
        "alerts", "channels", "add", "older", "--type", "webhook", "--config", config,
        cwd=old, env={**env, "SPINE_SECRET_KEY": legacy},
    )  # fmt: skip
    assert added.code == 0, added.stderr

    tested = invoke_spine("alerts", "channels", "test", "older", cwd=old, env=env)

    assert tested.code == 0, tested.stderr
    assert _sent_with_secret(receiver, WHSEC)


def test_rotate_reseals_every_secret_so_the_old_key_can_go(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    old_key, new_key = generate_key(), generate_key()
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true"}
    hook = json.dumps({"url": receiver.url(), "secret": WHSEC})
    snow = json.dumps(
        {"instance_url": "https://acme.service-now.com", "username": "u", "password": "pw"}
    )
    by_ref = json.dumps({"url": receiver.url(), "secret_ref": "env:NOTHING"})
    for args in (
        [*HOOK, hook],
        ["alerts", "channels", "add", "snow", "--type", "servicenow", "--config", snow],
        ["alerts", "channels", "add", "plain", "--type", "webhook", "--config", by_ref],
    ):
        done = invoke_spine(*args, cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": old_key})
        assert done.code == 0, done.stderr
    before = _stored_configs(db_url)

    rotated = invoke_spine(
        "secret-key",
        "rotate",
        cwd=tmp_path,
        env={**env, "SPINE_SECRET_KEY": f"{new_key},{old_key}"},
    )

    assert rotated.code == 0, rotated.stderr
    assert rotated.stdout.startswith("re-sealed 2 secrets in 2 alert channels"), rotated.stdout
    after = _stored_configs(db_url)
    hook_row, plain_row, snow_row = zip(before, after, strict=True)  # by name
    assert plain_row[0] == plain_row[1]  # `plain` holds no secret
    assert hook_row[0] != hook_row[1] and snow_row[0] != snow_row[1]
    tested = invoke_spine(
        "alerts", "channels", "test", "hook", cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": new_key}
    )
    assert tested.code == 0, tested.stderr
    assert _sent_with_secret(receiver, WHSEC)
    with_old = invoke_spine(
        "alerts", "channels", "test", "hook", cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": old_key}
    )
    assert "cannot decrypt" in _one_line_exit_2(with_old)


def test_rotate_refuses_bad_keys_in_one_line_and_changes_nothing(
    db_url: str, tmp_path: Path, backend: str
) -> None:
    sealed_with = generate_key()
    env = {"SPINE_DATABASE_URL": db_url}
    hook = json.dumps({"url": "https://hooks.invalid/spine", "secret": WHSEC})
    added = invoke_spine(*HOOK, hook, cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": sealed_with})
    assert added.code == 0, added.stderr
    before = _stored_configs(db_url)

    unset = invoke_spine("secret-key", "rotate", cwd=tmp_path, env=env)
    malformed = invoke_spine(
        "secret-key", "rotate", cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": "not-a-key"}
    )
    foreign = invoke_spine(
        "secret-key", "rotate", cwd=tmp_path, env={**env, "SPINE_SECRET_KEY": generate_key()}
    )

    assert "SPINE_SECRET_KEY is not set" in _one_line_exit_2(unset)
    if backend == "sqlite":  # says where the local key is and what to do with it
        assert "spine.db.secret.key" in unset.stderr and "NEW," in unset.stderr
    assert "must be Fernet keys" in _one_line_exit_2(malformed)
    assert "none of the keys in SPINE_SECRET_KEY opens it" in _one_line_exit_2(foreign)
    assert _stored_configs(db_url) == before
    assert not list(tmp_path.glob("**/.spine"))
