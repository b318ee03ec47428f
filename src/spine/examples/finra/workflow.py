"""``finra.weekly_ingest``: fetch a week of FINRA OTC files, parse, check, load.

Steps:
    fetch          find the week's files (one per tier), hash them, name the capture
    transform      a map over the files: the ``finra.parse_tier`` pipeline parses and
                   validates each (bad rows rejected with a reason code) into staging
    quality_check  week-level checks into ``core_quality_checks``; grade F fails the run
    load           insert the valid rows tagged with the capture id, with a manifest and
                   load records; a capture already loaded is skipped

Params: ``week_ending`` (a Friday, default 2025-01-10), ``data_dir`` (default: the
bundled sample files), ``staging_dir`` (default ``.spine/staging``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from spine import Step, Workflow, pipeline
from spine.core.errors import ErrorCategory, InvalidInput, NotFound, SpineError
from spine.examples.finra.parsing import parse
from spine.examples.finra.store import FinraStore
from spine.orchestration.context import StepContext

SAMPLE_DIR = Path(__file__).with_name("data")
DEFAULT_WEEK = "2025-01-10"
ROW_FLOORS = {"T1": 50, "T2": 30, "OTC": 20}  # sample-sized; real files: T1 >= 1,000


class DataQualityFailed(SpineError):
    """The week's data failed a blocking quality check (grade F)."""

    category = ErrorCategory.DATA_QUALITY


@cache
def _store(url: str) -> FinraStore:
    from spine.core.storage import create_database

    return FinraStore(create_database(url))


def store() -> FinraStore:
    """The example's store on spine's database (``SPINE_DATABASE_URL``)."""
    from spine.config import load_settings

    return _store(load_settings().database_url)


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


def fetch(ctx: StepContext) -> dict[str, Any]:
    """Find and hash the week's files."""
    week = week_of(ctx)
    data_dir = Path(str(ctx.params.get("data_dir", SAMPLE_DIR)))
    paths = sorted(data_dir.glob(f"otc_{week.isoformat()}_*.psv"))
    if not paths:
        raise NotFound(f"no FINRA OTC files for week {week} in {data_dir}")
    files: list[dict[str, Any]] = []
    for path in paths:
        content = path.read_bytes()
        files.append(
            {
                "tier": path.stem.rsplit("_", 1)[-1],
                "path": str(path),
                "sha256": hashlib.sha256(content).hexdigest(),
                "bytes": len(content),
            }
        )
    combined = hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest()
    ctx.log.info("found %d files for week %s", len(files), week)
    return {
        "week_ending": week.isoformat(),
        "files": files,
        "content_hash": combined,
        "capture_id": f"finra.otc:{week.isoformat()}:{combined[:12]}",
        "bytes": sum(f["bytes"] for f in files),
    }


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


def quality_check(ctx: StepContext) -> dict[str, Any]:
    """Week-level checks, recorded in core_quality_checks; grade F fails the run."""
    tiers = ctx.outputs["transform"]["results"]
    fetched = ctx.outputs["fetch"]
    checks: list[dict[str, Any]] = []
    for tier in tiers:
        floor = ROW_FLOORS.get(tier["tier"], 1)
        checks.append(
            _check(
                f"row_count_floor.{tier['tier']}",
                tier["tier"],
                tier["row_count"] >= floor,
                "ERROR",
                tier["row_count"],
                floor,
                f"{tier['row_count']} valid rows (floor {floor})",
            )
        )
        ratio = tier["rows_rejected"] / max(tier["rows_read"], 1)
        checks.append(
            _check(
                f"reject_ratio.{tier['tier']}",
                tier["tier"],
                ratio <= 0.05,
                "WARNING",
                round(ratio, 4),
                0.05,
                f"{tier['rows_rejected']} of {tier['rows_read']} rows rejected: "
                f"{tier['rejects_by_code']}",
            )
        )
    volume = sum(_staged_volume(t["staged"]) for t in tiers)
    previous = store().previous_week_volume(fetched["week_ending"])
    if previous:
        change = (volume - previous) / previous
        checks.append(
            _check(
                "volume_change_wow",
                "all",
                abs(change) <= 0.5,
                "WARNING",
                round(change, 4),
                0.5,
                f"total volume {volume:,} vs {previous:,} the week before",
            )
        )
    errors = [c for c in checks if c["status"] == "FAIL"]
    warnings = [c for c in checks if c["status"] == "WARN"]
    grade = "F" if errors else "A" if not warnings else "B" if len(warnings) == 1 else "C"
    store().record_checks(
        checks,
        partition_key=json.dumps({"week_ending": fetched["week_ending"]}),
        capture_id=fetched["capture_id"],
        run_id=ctx.run_id,
        now=_now(),
    )
    if grade == "F":
        raise DataQualityFailed(
            f"week {fetched['week_ending']} graded F: " + "; ".join(c["message"] for c in errors)
        )
    return {
        "grade": grade,
        "passed": True,
        "warnings": len(warnings),
        "checks": [{k: c[k] for k in ("name", "status", "message")} for c in checks],
    }


def load(ctx: StepContext) -> dict[str, Any]:
    """Insert the staged rows under the capture id, unless that capture is loaded."""
    fetched = ctx.outputs["fetch"]
    capture_id = fetched["capture_id"]
    if store().capture_loaded(capture_id):
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
    inserted = store().load(
        rows,
        capture_id=capture_id,
        partition_key=json.dumps({"week_ending": fetched["week_ending"]}),
        tier_counts=tier_counts,
        content_hash=fetched["content_hash"],
        run_id=ctx.run_id,
        now=_now(),
    )
    return {"row_count": inserted, "capture_id": capture_id, "skipped": False}


def _check(
    name: str,
    target: str,
    passed: bool,
    severity: str,
    value: float,
    threshold: float,
    message: str,
) -> dict[str, Any]:
    status = "PASS" if passed else ("FAIL" if severity == "ERROR" else "WARN")
    return {
        "name": name,
        "target": target,
        "status": status,
        "severity": severity,
        "value": value,
        "threshold": threshold,
        "message": message,
    }


def _staged_volume(path: str) -> int:
    with open(path, encoding="utf-8") as staged:
        return sum(json.loads(line)["shares"] for line in staged)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


weekly_ingest = Workflow(
    "finra.weekly_ingest",
    [
        Step.lambda_("fetch", fetch),
        Step.map(
            "transform", "fetch.files", Step.pipeline("parse", "finra.parse_tier"), concurrency=3
        ),
        Step.lambda_("quality_check", quality_check),
        Step.lambda_("load", load),
    ],
    domain="finra.otc_transparency",
)
