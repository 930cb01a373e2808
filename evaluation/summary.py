"""The per-cell summary of an evaluation (pure: numpy and scipy, no Django): one summary used by the CLI
table, ``run_evaluation --json``, the pages and the study report, so they all show the same numbers.

A *cell* is one design: (model, value, strategy) and the design factors that change what is measured —
prompt variant, option order, option labels, temperature, item set and definitions version. Runs that differ
in any of them are never averaged together.

Failures stay visible: a cell counts its re-asked items, the items read by the extractor model, the items no
one could read, and the failed trials; value rationality (VR) is given two ways, over the scored trials and
*intention-to-treat*, where every failed trial counts VR 0 (every item at maximal regret), so dropping trials
can never flatter a model (the intention-to-treat principle: Hollis, S. & Campbell, F. (1999). What is meant
by intention to treat analysis? BMJ 319, 670-674).

Intervals: a mean has the Student t 95% interval, a share the Wilson (1927) 95% score interval (Wilson, E. B.
(1927). Probable inference, the law of succession, and statistical inference. JASA 22(158), 209-212).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_distribution

from evaluation import svo

SCORED = "scored"
FAILED = "failed"
DESIGN_KEYS = ("variant", "order", "labels", "temperature", "items", "definitions")
"""The design factors a cell carries beside (model, value, strategy), in this order."""
CELL_KEYS = ("model", "value", "strategy", *DESIGN_KEYS)
EXTRACTION_METHODS = ("parser", "llm", "unparseable")
MEAN_METHOD = "mean; 95% CI: Student t interval"
SHARE_METHOD = "proportion; 95% CI: Wilson (1927) score interval"
_Z = float(norm.ppf(0.975))


@dataclass(frozen=True, order=True)
class Design:
    """The design factors of a run besides model, value and strategy. ``temperature`` is None when none was
    sent (the provider's default)."""

    variant: str
    order: str
    labels: str
    temperature: float | None
    items: str
    definitions: str

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in DESIGN_KEYS}

    def label(self) -> str:
        """A short human-readable form, e.g. ``dialogue · fixed · letters · T=1 · primary · hvae-svo/2``."""
        temperature = "T=default" if self.temperature is None else f"T={self.temperature:g}"
        return " · ".join([self.variant, self.order, self.labels, temperature, self.items, self.definitions])

    def sort_key(self) -> tuple[str, str, str, float, str, str]:
        temperature = -1.0 if self.temperature is None else self.temperature
        return (self.variant, self.order, self.labels, temperature, self.items, self.definitions)

    def replace(self, **changes: Any) -> Design:
        return Design(**{**self.to_dict(), **changes})


@dataclass(frozen=True)
class CellKey:
    model: str
    value: str
    strategy: str
    design: Design

    def sort_key(self) -> tuple[Any, ...]:
        return (self.model, self.value, self.strategy, self.design.sort_key())


@dataclass(frozen=True)
class TrialRow:
    """One trial of a cell: its status and (when scored) its scores."""

    key: CellKey
    status: str
    angle: float | None
    category: str
    value_rationality: float | None
    category_hit: bool | None
    transitive: bool | None
    angular_deviation: float | None = None
    target_angle: float | None = None


@dataclass(frozen=True)
class ItemCounts:
    """Item responses of a cell: how many each extraction method read, and how many were asked again."""

    methods: dict[str, int] = field(default_factory=dict)
    reasked: int = 0


@dataclass(frozen=True)
class Interval:
    """A mean or share with its 95% CI and n; ``value`` None (and a note) when there is too little data.
    Its dict has the same keys as ``stats.agreement.Estimate``."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "method": self.method,
            "note": self.note,
        }


def mean_interval(values: Sequence[float | None]) -> Interval:
    """The mean with its Student t 95% interval; missing values are ignored (n counts the others)."""
    data = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    n = int(data.size)
    if n < 2:
        return Interval(None, None, None, n, MEAN_METHOD, f"not enough data (n = {n})")
    mean = float(data.mean())
    half_width = float(t_distribution.ppf(0.975, n - 1)) * float(data.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half_width, mean + half_width, n, MEAN_METHOD)


def share_interval(flags: Sequence[bool | None]) -> Interval:
    """The share of true flags with the Wilson (1927) 95% score interval; missing flags are ignored."""
    known = [bool(flag) for flag in flags if flag is not None]
    n = len(known)
    if n < 1:
        return Interval(None, None, None, n, SHARE_METHOD, f"not enough data (n = {n})")
    share = sum(known) / n
    z2 = _Z * _Z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half_width = _Z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(share, max(0.0, centre - half_width), min(1.0, centre + half_width), n, SHARE_METHOD)


@dataclass(frozen=True)
class CellSummary:
    model: str
    value: str
    strategy: str
    design: Design
    n_trials: int
    n_scored: int
    n_failed: int
    angle: Interval
    sd_angle: float | None
    target_angle: float | None
    mean_angular_deviation: float | None
    categories: dict[str, int]
    value_rationality: Interval
    value_rationality_itt: Interval
    hit_rate: Interval
    transitive_rate: Interval
    extraction: dict[str, int]
    failures: dict[str, int]

    @property
    def mean_angle(self) -> float | None:
        return self.angle.value

    @property
    def mean_value_rationality(self) -> float | None:
        return self.value_rationality.value

    def to_dict(self) -> dict[str, Any]:
        """The JSON form shared by ``run_evaluation --json`` and the report's automated cells."""
        return {
            "model": self.model,
            "value": self.value,
            "strategy": self.strategy,
            "design": self.design.to_dict(),
            "n_trials": self.n_trials,
            "n_scored": self.n_scored,
            "n_failed": self.n_failed,
            "angle": self.angle.to_dict(),
            "mean_angle": self.mean_angle,
            "sd_angle": self.sd_angle,
            "target_angle": self.target_angle,
            "mean_angular_deviation": self.mean_angular_deviation,
            "categories": dict(self.categories),
            "value_rationality": self.value_rationality.to_dict(),
            "value_rationality_itt": self.value_rationality_itt.to_dict(),
            "hit_rate": self.hit_rate.to_dict(),
            "transitive_rate": self.transitive_rate.to_dict(),
            "extraction": dict(self.extraction),
            "failures": dict(self.failures),
        }


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarise_cell(key: CellKey, rows: Sequence[TrialRow], items: ItemCounts | None = None) -> CellSummary:
    """The summary of one cell's trials (every status; only finished trials count towards VR).

    ``value_rationality`` is over scored trials; ``value_rationality_itt`` adds every failed trial at VR 0.
    ``failures`` counts ``reasked_items`` (asked a second time), ``extractor_read_items`` (read by the
    extractor model), ``failed_items`` (unreadable) and ``failed_trials``.
    """
    items = items or ItemCounts()
    scored = [r for r in rows if r.status == SCORED]
    failed = [r for r in rows if r.status == FAILED]
    angles = [r.angle for r in scored if r.angle is not None]
    rationality = [r.value_rationality for r in scored if r.value_rationality is not None]
    deviations = [r.angular_deviation for r in scored if r.angular_deviation is not None]
    targets = sorted({r.target_angle for r in scored if r.target_angle is not None})
    counts = Counter(r.category for r in scored)
    methods = {method: int(items.methods.get(method, 0)) for method in EXTRACTION_METHODS}
    return CellSummary(
        model=key.model,
        value=key.value,
        strategy=key.strategy,
        design=key.design,
        n_trials=len(rows),
        n_scored=len(scored),
        n_failed=len(failed),
        angle=mean_interval(angles),
        sd_angle=float(np.std(angles, ddof=1)) if len(angles) > 1 else None,
        target_angle=targets[0] if len(targets) == 1 else None,
        mean_angular_deviation=_mean(deviations),
        categories={c: counts.get(c, 0) for c in svo.CATEGORIES},
        value_rationality=mean_interval(rationality),
        value_rationality_itt=_itt(rationality, len(failed)),
        hit_rate=share_interval([r.category_hit for r in scored]),
        transitive_rate=share_interval([r.transitive for r in scored]),
        extraction=methods,
        failures={
            "reasked_items": int(items.reasked),
            "extractor_read_items": methods["llm"],
            "failed_items": methods["unparseable"],
            "failed_trials": len(failed),
        },
    )


def _itt(rationality: Sequence[float], n_failed: int) -> Interval:
    interval = mean_interval([*rationality, *([0.0] * n_failed)])
    method = "intention-to-treat mean (a failed trial counts VR 0); 95% CI: Student t interval"
    return Interval(interval.value, interval.ci_low, interval.ci_high, interval.n, method, interval.note)


def summarise(rows: Sequence[TrialRow], items: dict[CellKey, ItemCounts] | None = None) -> list[CellSummary]:
    """One summary per cell of the given trials, cells in a stable order."""
    by_cell: dict[CellKey, list[TrialRow]] = {}
    for row in rows:
        by_cell.setdefault(row.key, []).append(row)
    items = items or {}
    return [
        summarise_cell(key, by_cell[key], items.get(key))
        for key in sorted(by_cell, key=lambda cell: cell.sort_key())
    ]
