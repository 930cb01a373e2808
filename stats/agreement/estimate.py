"""The Estimate every agreement statistic returns, the shared constants, and helpers used by several statistics.

Pure module: numpy, pandas and scipy only, no Django.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Label = TypeVar("Label", bound=Hashable)

ORDERED_CATEGORIES = ("competitive", "individualistic", "prosocial", "altruistic")
"""SVO categories from least to most other-regarding (Murphy, Ackermann & Handgraaf 2011)."""

KappaWeights = Literal["linear", "quadratic"]
MeasurementLevel = Literal["nominal", "ordinal", "interval", "ratio"]
ICC_FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")

CONFIDENCE_LEVEL = 0.95
_Z = 1.959963984540054  # standard normal quantile 0.975
_UPPER_QUANTILE = 1 - (1 - CONFIDENCE_LEVEL) / 2
MIN_BOOTSTRAP_RESAMPLES = 100
# Resample chunks are sized so that one chunk's index matrix holds about this many entries: large enough to
# vectorise, small enough to stay in cache (10,000 items x 1,000 resamples in one block is 3x slower).
_BOOTSTRAP_BLOCK_ENTRIES = 1 << 20
# Mean squares below this fraction of the overall variance are floating-point residue of an exact zero.
_RELATIVE_ZERO = 1e-12


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95% confidence interval, the number of items it rests on, and how it was made.

    ``value`` is ``None`` when the statistic cannot be computed (too little data, or undefined on these data);
    ``note`` then says why. Bounds may be ``None`` while the value is available when an interval is
    undefined (the note says so). No field is ever NaN or infinite.
    """

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("value", "ci_low", "ci_high"):
            number = getattr(self, name)
            if number is not None and not math.isfinite(number):
                raise ValueError(f"Estimate.{name} must be finite or None, got {number!r}")
        if self.n < 0:
            raise ValueError(f"Estimate.n must be non-negative, got {self.n}")

    @property
    def is_available(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "method": self.method,
            "note": self.note,
        }


# ---------------------------------------------------------------------------------------------------------
# shared helpers


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def _not_enough_data(n: int, method: str, *notes: str) -> Estimate:
    return Estimate(None, None, None, n, method, _join(f"not enough data (n = {n})", *notes))


def _undefined(n: int, method: str, reason: str, *notes: str) -> Estimate:
    return Estimate(None, None, None, n, method, _join(f"undefined: {reason} (n = {n})", *notes))


def _finite_or_none(number: float | None) -> float | None:
    if number is None:
        return None
    number = float(number)
    return number if math.isfinite(number) else None


def _make_estimate(
    value: float,
    interval: tuple[float | None, float | None],
    n: int,
    method: str,
    *notes: str,
) -> Estimate:
    low, high = (_finite_or_none(bound) for bound in interval)
    extra = ""
    if (low is None) != (high is None) or (low is None and interval != (None, None)):
        extra = "one or both confidence bounds are unbounded or undefined on these data"
    return Estimate(float(value), low, high, n, method, _join(*notes, extra))


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_bootstrap(seed: int, n_boot: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer):
        raise ValueError(f"n_boot must be an integer, got {n_boot!r}")
    if n_boot < MIN_BOOTSTRAP_RESAMPLES:
        raise ValueError(
            f"n_boot must be at least {MIN_BOOTSTRAP_RESAMPLES} for a 95% interval, got {n_boot}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")


def _bootstrap_replicates(
    statistic: Callable[[FloatArray], FloatArray], n_items: int, *, seed: int, n_boot: int
) -> FloatArray:
    """The statistic on ``n_boot`` resamples of the items, drawn with replacement (Efron & Tibshirani 1993).

    ``statistic`` takes a (resamples x items) matrix of how often each item was drawn and returns one value
    per resample, so every statistic here is evaluated for a whole block of resamples with array operations.
    """
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BOOTSTRAP_BLOCK_ENTRIES // max(n_items, 1)))
    replicates = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        drawn = rng.integers(0, n_items, size=(size, n_items))
        drawn += (np.arange(size, dtype=np.int64) * n_items)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=size * n_items).reshape(size, n_items)
        replicates[start : start + size] = statistic(counts.astype(np.float64))
    return replicates


def _percentile_interval(replicates: FloatArray) -> tuple[tuple[float | None, float | None], str]:
    """The 2.5th and 97.5th percentiles of the defined bootstrap replicates (Efron & Tibshirani 1993, 13.3)."""
    defined = replicates[np.isfinite(replicates)]
    undefined = replicates.size - defined.size
    note = ""
    if undefined:
        note = (
            f"{undefined} of {replicates.size} bootstrap resamples had no defined value "
            "(e.g. a single category) and were left out"
        )
    if defined.size < replicates.size / 2:
        return (None, None), _join(note, "too few defined resamples for a confidence interval")
    low, high = np.percentile(defined, [100 * (1 - CONFIDENCE_LEVEL) / 2, 100 * _UPPER_QUANTILE])
    return (float(low), float(high)), note


def _bootstrap_method(unit: str, seed: int, n_boot: int) -> str:
    return f"95% CI: percentile bootstrap over {unit} ({n_boot} resamples, seed {seed})"


def _rows(table: Any, what: str) -> list[list[Any]]:
    """A list-of-lists, 2-D array or DataFrame as a list of row lists."""
    if isinstance(table, pd.DataFrame):
        return [list(row) for row in table.astype(object).to_numpy()]
    if isinstance(table, np.ndarray):
        if table.ndim != 2:
            raise ValueError(f"{what} must be two-dimensional, got an array of shape {table.shape}")
        return [list(row) for row in table.tolist()]
    if isinstance(table, str | bytes) or not isinstance(table, Iterable):
        raise ValueError(f"{what} must be a list of lists or a DataFrame, got {type(table).__name__}")
    rows = []
    for position, row in enumerate(table):
        if isinstance(row, str | bytes) or not isinstance(row, Iterable):
            raise ValueError(f"{what}: row {position} must be a list of values, got {row!r}")
        rows.append(list(row))
    return rows
