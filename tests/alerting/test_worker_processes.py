"""Two delivery workers as real processes never send one delivery attempt twice."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from spine.alerting import send_alert
from spine.core.storage import create_database
from tests.alerting.conftest import WHSEC
from tests.alerting.receiver import Receiver
from tests.cli.spine_process import run_spine, run_spines


def test_two_worker_processes_never_send_one_attempt_twice(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = {
        "SPINE_DATABASE_URL": db_url,
        "SPINE_ALERTING_ALLOW_PRIVATE_URLS": "true",
        "SPINE_ALERTING_BACKOFF_BASE_SECONDS": "0.001",
        "SPINE_ALERTING_BREAKER_THRESHOLD": "1000",
        "HOOK_SECRET": WHSEC,
    }
    receiver.fail_first = True
    setup = run_spine(
        "alerts",
        "channels",
        "add",
        "ops",
        "--type",
        "webhook",
        "--config",
        json.dumps({"url": receiver.url(), "secret_ref": "env:HOOK_SECRET"}),
        cwd=tmp_path,
        env=env,
    )
    assert setup.code == 0, setup.stderr
    database = create_database(db_url)
    ids = [send_alert("ERROR", f"t{i}", "m", source="s", database=database) for i in range(30)]
    database.dispose()
    worker = (["alerts", "deliver", "--once", "--concurrency", "2"], env, tmp_path)
    for done in run_spines([worker, worker]):
        # Exit 1 says every attempt of that process failed: with one channel (at most
        # two of its deliveries in flight) a process may get only first attempts, which
        # the receiver fails on purpose.
        assert done.code == 0 or "delivery attempts failed" in done.stderr, done.stderr
    final = run_spine(*worker[0], cwd=tmp_path, env=env)  # retries that came due after they left
    assert final.code == 0, final.stderr
    sent = Counter(
        (r.headers["webhook-id"], r.json()["data"]["attempt"]) for r in receiver.requests
    )
    assert max(sent.values()) == 1
    delivered = {
        r.json()["data"]["alert_id"] for r in receiver.requests if r.json()["data"]["attempt"] == 2
    }
    assert delivered == set(ids)
    assert len(receiver.requests) == 60
