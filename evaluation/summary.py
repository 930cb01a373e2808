"""Per-cell summaries of scored trials (pure: numpy only), used by the CLI table, the pages and the API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evaluation import svo


@dataclass(frozen=True)
class TrialRow:
    model: str
    value: str
    strategy: str
    status: str
    angle: float | None
    category: str
    value_rationality: float | None
    category_hit: bool | None
    transitive: bool | None


@dataclass(frozen=True)
class CellSummary:
    model: str
    value: str
    strategy: str
    n_trials: int
    n_scored: int
    n_failed: int
    mean_angle: float | None
    sd_angle: float | None
    categories: dict[str, int]
    mean_value_rationality: float | None
    vr_ci95: tuple[float, float] | None
    hit_rate: float | None
    transitive_rate: float | None
    extraction: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["vr_ci95"] = list(self.vr_ci95) if self.vr_ci95 else None
        return data


def bootstrap_mean_ci(
    values: Sequence[float], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap CI of a mean (Efron & Tibshirani 1993, ch. 13), vectorised over resamples."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_boot, data.size))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def summarise_cell(
    key: tuple[str, str, str], rows: Sequence[TrialRow], extraction_counts: dict[str, int]
) -> CellSummary:
    scored = [r for r in rows if r.status == "scored"]
    angles = [r.angle for r in scored if r.angle is not None]
    rationality = [r.value_rationality for r in scored if r.value_rationality is not None]
    counts = Counter(r.category for r in scored)
    return CellSummary(
        model=key[0],
        value=key[1],
        strategy=key[2],
        n_trials=len(rows),
        n_scored=len(scored),
        n_failed=sum(1 for r in rows if r.status == "failed"),
        mean_angle=float(np.mean(angles)) if angles else None,
        sd_angle=float(np.std(angles, ddof=1)) if len(angles) > 1 else None,
        categories={c: counts.get(c, 0) for c in svo.CATEGORIES},
        mean_value_rationality=float(np.mean(rationality)) if rationality else None,
        vr_ci95=bootstrap_mean_ci(rationality),
        hit_rate=float(np.mean([bool(r.category_hit) for r in scored])) if scored else None,
        transitive_rate=float(np.mean([bool(r.transitive) for r in scored])) if scored else None,
        extraction=dict(extraction_counts),
    )
