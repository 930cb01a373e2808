"""Intraclass correlations: the six Shrout & Fleiss / McGraw & Wong forms of a crossed design, and the
one-way ICC of unbalanced groups.

Pure module: numpy, pandas and scipy only, no Django. Sources are listed in ``stats.agreement``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import f as f_distribution

from stats.agreement.estimate import (
    _RELATIVE_ZERO,
    _UPPER_QUANTILE,
    ICC_FORMS,
    Estimate,
    FloatArray,
    _is_missing,
    _is_number,
    _make_estimate,
    _not_enough_data,
    _plural,
    _undefined,
)

# ---------------------------------------------------------------------------------------------------------
# intraclass correlations


@dataclass(frozen=True)
class _IccForm:
    value: float | None
    interval: tuple[float | None, float | None]
    reason: str = ""


def _f_quantile(df_numerator: float, df_denominator: float) -> float:
    return float(f_distribution.ppf(_UPPER_QUANTILE, df_numerator, df_denominator))


def _single_from_f(f_ratio: float, k: float) -> float:
    return 1.0 if math.isinf(f_ratio) else (f_ratio - 1) / (f_ratio + k - 1)


def _average_from_f(f_ratio: float) -> float | None:
    if math.isinf(f_ratio):
        return 1.0
    return None if f_ratio <= 0 else 1 - 1 / f_ratio


def _f_ratio_icc(
    ms_between: float, ms_within: float, k: float, df_between: float, df_within: float
) -> tuple[_IccForm, _IccForm]:
    """Single and average-measure ICC from one F ratio with its F-based 95% interval.

    ICC = (MS_b - MS_w) / (MS_b + (k - 1) MS_w) and (MS_b - MS_w) / MS_b; F_L = F / F_.975(df_b, df_w),
    F_U = F * F_.975(df_w, df_b); bounds (F - 1) / (F + k - 1) and 1 - 1/F (Shrout & Fleiss 1979, eqs. 6-7;
    McGraw & Wong 1996, Table 7, cases 1 and 3).
    """
    if ms_between == 0 and ms_within == 0:
        reason = "no variance in ratings"
        return _IccForm(None, (None, None), reason), _IccForm(None, (None, None), reason)
    f_ratio = math.inf if ms_within == 0 else ms_between / ms_within
    f_low = f_ratio / _f_quantile(df_between, df_within)
    f_high = f_ratio * _f_quantile(df_within, df_between)
    single_value = (ms_between - ms_within) / (ms_between + (k - 1) * ms_within)
    single = _IccForm(single_value, (_single_from_f(f_low, k), _single_from_f(f_high, k)))
    if ms_between == 0:
        average = _IccForm(None, (None, None), "no variance between targets")
    else:
        average = _IccForm(
            (ms_between - ms_within) / ms_between, (_average_from_f(f_low), _average_from_f(f_high))
        )
    return single, average


def _absolute_agreement_icc(msr: float, msc: float, mse: float, n: int, k: int) -> tuple[_IccForm, _IccForm]:
    """ICC(A,1) and ICC(A,k) with the McGraw & Wong (1996, Table 7, case 2A) interval.

    rho = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n); Satterthwaite df
    v = (a MSC + b MSE)^2 / ((a MSC)^2 / (k - 1) + (b MSE)^2 / ((n - 1)(k - 1))), a = k rho / (n (1 - rho)),
    b = 1 + k rho (n - 1) / (n (1 - rho)); L = n (MSR - F* MSE) / (F* (k MSC + (kn - k - n) MSE) + n MSR),
    U = n (F** MSR - MSE) / (k MSC + (kn - k - n) MSE + n F** MSR), F* = F_.975(n - 1, v),
    F** = F_.975(v, n - 1). ICC(A,k) and its bounds are the Spearman-Brown step-up of ICC(A,1)'s.
    """
    single_denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if single_denominator <= 0:
        reason = "no variance in ratings"
        return _IccForm(None, (None, None), reason), _IccForm(None, (None, None), reason)
    rho = (msr - mse) / single_denominator
    if rho >= 1:
        low, high = 1.0, 1.0
    else:
        a = k * rho / (n * (1 - rho))
        b = 1 + k * rho * (n - 1) / (n * (1 - rho))
        df = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
        lower_quantile = _f_quantile(n - 1, df)
        upper_quantile = _f_quantile(df, n - 1)
        spread = k * msc + (k * n - k - n) * mse
        low = n * (msr - lower_quantile * mse) / (lower_quantile * spread + n * msr)
        high = n * (upper_quantile * msr - mse) / (spread + n * upper_quantile * msr)
    single = _IccForm(rho, (low, high))

    def step_up(r: float) -> float | None:
        denominator = 1 + (k - 1) * r
        return k * r / denominator if denominator > 0 else None

    average_denominator = msr + (msc - mse) / n
    if average_denominator <= 0:
        average = _IccForm(
            None, (None, None), "between-target variance is below chance level (McGraw & Wong 1996)"
        )
    else:
        average = _IccForm((msr - mse) / average_denominator, (step_up(low), step_up(high)))
    return single, average


def _snap_to_zero(mean_square: float, scale: float) -> float:
    return 0.0 if mean_square <= _RELATIVE_ZERO * scale else mean_square


def _icc_of_matrix(ratings: FloatArray, *notes: str) -> dict[str, Estimate]:
    """All six ICC forms of a complete targets x raters matrix from the two-way ANOVA mean squares."""
    n, k = ratings.shape
    methods = {
        "ICC(1,1)": "ICC(1,1): one-way random effects, single rating (Shrout & Fleiss 1979 ICC(1,1))",
        "ICC(A,1)": "ICC(A,1): two-way random effects, absolute agreement, single rating (Shrout & Fleiss ICC(2,1))",
        "ICC(C,1)": "ICC(C,1): two-way mixed effects, consistency, single rating (Shrout & Fleiss ICC(3,1))",
        "ICC(1,k)": f"ICC(1,k): one-way random effects, mean of k = {k} ratings (Shrout & Fleiss ICC(1,k))",
        "ICC(A,k)": f"ICC(A,k): two-way random effects, absolute agreement, mean of k = {k} ratings (Shrout & Fleiss ICC(2,k))",
        "ICC(C,k)": f"ICC(C,k): two-way mixed effects, consistency, mean of k = {k} ratings (Shrout & Fleiss ICC(3,k))",
    }
    methods = {form: f"{text}; McGraw & Wong (1996); 95% CI: F-based" for form, text in methods.items()}
    if n < 2 or k < 2:
        return {
            form: _not_enough_data(n, methods[form], *notes, f"{_plural(k, 'rater')}") for form in ICC_FORMS
        }
    grand = ratings.mean()
    target_means = ratings.mean(axis=1)
    rater_means = ratings.mean(axis=0)
    ss_targets = k * float(((target_means - grand) ** 2).sum())
    ss_raters = n * float(((rater_means - grand) ** 2).sum())
    residuals = ratings - target_means[:, None] - rater_means[None, :] + grand
    ss_error = float((residuals**2).sum())
    scale = float(((ratings - grand) ** 2).sum()) / (n * k - 1)
    if scale == 0:
        return {form: _undefined(n, methods[form], "every rating is the same", *notes) for form in ICC_FORMS}
    msr = _snap_to_zero(ss_targets / (n - 1), scale)
    msc = _snap_to_zero(ss_raters / (k - 1), scale)
    mse = _snap_to_zero(ss_error / ((n - 1) * (k - 1)), scale)
    msw = _snap_to_zero((ss_raters + ss_error) / (n * (k - 1)), scale)
    one_way = _f_ratio_icc(msr, msw, k, n - 1, n * (k - 1))
    consistency = _f_ratio_icc(msr, mse, k, n - 1, (n - 1) * (k - 1))
    agreement = _absolute_agreement_icc(msr, msc, mse, n, k)
    forms = {
        "ICC(1,1)": one_way[0],
        "ICC(A,1)": agreement[0],
        "ICC(C,1)": consistency[0],
        "ICC(1,k)": one_way[1],
        "ICC(A,k)": agreement[1],
        "ICC(C,k)": consistency[1],
    }
    return {form: _icc_estimate(forms[form], n, methods[form], *notes) for form in ICC_FORMS}


def _icc_estimate(form: _IccForm, n: int, method: str, *notes: str) -> Estimate:
    if form.value is None:
        return _undefined(n, method, form.reason, *notes)
    return _make_estimate(form.value, form.interval, n, method, *notes)


def icc(data: pd.DataFrame, *, targets: str, raters: str, ratings: str) -> dict[str, Estimate]:
    """The six intraclass correlations of long-format ratings, keyed by McGraw & Wong (1996) names.

    ICC(1,1)/ICC(1,k) = Shrout & Fleiss ICC(1,1)/ICC(1,k) (one-way); ICC(A,1)/ICC(A,k) = ICC(2,1)/ICC(2,k)
    (two-way random, absolute agreement); ICC(C,1)/ICC(C,k) = ICC(3,1)/ICC(3,k) (two-way mixed,
    consistency). Computed from the two-way ANOVA mean squares (Shrout & Fleiss 1979, Table 1) with F-based
    95% intervals (McGraw & Wong 1996, Table 7).

    A target rated more than once by the same rater has those ratings averaged (the note gives the count).
    The ANOVA needs every rater to rate every target: targets missing any rater's rating are dropped
    (complete cases; the note gives the count). Rows without a rating count as missing.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"icc needs a long-format DataFrame, got {type(data).__name__}")
    missing_columns = [column for column in (targets, raters, ratings) if column not in data.columns]
    if missing_columns:
        raise ValueError(f"columns {missing_columns} are not in the data (columns: {list(data.columns)})")
    frame = data[[targets, raters, ratings]]
    for column in (targets, raters):
        if frame[column].isna().any():
            raise ValueError(
                f"{_plural(int(frame[column].isna().sum()), 'row')} without a {column!r} identifier"
            )
    numeric = pd.to_numeric(frame[ratings], errors="coerce")
    not_numeric = frame.loc[numeric.isna() & frame[ratings].notna(), ratings]
    if len(not_numeric):
        raise ValueError(f"ratings must be numbers; {ratings!r} holds {list(not_numeric.unique()[:3])!r}")
    frame = frame.assign(**{ratings: numeric.astype(np.float64)})
    notes = []
    unrated = int(frame[ratings].isna().sum())
    if unrated:
        notes.append(f"ignored {_plural(unrated, 'row')} without a rating")
        frame = frame.dropna(subset=[ratings])
    cells = frame.groupby([targets, raters], sort=True, observed=True)[ratings].agg(["mean", "size"])
    duplicates = int((cells["size"] - 1).sum())
    if duplicates:
        pairs = int((cells["size"] > 1).sum())
        notes.append(
            f"averaged {_plural(duplicates, 'duplicate rating')} "
            f"({_plural(pairs, 'target-rater pair')} rated more than once)"
        )
    wide = cells["mean"].unstack(raters)
    incomplete = wide.isna().any(axis=1)
    if incomplete.any():
        notes.append(
            f"dropped {_plural(int(incomplete.sum()), 'target')} of {len(wide)} lacking a rating from at "
            f"least one of the {wide.shape[1]} raters (complete cases)"
        )
    matrix = wide[~incomplete].to_numpy(dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        matrix = np.zeros((0, wide.shape[1]), dtype=np.float64)
    return _icc_of_matrix(matrix, *notes)


def icc_one_way(groups: Sequence[Sequence[float] | FloatArray]) -> dict[str, Estimate]:
    """One-way ICC(1,1) and ICC(1,k) for groups of exchangeable measurements of unequal size.

    Unbalanced one-way ANOVA (Donner 1986): MS_b and MS_w from all measurements, and the group size
    k0 = (N - sum n_i^2 / N) / (g - 1) in place of k, so ICC(1,1) = (MS_b - MS_w) / (MS_b + (k0 - 1) MS_w)
    and ICC(1,k) = (MS_b - MS_w) / MS_b, the reliability of a mean of about k0 measurements. The 95% interval
    is the F-based one of the balanced case with k0 for k: exact when groups are balanced (then both equal
    ``icc``'s ICC(1,1) and ICC(1,k)), approximate otherwise. Missing values are ignored; groups with no
    value are left out. Groups may be float arrays (NaN = missing).
    """
    arrays = []
    for position, group in enumerate(groups):
        if isinstance(group, np.ndarray) and group.dtype.kind == "f":
            values: Any = group[~np.isnan(group)]
        else:
            values = [value for value in group if not _is_missing(value)]
            wrong = [value for value in values if not _is_number(value)]
            if wrong:
                raise ValueError(f"group {position} holds non-numeric values {wrong[:3]!r}")
        if len(values):
            arrays.append(np.asarray(values, dtype=np.float64))
    sizes = np.array([array.size for array in arrays], dtype=np.float64)
    n_groups, total = len(arrays), float(sizes.sum())
    k0 = (total - float((sizes**2).sum()) / total) / (n_groups - 1) if n_groups >= 2 else 0.0
    balanced = bool(n_groups and (sizes == sizes[0]).all())
    if not n_groups:
        design = ""
    elif balanced:
        design = f"balanced: {int(sizes[0])} measurements per group"
    else:
        design = (
            f"unbalanced: {int(sizes.min())} to {int(sizes.max())} measurements per group, all used via the "
            f"unbalanced one-way ANOVA with k0 = {k0:.2f} (Donner 1986); CI approximate"
        )
    methods = {
        "ICC(1,1)": "ICC(1,1): one-way random effects, single measurement (Shrout & Fleiss 1979); 95% CI: F-based",
        "ICC(1,k)": "ICC(1,k): one-way random effects, mean of k0 measurements (Shrout & Fleiss 1979); 95% CI: F-based",
    }
    if n_groups < 2 or total - n_groups < 1:
        note = f"{_plural(n_groups, 'group')} with {int(total)} measurements; needs 2 groups and a repeated measurement"
        return {form: _not_enough_data(n_groups, method, note) for form, method in methods.items()}
    grand = float(np.concatenate(arrays).mean())
    means = np.array([array.mean() for array in arrays])
    ss_between = float((sizes * (means - grand) ** 2).sum())
    ss_within = float(sum(((array - array.mean()) ** 2).sum() for array in arrays))
    scale = (ss_between + ss_within) / (total - 1)
    if scale == 0:
        return {
            form: _undefined(n_groups, method, "every measurement is the same")
            for form, method in methods.items()
        }
    ms_between = _snap_to_zero(ss_between / (n_groups - 1), scale)
    ms_within = _snap_to_zero(ss_within / (total - n_groups), scale)
    single, average = _f_ratio_icc(ms_between, ms_within, k0, n_groups - 1, total - n_groups)
    return {
        "ICC(1,1)": _icc_estimate(single, n_groups, methods["ICC(1,1)"], design),
        "ICC(1,k)": _icc_estimate(average, n_groups, methods["ICC(1,k)"], design),
    }
