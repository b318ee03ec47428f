"""``finra.weekly_ingest``: fetch a week of FINRA OTC files, parse, load, check.

Steps:
    fetch          set up the example's automation rules on first use (``automation.yaml``:
                   a failed run alerts the role ``finra-oncall``, see
                   :mod:`spine.examples.finra.automation`), then
                   fetch the file source ``finra.otc_weekly`` (a glob over the week's
                   files, one per tier; registered on first use): hashes, record counts,
                   change detection; the fetch row is linked to the run and the capture
    changed        a choice: an UNCHANGED week whose capture is already loaded skips
                   straight to ``report``
    transform      a map over the files: the ``finra.parse_tier`` pipeline parses and
                   validates each (bad rows rejected with a reason code) into staging
    load           insert the valid rows tagged with the capture id, with a manifest and
                   load records; a capture already loaded is skipped
    quality_check  ``spine.quality.checks_step`` over the checks of ``quality.yaml`` on
                   the loaded table (connection ``finra`` and the checks are set up on
                   first use, see :mod:`spine.examples.finra.checks`): a check failing
                   at error or fatal fails the run, and opens an incident
    report         what happened: fetch status, capture, rows loaded or why not, checks

Params: ``week_ending`` (a Friday, default 2025-01-10), ``data_dir`` (default: the
bundled sample files), ``staging_dir`` (default ``.spine/staging``), ``force`` (fetch and
load even if unchanged).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from spine import Step, Workflow, pipeline
from spine.core.errors import InvalidInput
from spine.examples.finra.automation import set_up_automation
from spine.examples.finra.checks import CONNECTION, TABLE, set_up_checks
from spine.examples.finra.parsing import parse
from spine.examples.finra.store import DOMAIN, FinraStore
from spine.orchestration.context import StepContext
from spine.quality import checks_step
from spine.sources import run_fetch

SAMPLE_DIR = Path(__file__).with_name("data")
DEFAULT_WEEK = "2025-01-10"
SOURCE = "finra.otc_weekly"


def store(ctx: StepContext) -> FinraStore:
    """The example's store on spine's database, which the step's context carries."""
    return FinraStore(ctx.database)


def register_source(ctx: StepContext) -> None:
    """Register the file source ``finra.otc_weekly`` unless it exists (idempotent).

    Its path is a glob with two placeholders; ``data_dir`` defaults to the bundled
    sample files, so ``spine sources fetch finra.otc_weekly --param
    week_ending=2025-01-10`` works as it is. A source the user changed is kept.
    """
    ctx.sources.add(
        SOURCE,
        "file",
        {
            "path": "{data_dir}/otc_{week_ending}_*.psv",
            "format": "psv",
            "params": {"data_dir": str(SAMPLE_DIR)},
        },
        domain=DOMAIN,
        created_by="spine.examples.finra",
        if_absent=True,
    )


def week_of(ctx: StepContext) -> date:
    """The ``week_ending`` param, which must be a Friday."""
    raw = str(ctx.params.get("week_ending", DEFAULT_WEEK))
    try:
        week = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"INVALID_DATE: week_ending {raw!r} is not YYYY-MM-DD") from None
    if week.weekday() != 4:
        raise InvalidInput(f"NOT_FRIDAY: week_ending {raw} is a {week:%A}; weeks end on Friday")
    return week


def _forced(ctx: StepContext) -> bool:
    return str(ctx.params.get("force", "false")).lower() in ("1", "true", "yes")


def fetch(ctx: StepContext) -> dict[str, Any]:
    """Fetch the week's files from the source; UNCHANGED when they are the same bytes."""
    # Before anything can fail: a failed run alerts finra-oncall (automation.yaml).
    set_up_automation(ctx)
    week = week_of(ctx)
    store(ctx).create_tables()
    register_source(ctx)
    params = {"week_ending": week.isoformat()}
    if ctx.params.get("data_dir"):
        params["data_dir"] = str(ctx.params["data_dir"])
    result = run_fetch(ctx, SOURCE, params, force=_forced(ctx))
    files = [
        {
            "tier": Path(f["path"]).stem.rsplit("_", 1)[-1],
            "path": f["path"],
            "sha256": f["sha256"],
            "bytes": f["size"],
            "records": f["records"],
        }
        for f in result.metadata["files"]
    ]
    ctx.log.info("fetched %d files for week %s: %s", len(files), week, result.status.value)
    return {
        "week_ending": week.isoformat(),
        "status": result.status.value,
        "fetch_id": result.fetch_id,
        "files": files,
        "content_hash": result.content_hash,
        "capture_id": result.capture_id,
        "record_count": result.record_count,
        "bytes": result.byte_count,
    }


def changed(ctx: StepContext) -> str | None:
    """Skip to ``report`` when the fetch was UNCHANGED and its capture is loaded."""
    fetched = ctx.outputs["fetch"]
    if fetched["status"] == "UNCHANGED" and store(ctx).capture_loaded(fetched["capture_id"]):
        return "report"
    return None


@pipeline("finra.parse_tier")
def parse_tier(ctx: StepContext) -> dict[str, Any]:
    """Parse and validate one tier's file into a staged JSON-lines file."""
    item = ctx.item
    week = week_of(ctx)
    parsed = parse(Path(item["path"]).read_text(encoding="utf-8"), week)
    staging = Path(str(ctx.params.get("staging_dir", ".spine/staging"))) / ctx.run_id
    staging.mkdir(parents=True, exist_ok=True)
    staged = staging / f"{item['tier']}.jsonl"
    with staged.open("w", encoding="utf-8") as out:
        for row in parsed.rows:
            out.write(json.dumps(row) + "\n")
    return {
        "tier": item["tier"],
        "rows_read": len(parsed.rows) + len(parsed.rejects),
        "row_count": len(parsed.rows),
        "rows_rejected": len(parsed.rejects),
        "rejects_by_code": parsed.reject_counts(),
        "rejects": parsed.rejects[:20],
        "staged": str(staged),
    }


def load(ctx: StepContext) -> dict[str, Any]:
    """Insert the staged rows under the capture id, unless that capture is loaded."""
    fetched = ctx.outputs["fetch"]
    capture_id = fetched["capture_id"]
    if store(ctx).capture_loaded(capture_id):
        return {
            "skipped": True,
            "capture_id": capture_id,
            "reason": "this capture (same week, same bytes) is already loaded",
        }
    rows: list[dict[str, Any]] = []
    tier_counts: dict[str, dict[str, Any]] = {}
    for tier in ctx.outputs["transform"]["results"]:
        with open(tier["staged"], encoding="utf-8") as staged:
            tier_rows = [json.loads(line) for line in staged]
        rows.extend(tier_rows)
        tier_counts[tier["tier"]] = {
            "read": tier["rows_read"],
            "valid": len(tier_rows),
            "rejected": tier["rows_rejected"],
            "rejects": tier["rejects"],
        }
    inserted = store(ctx).load(
        rows,
        capture_id=capture_id,
        partition_key=json.dumps({"week_ending": fetched["week_ending"]}),
        tier_counts=tier_counts,
        content_hash=fetched["content_hash"],
        run_id=ctx.run_id,
        now=_now(),
    )
    return {"row_count": inserted, "capture_id": capture_id, "skipped": False}


#: The checks of the loaded table: a failure at error or fatal fails the step (and the run).
_run_checks = checks_step("quality_check", table=TABLE, connection=CONNECTION, fail_on="error")


def quality_check(ctx: StepContext) -> dict[str, Any]:
    """Run the loaded table's checks (one scan), after setting them up on first use.

    Sets the step's ``quality_passed`` and ``quality_metrics``; a check failing at error
    or above fails the step (DATA_QUALITY, not retried) with the checks' names, and its
    incident opens (``spine incidents list``). Warnings only show in the metrics.
    """
    set_up_checks(ctx)
    assert _run_checks.fn is not None
    outputs: dict[str, Any] = _run_checks.fn(ctx)
    return outputs


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def report(ctx: StepContext) -> dict[str, Any]:
    """The run's summary (its outputs): fetch status, capture, what was loaded."""
    fetched = ctx.outputs["fetch"]
    loaded = ctx.outputs.get("load", {})
    summary: dict[str, Any] = {
        "week_ending": fetched["week_ending"],
        "fetch_status": fetched["status"],
        "capture_id": fetched["capture_id"],
        "records_fetched": fetched["record_count"],
    }
    if "row_count" in loaded and not loaded.get("skipped"):
        summary["rows_loaded"] = loaded["row_count"]
        rejected = {
            t["tier"]: t["rejects_by_code"]
            for t in ctx.outputs["transform"]["results"]
            if t["rows_rejected"]
        }
        summary["rejects_by_tier"] = rejected
        checked = ctx.outputs["quality_check"]
        summary["checks"] = {key: checked[key] for key in ("checks", "passed", "failed")}
        summary["checks_failed"] = sorted(
            name for name, result in checked["results"].items() if not result["rule_passed"]
        )
    else:
        summary["rows_loaded"] = 0
        summary["skipped"] = loaded.get("reason") or (
            "the source is UNCHANGED and this capture is already loaded"
        )
    return summary


weekly_ingest = Workflow(
    "finra.weekly_ingest",
    [
        Step.lambda_("fetch", fetch),
        Step.choice("changed", changed),
        Step.map(
            "transform", "fetch.files", Step.pipeline("parse", "finra.parse_tier"), concurrency=3
        ),
        Step.lambda_("load", load),
        Step.lambda_("quality_check", quality_check),
        Step.lambda_("report", report),
    ],
    domain=DOMAIN,
)
