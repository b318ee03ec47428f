"""Narrate scripts/demo: what a run of finra.weekly_ingest just did, and why.

Reads ``spine run ... --json`` (or ``spine runs show ... --json``; for ``alerts``,
``spine automation alerts list --json``) on stdin and prints a few plain sentences.
The demo keeps its database (``spine.db``) between runs, so a second demo finds every
week already loaded: the story says so instead of pretending it is the first time.

    python scripts/demo_story.py first|again|broken|good|alerts SPINE_COMMAND
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def _spine_json(spine: str, *args: str) -> Any:
    done = subprocess.run([spine, *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _step(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The step ``name`` of a run (an empty one if it did not run)."""
    return next((s for s in data["steps"] if s["step_name"] == name), {})


def _rejects(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Rejected lines by tier and reason code, from the transform's outputs."""
    results = (_step(data, "transform").get("output_data") or {}).get("results") or []
    return {r["tier"]: r["rejects_by_code"] for r in results if r["rows_rejected"]}


def _loaded(data: dict[str, Any]) -> int | None:
    """The rows the run's load step inserted (None if it loaded nothing)."""
    out = _step(data, "load").get("output_data") or {}
    return None if out.get("skipped") else out.get("row_count")


def _earlier_load(spine: str, week: str) -> dict[str, Any] | None:
    """The first run that loaded ``week`` (its ``runs show``), from the run history.

    A run whose checks failed loaded its rows too (the checks look at the loaded table).
    """
    query = ["--workflow", "finra.weekly_ingest", "--limit", "10000"]
    runs = [
        run
        for run in _spine_json(spine, "runs", "list", *query)
        if (run.get("params") or {}).get("week_ending") == week
        and run["status"] in ("COMPLETED", "FAILED")
    ]
    for run in sorted(runs, key=lambda run: run["created_at"]):
        shown: dict[str, Any] = _spine_json(spine, "runs", "show", run["run_id"])
        if _loaded(shown):
            return shown
    return None


def _database() -> str:
    """How to name the demo's database: its file name on SQLite."""
    url = os.environ.get("SPINE_DATABASE_URL", "sqlite:///spine.db")
    return url.rsplit("/", 1)[-1] if url.startswith("sqlite") else "the database"


def _checks(data: dict[str, Any]) -> None:
    """What the quality stage (checks on the loaded table) found."""
    step = _step(data, "quality_check")
    metrics = step.get("quality_metrics") or {}
    results = metrics.get("results") or {}
    if not results:
        return
    failed = {name: r for name, r in results.items() if not r["rule_passed"]}
    print(f"   Checks on the loaded table: {metrics['passed']} of {metrics['checks']} passed.")
    for name, result in sorted(failed.items()):
        print(f"   failed: {name} = {result['sensor_value']} ({result['severity']})")
    if step.get("status") == "FAILED":
        print(f"-> FAILED at {step['step_name']}: {step.get('error')}")
        print("   The rows stay loaded; each failing check opened an incident.")


def _alerts(spine: str, alerts: list[dict[str, Any]]) -> None:
    """What the example's rule raised: ``spine automation alerts list --json`` on stdin."""
    fired = [a for a in alerts if any(r["name"] == "finra-oncall" for r in a["recipients"])]
    if not fired:
        print("-> No alert for finra-oncall: no run of finra.weekly_ingest has failed yet.")
        return
    print(f"-> The rule finra-ingest-failed fired: {len(fired)} alert(s) for the role")
    print("   finra-oncall (automation.yaml):")
    for alert in fired:
        print(f"   [{alert['severity']}, {alert['status']}] {alert['title']}")
    executions = _spine_json(spine, "automation", "executions", "--rule", "finra-ingest-failed")
    unsent = {
        action["error"]
        for execution in executions
        for action in execution["actions_executed"]
        if action["name"] == "email-oncall" and action["status"] == "failed"
    }
    for error in sorted(unsent):
        print(f"   Its e-mail was not sent: {error}")


def main() -> None:
    """Print the story of the run on stdin."""
    mode, spine = sys.argv[1], sys.argv[2]
    data = json.load(sys.stdin)
    if mode == "alerts":
        _alerts(spine, data)
        return
    fetched = _step(data, "fetch").get("output_data") or {}
    week, status = fetched.get("week_ending"), fetched.get("status")
    skipped = [s["step_name"] for s in data["steps"] if s["status"] == "SKIPPED"]
    print()
    if status != "UNCHANGED":
        print(f"-> {status}: the week's files were fetched ({fetched.get('record_count')} records)")
        print(f"   and {_loaded(data)} rows loaded under capture {fetched.get('capture_id')}.")
        for tier, by_code in _rejects(data).items():
            print(f"   tier {tier}: malformed lines rejected, by reason: {by_code}")
        _checks(data)
        return
    steps = ", ".join(skipped)
    if mode == "again":
        print("-> UNCHANGED: the files hash the same as at the last fetch and that capture")
        print(f"   is loaded, so the run skipped {steps} and went straight")
        print("   to its report. `--param force=true` fetches and loads anyway.")
        return
    database = _database()
    print(f"-> UNCHANGED: {database} already holds week {week}, loaded by an earlier demo.")
    print("   The files hash the same as that load's capture, so the run skipped")
    print(f"   {steps} and went straight to its report.")
    earlier = _earlier_load(spine, str(week))
    if earlier is not None:
        run = earlier["run"]
        print(f"   Run {run['run_id']} loaded it first: {_loaded(earlier)} rows ({run['status']}).")
        for tier, by_code in _rejects(earlier).items():
            print(f"   tier {tier}: malformed lines rejected then, by reason: {by_code}")
        if run["status"] == "FAILED":
            print(f"   Its checks failed then: {run['error']}")
    if mode == "first":
        print(f"   (Remove {database} to watch the first load again.)")


if __name__ == "__main__":
    main()
