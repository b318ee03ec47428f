"""Data quality (spec 004): checks on users' tables, their results, incidents and schedules.

A check measures one number (the sensor value) on a table or column of a registered
connection and judges it against thresholds and its own history. See docs/quality.md.
"""

from spine.quality.models import (
    CheckDefinition,
    CheckOutcome,
    CheckResult,
    Incident,
    IncidentStatus,
    Job,
    JobStatus,
    Measurement,
    QualityEvent,
    QualitySummary,
    SensorValue,
    Severity,
    TargetType,
    Verdict,
)
from spine.quality.step import QualityFailed, checks_step

__all__ = [
    "CheckDefinition",
    "CheckOutcome",
    "CheckResult",
    "Incident",
    "IncidentStatus",
    "Job",
    "JobStatus",
    "Measurement",
    "QualityEvent",
    "QualityFailed",
    "QualitySummary",
    "SensorValue",
    "Severity",
    "TargetType",
    "Verdict",
    "checks_step",
]
