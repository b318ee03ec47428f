"""Narrate scripts/demo: what a run of finra.weekly_ingest just did, and why.

Reads ``spine run ... --json`` (or ``spine runs show ... --json``) on stdin and prints a
few plain sentences. The demo keeps its database (``spine.db``) between runs, so a
second demo finds every week already loaded: the story says so instead of pretending
it is the first time.

    python scripts/demo_story.py first|again|malformed SPINE_COMMAND
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def _earlier_load(spine: str, week: str) -> dict[str, Any] | None:
    """The first run that loaded ``week``, from the run history."""
    query = ["--workflow", "finra.weekly_ingest", "--status", "COMPLETED", "--limit", "10000"]
    listed = subprocess.run(
        [spine, "runs", "list", *query, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    loads = [
        run
        for run in json.loads(listed.stdout)
        if (run.get("outputs") or {}).get("week_ending") == week
        and (run.get("outputs") or {}).get("rows_loaded")
    ]
    return min(loads, key=lambda run: run["created_at"]) if loads else None


def _database() -> str:
    """How to name the demo's database: its file name on SQLite."""
    url = os.environ.get("SPINE_DATABASE_URL", "sqlite:///spine.db")
    return url.rsplit("/", 1)[-1] if url.startswith("sqlite") else "the database"


def main() -> None:
    """Print the story of the run on stdin."""
    mode, spine = sys.argv[1], sys.argv[2]
    data = json.load(sys.stdin)
    run = data["run"]
    out = run["outputs"] or {}
    week, status = out.get("week_ending"), out.get("fetch_status")
    skipped = [s["step_name"] for s in data["steps"] if s["status"] == "SKIPPED"]
    print()
    if status != "UNCHANGED":
        print(f"-> {status}: the week's files were fetched ({out.get('records_fetched')} records)")
        print(f"   and {out.get('rows_loaded')} rows loaded under capture {out.get('capture_id')}.")
        rejects = out.get("rejects_by_tier") or {}
        for tier, by_code in rejects.items():
            print(f"   tier {tier}: malformed lines rejected, by reason: {by_code}")
        if mode == "malformed" and rejects:
            print("   The good lines loaded; quality checks graded the week", out.get("grade"))
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
        first = earlier["outputs"]
        print(f"   Run {earlier['run_id']} loaded it first: {first['rows_loaded']} rows.")
        for tier, by_code in (first.get("rejects_by_tier") or {}).items():
            print(f"   tier {tier}: malformed lines rejected then, by reason: {by_code}")
    if mode == "first":
        print(f"   (Remove {database} to watch the first load again.)")


if __name__ == "__main__":
    main()
