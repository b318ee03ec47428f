"""``spine webhooks`` through the real console script, against a receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from spine.alerting import verify_signature
from tests.alerting.receiver import Receiver
from tests.cli.spine_process import invoke_spine

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    made.start()
    yield made
    made.stop()


def test_add_list_test_remove(tmp_path: Path, db_url: str, receiver: Receiver) -> None:
    env = {"SPINE_DATABASE_URL": db_url, "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true"}

    def spine(*args: str) -> tuple[int, str, str]:
        done = invoke_spine(*args, cwd=tmp_path, env=env)
        return done.code, done.stdout, done.stderr

    for bad, fragment in (
        (["--events", "check.passed"], "unknown webhook event 'check.passed'"),
        (["--events", "check.failed", "--secret", "hunter2"], "whsec_"),
    ):
        code, out, err = spine("webhooks", "add", "q", "--url", receiver.url("/q"), *bad)
        assert code == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and fragment in err and "Traceback" not in err
    code, out, err = spine(
        "webhooks", "add", "q", "--url", receiver.url("/q"),
        "--events", "incident.created,check.failed", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["events"] == ["incident.created", "check.failed"]
    secret = err.strip().rpartition(" ")[2]
    assert secret.startswith("whsec_")
    code, out, err = spine(
        "webhooks", "add", "q", "--url", receiver.url("/q"), "--events", "check.failed"
    )
    assert code == 2 and "already exists" in err

    code, out, _ = spine("webhooks", "list", "--json")
    [row] = json.loads(out)
    assert (row["name"], row["secret"], row["failure_count"]) == ("q", "********", 0)
    assert secret not in out

    code, out, err = spine("webhooks", "test", "q")
    assert (code, out.strip()) == (0, "webhook q answered 200"), err
    [sent] = receiver.requests
    assert sent.json()["type"] == "webhook.test"
    assert verify_signature(secret, sent.headers, sent.body)
    receiver.status = 500
    code, _, err = spine("webhooks", "test", "q")
    assert code == 2 and "answered 500" in err

    code, out, _ = spine("alerts", "channels", "list", "--json")
    assert json.loads(out) == []
    code, _, err = spine("alerts", "channels", "remove", "webhook:q")
    assert code == 2 and "spine webhooks" in err
    code, out, _ = spine("webhooks", "remove", "q")
    assert (code, out.strip()) == (0, "webhook q removed")
    code, _, err = spine("webhooks", "test", "q")
    assert code == 2 and "no webhook named 'q'" in err
