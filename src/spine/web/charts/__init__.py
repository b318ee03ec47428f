"""Charts drawn on the server as SVG: no JavaScript, no chart library (docs/decisions.md).

Every chart is an ``<svg role="img">`` with an ``aria-label`` saying what it shows, and
every data mark (a bar, a point, a step's span) has the class ``mark`` and a ``<title>``
a pointer shows. Each chart module draws one kind: :mod:`.bars` (stacked bars per day),
:mod:`.sparkline`, :mod:`.gantt` (a run's steps on a time axis), :mod:`.series` (values
over time with thresholds and a band).
"""

from __future__ import annotations

from spine.web.charts.bars import stacked_bars
from spine.web.charts.gantt import GanttRow, Span, gantt
from spine.web.charts.series import BandPoint, Point, Threshold, series
from spine.web.charts.sparkline import sparkline

__all__ = [
    "BandPoint",
    "GanttRow",
    "Point",
    "Span",
    "Threshold",
    "gantt",
    "series",
    "sparkline",
    "stacked_bars",
]
