"""Krippendorff's alpha (nominal, ordinal, interval, ratio) with a bootstrap interval over units.

Pure module: numpy and scipy only, no Django. Source: Krippendorff (2011), see ``stats.agreement``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from stats.agreement.estimate import (
    _BOOTSTRAP_BLOCK_ENTRIES,
    _RELATIVE_ZERO,
    Estimate,
    FloatArray,
    IntArray,
    MeasurementLevel,
    _bootstrap_method,
    _bootstrap_replicates,
    _check_bootstrap,
    _is_missing,
    _is_number,
    _join,
    _make_estimate,
    _not_enough_data,
    _percentile_interval,
    _plural,
    _rows,
    _undefined,
)

# ---------------------------------------------------------------------------------------------------------
# Krippendorff's alpha


@dataclass(frozen=True)
class _PairableValues:
    """Reliability data reduced to units with at least two values (Krippendorff 2011, section C)."""

    unit_sizes: FloatArray  # m_u, values in unit u
    unit_of: IntArray  # unit of each pairable value
    code_of: IntArray  # index of each pairable value into ``values``
    values: FloatArray  # distinct values, ascending (nominal: arbitrary codes)
    counts: Any  # sparse (units x distinct values) matrix of n_uv


def _pairable_values(
    units: Sequence[Sequence[Any]], level: MeasurementLevel, labels: Sequence[Any] | None
) -> _PairableValues:
    kept = [list(unit) for unit in units if len(unit) >= 2]
    flat = [value for unit in kept for value in unit]
    if level == "nominal":
        codes = {value: code for code, value in enumerate(dict.fromkeys(flat))}
        numeric = np.array([codes[value] for value in flat], dtype=np.float64)
    elif level == "ordinal" and labels is not None:
        rank = {label: position for position, label in enumerate(labels)}
        unknown = sorted({str(value) for value in flat if value not in rank})
        if unknown:
            raise ValueError(f"values {unknown} are not in the given order labels={list(labels)}")
        numeric = np.array([rank[value] for value in flat], dtype=np.float64)
    else:
        wrong = [value for value in flat if not _is_number(value)]
        if wrong:
            raise ValueError(
                f"level {level!r} needs numeric ratings, got {wrong[:3]!r}"
                + (" (for ordered categories pass labels=... in order)" if level == "ordinal" else "")
            )
        numeric = np.array(flat, dtype=np.float64)
        if not np.isfinite(numeric).all():
            raise ValueError("ratings must be finite numbers")
        if level == "ratio" and (numeric < 0).any():
            raise ValueError("the ratio level needs non-negative ratings (it measures distance from zero)")
    values, code_of = np.unique(numeric, return_inverse=True)
    sizes = np.array([len(unit) for unit in kept], dtype=np.int64)
    unit_of = np.repeat(np.arange(len(kept), dtype=np.int64), sizes)
    counts = sparse.csr_matrix(
        (np.ones(len(flat)), (unit_of, code_of.astype(np.int64))), shape=(len(kept), len(values))
    )
    return _PairableValues(sizes.astype(np.float64), unit_of, code_of.astype(np.int64), values, counts)


def _squared_difference_disagreement(scores: FloatArray, data: _PairableValues) -> FloatArray:
    """Per unit, sum over ordered pairs of its values of (s_i - s_j)^2 / (m_u - 1) = 2 m_u SS_u / (m_u - 1)."""
    per_value = scores[data.code_of]
    sizes = data.unit_sizes
    means = np.bincount(data.unit_of, weights=per_value, minlength=sizes.size) / sizes
    sum_squares = np.bincount(
        data.unit_of, weights=(per_value - means[data.unit_of]) ** 2, minlength=sizes.size
    )
    return np.asarray(2 * sizes * sum_squares / (sizes - 1), dtype=np.float64)


def _squared_difference_expected(
    value_counts: FloatArray, scores: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """sum_c sum_k n_c n_k (s_c - s_k)^2 = 2 (n sum n_c s_c^2 - (sum n_c s_c)^2) per resample row.

    Also returns 2 n sum n_c s_c^2, the size of the terms, to tell a zero from cancellation residue.
    """
    total = value_counts.sum(axis=1)
    first = (value_counts * scores).sum(axis=1)
    magnitude = 2 * total * (value_counts * scores**2).sum(axis=1)
    return np.asarray(magnitude - 2 * first**2, dtype=np.float64), np.asarray(magnitude, dtype=np.float64)


def _ratio_unit_disagreement(data: _PairableValues) -> FloatArray:
    """Per unit, sum over ordered pairs of its values of ((c - k) / (c + k))^2 / (m_u - 1)."""
    sizes = data.unit_sizes.astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    partners = sizes[data.unit_of]  # pairable values are stored unit by unit
    first = np.repeat(np.arange(data.unit_of.size), partners)
    within = np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners)
    second = starts[data.unit_of[first]] + within
    value = data.values[data.code_of]
    total = value[first] + value[second]
    distances = ((value[first] - value[second]) / np.where(total == 0, 1.0, total)) ** 2
    per_unit = np.bincount(data.unit_of[first], weights=distances, minlength=sizes.size)
    return np.asarray(per_unit / (data.unit_sizes - 1), dtype=np.float64)


def _ratio_expected(value_counts: FloatArray, values: FloatArray) -> FloatArray:
    """sum_c sum_k n_c n_k ((c - k) / (c + k))^2 per resample row, in blocks of distinct values."""
    expected = np.zeros(value_counts.shape[0], dtype=np.float64)
    block = max(1, _BOOTSTRAP_BLOCK_ENTRIES // max(values.size, 1))
    for start in range(0, values.size, block):
        other = values[start : start + block]
        total = values[:, None] + other[None, :]
        distances = ((values[:, None] - other[None, :]) / np.where(total == 0, 1.0, total)) ** 2
        expected += ((value_counts @ distances) * value_counts[:, start : start + block]).sum(axis=1)
    return expected


def _alpha_statistic(data: _PairableValues, level: MeasurementLevel) -> Callable[[FloatArray], FloatArray]:
    """alpha = 1 - (n - 1) sum_ck o_ck d_ck / sum_ck n_c n_k d_ck for a (resamples x units) draw matrix.

    Krippendorff (2011), section C: the coincidences o_ck are a sum of per-unit contributions, so the
    observed disagreement of a resample is the draw-weighted sum of per-unit disagreements. Nominal:
    d = [c != k]. Interval: d = (c - k)^2, whose expected term needs only per-unit sums of values and squares.
    Ratio: d = ((c - k) / (c + k))^2. Ordinal: d = (M_k - M_c)^2 with M_g = (n_1 + ... + n_g) - n_g / 2,
    which is Krippendorff's (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2; it depends on the resample's value
    frequencies, so it is recomputed for each resample.
    """
    sizes = data.unit_sizes
    counts = (
        data.counts.toarray()
        if data.counts.shape[0] * data.counts.shape[1] <= _BOOTSTRAP_BLOCK_ENTRIES
        else data.counts
    )

    def value_counts_of(draws: FloatArray) -> FloatArray:
        return np.asarray(draws @ counts, dtype=np.float64)

    if level == "interval":
        centred = (data.values - data.values.mean())[data.code_of]
        unit_features = np.column_stack(
            [
                sizes,
                np.bincount(data.unit_of, weights=centred, minlength=sizes.size),
                np.bincount(data.unit_of, weights=centred**2, minlength=sizes.size),
                _squared_difference_disagreement(data.values - data.values.mean(), data),
            ]
        )

        def interval_statistic(draws: FloatArray) -> FloatArray:
            total, first, second, observed = (draws @ unit_features).T
            magnitude = 2 * total * second
            return _alpha_from_sums(total, observed, magnitude - 2 * first**2, magnitude)

        return interval_statistic

    if level == "ordinal":

        def ordinal_statistic(draws: FloatArray) -> FloatArray:
            value_counts = value_counts_of(draws)
            midranks = np.cumsum(value_counts, axis=1) - value_counts / 2
            spread = (value_counts_of(draws * (2 * sizes / (sizes - 1))) * midranks**2).sum(axis=1)
            unit_sums = np.asarray(counts @ midranks.T, dtype=np.float64)
            observed = spread - np.einsum("bu,ub->b", draws * (2 / (sizes - 1)), unit_sums**2)
            expected, magnitude = _squared_difference_expected(value_counts, midranks)
            return _alpha_from_sums(value_counts.sum(axis=1), observed, expected, magnitude)

        return ordinal_statistic

    if level == "nominal":
        same = np.asarray(data.counts.multiply(data.counts).sum(axis=1), dtype=np.float64).ravel()
        unit_disagreement = (sizes**2 - same) / (sizes - 1)
    else:
        unit_disagreement = _ratio_unit_disagreement(data)

    def coincidence_statistic(draws: FloatArray) -> FloatArray:
        value_counts = value_counts_of(draws)
        total = value_counts.sum(axis=1)
        if level == "nominal":
            expected = total**2 - (value_counts**2).sum(axis=1)
        else:
            expected = _ratio_expected(value_counts, data.values)
        return _alpha_from_sums(total, draws @ unit_disagreement, expected, total**2)

    return coincidence_statistic


def _alpha_from_sums(
    total: FloatArray, observed: FloatArray, expected: FloatArray, magnitude: FloatArray
) -> FloatArray:
    """alpha = 1 - (n - 1) observed / expected; NaN where the expected disagreement is zero (no variation)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.asarray(1 - (total - 1) * observed / expected, dtype=np.float64)
    alpha[expected <= _RELATIVE_ZERO * magnitude] = np.nan
    return alpha


def _ordinal_point_alpha(data: _PairableValues) -> float:
    """Ordinal alpha with exactly computed per-unit terms (the interval formula on the midrank scores M_g)."""
    value_counts = np.bincount(data.code_of, minlength=data.values.size).astype(np.float64)
    midranks = np.cumsum(value_counts) - value_counts / 2
    observed = float(_squared_difference_disagreement(midranks, data).sum())
    expected, magnitude = (
        float(x[0]) for x in _squared_difference_expected(value_counts[None], midranks[None])
    )
    total = float(value_counts.sum())
    if expected <= _RELATIVE_ZERO * magnitude:
        return math.nan
    return 1 - (total - 1) * observed / expected


def krippendorff_alpha(
    data: Any,
    *,
    level: MeasurementLevel,
    labels: Sequence[Any] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> Estimate:
    """Krippendorff's alpha (Krippendorff 2011) of reliability data: raters x units, ``None``/NaN = missing.

    ``level`` is 'nominal', 'ordinal', 'interval' or 'ratio'. Ordinal data must be numbers, or labels whose
    order ``labels`` gives (e.g. ``ORDERED_CATEGORIES``). Units with fewer than two values are not pairable
    and are left out, as in Krippendorff (2011). 95% CI: percentile bootstrap over (pairable) units; n is
    the number of pairable units.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be 'nominal', 'ordinal', 'interval' or 'ratio', got {level!r}")
    if labels is not None and level != "ordinal":
        raise ValueError("labels= gives the order of ordinal categories; it only applies to level='ordinal'")
    _check_bootstrap(seed, n_boot)
    rows = _rows(data, "reliability data (raters x units)")
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise ValueError(
            f"reliability data must be raters x units with one entry per unit (None if missing); "
            f"rows have {sorted(lengths)} entries"
        )
    n_units = lengths.pop() if lengths else 0
    units = [[row[unit] for row in rows if not _is_missing(row[unit])] for unit in range(n_units)]
    return krippendorff_alpha_of_units(units, level=level, labels=labels, seed=seed, n_boot=n_boot)


def krippendorff_alpha_of_units(
    units: Sequence[Sequence[Any]],
    *,
    level: MeasurementLevel,
    labels: Sequence[Any] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
) -> Estimate:
    """Krippendorff's alpha from the values each unit received, missing values already left out.

    Alpha depends only on which values each unit got, not on who gave them (Krippendorff 2011, section C:
    the coincidence matrix sums over units), so this equals ``krippendorff_alpha`` of the raters x units
    table and avoids building it when raters are many and sparse.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be 'nominal', 'ordinal', 'interval' or 'ratio', got {level!r}")
    if labels is not None and level != "ordinal":
        raise ValueError("labels= gives the order of ordinal categories; it only applies to level='ordinal'")
    _check_bootstrap(seed, n_boot)
    method = f"Krippendorff's alpha, {level} (Krippendorff 2011); {_bootstrap_method('units', seed, n_boot)}"
    data = _pairable_values(units, level, labels)
    n = data.unit_sizes.size
    unpaired = len(units) - n
    note = _join(
        f"{int(data.unit_sizes.sum())} pairable values",
        f"left out {_plural(unpaired, 'unit')} with fewer than 2 values" if unpaired else "",
    )
    if n < 2:
        return _not_enough_data(n, method, note)
    statistic = _alpha_statistic(data, level)
    alpha = _ordinal_point_alpha(data) if level == "ordinal" else float(statistic(np.ones((1, n)))[0])
    if not math.isfinite(alpha):
        return _undefined(
            n, method, "every pairable value is the same, so there is no variation to agree on", note
        )
    interval, bootstrap_note = _percentile_interval(
        _bootstrap_replicates(statistic, n, seed=seed, n_boot=n_boot)
    )
    return _make_estimate(alpha, interval, n, method, note, bootstrap_note)
