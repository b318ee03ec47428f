"""Anomaly detection quality: spine's robust detector against a plain 14-point z-score.

    .venv/bin/python -m benchmarks.anomaly              # 8 kinds x 8 seeds, 182 days each
    .venv/bin/python -m benchmarks.anomaly --seeds 20 --seed 7

Labelled synthetic daily series (seeded, so every run prints the same figures): noise
alone, spikes, drops, level shifts, weekly seasonality with spikes and drops, weekly
seasonality with holiday dips (a weekday at weekend level), noisy series, and sparse
counts (a ``null_count`` that is mostly 0 to 5). Every series has eight clean weeks of
warm-up; anomalies come after them and only points after them are scored, for every
detector alike. Each detector judges the series point by point in time order, as
production does; spine keeps its verdicts and excludes its flagged points from training
(through ``HistoryPoint.flagged``), the z-score does what Elementary does by default (mean
and standard deviation of the previous 14 points, ``|z| > 3``, nothing excluded).

A level shift's first point is the anomaly; the two points after it are not scored
(neither flagging them nor missing them counts): whether the third day of a new level is
still news is a matter of taste, and both detectors get the same allowance.

Scores are counted over all scored points of all series (micro average): precision =
TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean. The detectors run with
one configuration for every series: spine with its defaults, and with
``seasonality: day_of_week`` forced on every series; no tuning per series.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from spine.quality.models import CheckDefinition, TargetType
from spine.quality.rules import HistoryPoint, judge

START = datetime(2026, 1, 5, 6, tzinfo=UTC)  # a Monday
WARM_UP = 56  # days: eight weeks before any anomaly, and before any point is scored
KINDS = (
    "noise",
    "spikes",
    "drops",
    "level_shift",
    "weekly",
    "holiday",
    "noisy",
    "sparse_counts",
)
#: A label per point: True an anomaly, False normal, None not scored.
Label = bool | None


@dataclass(slots=True)
class Series:
    """One labelled series of daily values."""

    kind: str
    values: list[float]
    labels: list[Label]


@dataclass(slots=True)
class Score:
    """True and false positives and negatives over scored points."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, flagged: Sequence[bool], labels: Sequence[Label]) -> None:
        for flag, label in zip(flagged, labels, strict=True):
            if label is None:
                continue
            if label and flag:
                self.tp += 1
            elif label:
                self.fn += 1
            elif flag:
                self.fp += 1
            else:
                self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _anomaly_days(rng: random.Random, length: int, count: int) -> list[int]:
    """``count`` days after the warm-up, at least six days apart."""
    days: list[int] = []
    while len(days) < count:
        day = rng.randrange(WARM_UP, length - 3)
        if all(abs(day - other) >= 6 for other in days):
            days.append(day)
    return sorted(days)


def make_series(kind: str, rng: random.Random, length: int) -> Series:
    """One labelled series of ``kind`` (see the module docstring)."""
    level = math.exp(rng.uniform(math.log(1_000), math.log(1_000_000)))
    relative_noise = {"noisy": 0.08}.get(kind, rng.choice([0.01, 0.02, 0.04]))
    weekly = kind in ("weekly", "holiday")
    weekend = rng.uniform(0.35, 0.7)
    labels: list[Label] = [False] * length
    if kind == "sparse_counts":
        mean = rng.uniform(0.5, 3)
        values = [float(_poisson(rng, mean)) for _ in range(length)]
        for day in _anomaly_days(rng, length, rng.randint(2, 4)):
            values[day] += rng.randint(15, 60)
            labels[day] = True
        return Series(kind, values, labels)

    def base(day: int) -> float:
        return level * (weekend if weekly and day % 7 in (5, 6) else 1.0)

    shift = [1.0] * length
    if kind == "level_shift":
        for day in _anomaly_days(rng, length - 14, rng.randint(1, 2)):
            factor = 1 + rng.choice([-1, 1]) * rng.uniform(0.2, 0.5)
            for later in range(day, length):
                shift[later] *= factor
            labels[day] = True
            labels[day + 1] = labels[day + 2] = None
    values = [
        max(0.0, base(day) * shift[day] * (1 + rng.gauss(0, relative_noise)))
        for day in range(length)
    ]
    if kind in ("spikes", "drops", "weekly", "noisy"):
        for day in _anomaly_days(rng, length, rng.randint(3, 5)):
            up = kind == "spikes" or (kind != "drops" and rng.random() < 0.5)
            size = rng.uniform(5, 12) * relative_noise * base(day)
            values[day] = max(0.0, values[day] + size if up else values[day] - size)
            if not up and kind == "drops":
                values[day] = values[day] * rng.uniform(0.3, 0.8)  # a partial load
            labels[day] = True
    if kind == "holiday":
        weekdays = [day for day in _anomaly_days(rng, length, 6) if day % 7 < 5][:3]
        for day in weekdays:
            values[day] = level * weekend * (1 + rng.gauss(0, relative_noise))
            labels[day] = True
    return Series(kind, values, labels)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _check(config: dict[str, Any]) -> CheckDefinition:
    return CheckDefinition(
        id=uuid.UUID(int=0),
        workspace_id=uuid.UUID(int=0),
        connection_id=uuid.UUID(int=0),
        connection_name="bench",
        name="bench",
        check_type="row_count",
        target_type=TargetType.TABLE,
        target_table="t",
        config=config,
        created_at=START,
        updated_at=START,
    )


def spine_detector(options: dict[str, Any]) -> Callable[[Sequence[float]], list[bool]]:
    """Spine's ``judge`` over a series, point by point, its own flags fed back."""
    check = _check({"anomaly": options})

    def run(values: Sequence[float]) -> list[bool]:
        history: list[HistoryPoint] = []
        flags = []
        for day, value in enumerate(values):
            now = START + timedelta(days=day)
            verdict = judge(check, value, history, now=now)
            flagged = bool(verdict.details["anomaly"]["flagged"])
            flags.append(flagged)
            history.append(HistoryPoint(executed_at=now, value=value, flagged=flagged))
        return flags

    return run


def zscore_detector(values: Sequence[float], window: int = 14, limit: float = 3.0) -> list[bool]:
    """Elementary's default: ``|z| > 3`` against the previous 14 points, all of them."""
    flags = []
    for day, value in enumerate(values):
        train = values[max(0, day - window) : day]
        if len(train) < window:
            flags.append(False)
            continue
        spread = statistics.stdev(train)
        flags.append(spread > 0 and abs(value - statistics.fmean(train)) / spread > limit)
    return flags


@dataclass(slots=True)
class Results:
    """Scores per detector, overall and per kind of series."""

    overall: dict[str, Score] = field(default_factory=dict)
    by_kind: dict[str, dict[str, Score]] = field(default_factory=dict)


DETECTORS: dict[str, Callable[[Sequence[float]], list[bool]]] = {
    "z-score (14 points, |z| > 3)": zscore_detector,
    "spine (defaults)": spine_detector({}),
    "spine (seasonality: day_of_week)": spine_detector({"seasonality": "day_of_week"}),
}


SHORT = ("z-score", "spine defaults", "spine day_of_week")


def evaluate(seed: int, seeds: int, length: int) -> Results:
    """Score every detector on ``seeds`` series of each kind, ``length`` days each."""
    results = Results()
    for name in DETECTORS:
        results.overall[name] = Score()
        results.by_kind[name] = {kind: Score() for kind in KINDS}
    for index in range(seeds):
        for kind in KINDS:
            rng = random.Random(f"{seed}:{index}:{kind}")
            series = make_series(kind, rng, length)
            labels = [None if day < WARM_UP else label for day, label in enumerate(series.labels)]
            for name, detector in DETECTORS.items():
                flags = detector(series.values)
                results.overall[name].add(flags, labels)
                results.by_kind[name][kind].add(flags, labels)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--seeds", type=int, default=8, help="series of each kind")
    parser.add_argument("--days", type=int, default=182)
    args = parser.parse_args(argv)
    results = evaluate(args.seed, args.seeds, args.days)
    count = args.seeds * len(KINDS)
    print(f"{count} series of {args.days} days, seed {args.seed}; scored from day {WARM_UP}")
    print(f"  {'detector':<36} {'precision':>9} {'recall':>7} {'F1':>6}   TP  FP  FN")
    for name, score in results.overall.items():
        print(
            f"  {name:<36} {score.precision:>9.3f} {score.recall:>7.3f} {score.f1:>6.3f}"
            f"  {score.tp:>3} {score.fp:>3} {score.fn:>3}"
        )
    print("by kind of series, F1 (TP/FP/FN):")
    print("  " + f"{'kind':<14}" + "".join(f"{short:>22}" for short in SHORT))
    for kind in KINDS:
        cells = ""
        for name in DETECTORS:
            score = results.by_kind[name][kind]
            cells += f"{score.f1:>9.3f} ({score.tp:>3}/{score.fp:>3}/{score.fn:>3})"
        print(f"  {kind:<14}{cells}")


if __name__ == "__main__":
    main(sys.argv[1:])
