"""The logical time of a run and the data interval it covers, kept in its partition key.

A scheduled fire, ``spine schedules trigger`` and ``spine backfill`` create runs *for* a
logical time: the fire time, plus the interval of data it covers (Airflow's
``data_interval_start`` / ``data_interval_end``). It is stored as the run's
``partition_key``, canonical JSON of the three ISO-8601 UTC times, so that it needs no
column of its own, shows in ``spine runs show --json``, is inherited by child runs, and
reaches steps as ``ctx.logical_time``, ``ctx.data_interval_start`` and
``ctx.data_interval_end``. A run started by hand with ``--partition-key`` holding these
keys gets them too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spine.core.clock import ensure_utc
from spine.core.errors import InvalidInput

KEYS = ("logical_time", "data_interval_start", "data_interval_end")


@dataclass(frozen=True, slots=True)
class DataInterval:
    """A run's logical time and the half-open interval ``[start, end)`` of data it covers.

    Times are aware UTC. For a one-off fire ``start == end == logical_time``.
    """

    logical_time: datetime
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("logical_time", "start", "end"):
            object.__setattr__(self, name, ensure_utc(getattr(self, name)))
        if self.start > self.end:
            raise InvalidInput(
                f"data interval starts ({_iso(self.start)}) after it ends ({_iso(self.end)})"
            )

    def to_dict(self) -> dict[str, str]:
        """The three times as ISO-8601 UTC strings, under their context names."""
        return {
            "logical_time": _iso(self.logical_time),
            "data_interval_start": _iso(self.start),
            "data_interval_end": _iso(self.end),
        }

    def partition_key(self) -> str:
        """The run's ``partition_key``: canonical JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def interval_of(partition_key: str | None) -> DataInterval | None:
    """The data interval a run's partition key holds, or ``None`` if it holds none.

    A partition key that is not a JSON object with the three keys (a hand-made one, say
    ``{"week_ending": "2025-01-10"}``) holds none; it is not an error.
    """
    if not partition_key or not partition_key.startswith("{"):
        return None
    try:
        value: Any = json.loads(partition_key)
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in KEYS):
        return None
    try:
        return DataInterval(
            datetime.fromisoformat(value["logical_time"]),
            datetime.fromisoformat(value["data_interval_start"]),
            datetime.fromisoformat(value["data_interval_end"]),
        )
    except (ValueError, InvalidInput):
        return None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
