"""Bland-Altman limits of agreement with confidence intervals, and the proportional-bias regression.

Pure module: numpy and scipy only, no Django.

Sources
-------
- Bland, J. M. & Altman, D. G. (1986). Statistical methods for assessing agreement between two methods of
  clinical measurement. The Lancet 327(8476), 307-310 (bias, limits, and their standard errors
  s / sqrt(n) and about sqrt(3 s^2 / n)).
- Bland, J. M. & Altman, D. G. (1999). Measuring agreement in method comparison studies. Statistical Methods
  in Medical Research 8(2), 135-160 (limits bias +/- 1.96 s; section 3.2, regressing the difference on the
  mean to detect a bias that grows with the magnitude).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from stats.agreement.concordance import _numeric_pairs
from stats.agreement.estimate import (
    _Z,
    CONFIDENCE_LEVEL,
    Estimate,
    _make_estimate,
    _not_enough_data,
    _undefined,
)


@dataclass(frozen=True)
class BlandAltman:
    """Agreement of two paired measurements, differences taken as ``first - second``.

    ``bias`` is the mean difference, ``lower_limit``/``upper_limit`` the 95% limits of agreement
    bias -/+ 1.96 SD, each with its 95% CI; ``sd`` the SD of the differences; ``slope`` the proportional-bias
    regression slope of the difference on the pair mean (with CI) and ``slope_p`` its two-sided p value
    (slope = 0). ``n`` is the number of complete pairs.
    """

    bias: Estimate
    lower_limit: Estimate
    upper_limit: Estimate
    sd: float | None
    slope: Estimate
    slope_p: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "bias": self.bias.to_dict(),
            "lower_limit": self.lower_limit.to_dict(),
            "upper_limit": self.upper_limit.to_dict(),
            "sd": self.sd,
            "slope": self.slope.to_dict(),
            "slope_p": self.slope_p,
            "n": self.n,
        }


_BIAS = "Bland-Altman bias (mean difference); 95% CI: one-sample t interval (scipy ttest_1samp)"
_LIMIT = (
    "Bland-Altman {side} limit of agreement, bias {sign} 1.96 SD (Bland & Altman 1999); "
    "95% CI: limit +/- t(n-1) sqrt(3 SD^2 / n) (Bland & Altman 1986)"
)
_SLOPE = (
    "proportional bias: OLS slope of difference on pair mean (Bland & Altman 1999, 3.2; scipy linregress); "
    "95% CI: slope +/- t(n-2) SE"
)


def bland_altman(first: Iterable[Any], second: Iterable[Any]) -> BlandAltman:
    """Bland-Altman analysis of paired numeric measurements (Bland & Altman 1986, 1999).

    d_i = first_i - second_i; bias = mean d, s = SD of d (divisor n - 1); limits bias -/+ 1.96 s. The bias CI
    is the t interval bias +/- t_.975(n - 1) s / sqrt(n) (scipy's ``ttest_1samp(...).confidence_interval()``);
    each limit's CI is limit +/- t_.975(n - 1) sqrt(3 s^2 / n), Bland & Altman's (1986) approximate standard
    error of a limit. Proportional bias: least-squares regression of d on the pair mean
    (first_i + second_i) / 2 (``scipy.stats.linregress``), slope +/- t_.975(n - 2) SE with its p value.
    Pairs with a missing value are dropped. Needs n >= 3.
    """
    a, b, note = _numeric_pairs(first, second)
    n = a.size
    lower_method = _LIMIT.format(side="lower", sign="-")
    upper_method = _LIMIT.format(side="upper", sign="+")
    if n < 3:
        empty = [_not_enough_data(n, method, note) for method in (_BIAS, lower_method, upper_method, _SLOPE)]
        return BlandAltman(empty[0], empty[1], empty[2], None, empty[3], None, n)
    differences = a - b
    means = (a + b) / 2
    bias = float(differences.mean())
    sd = float(differences.std(ddof=1))
    if sd == 0:
        bias_estimate = _make_estimate(bias, (bias, bias), n, _BIAS, note, "every difference is the same")
    else:
        interval = scipy_stats.ttest_1samp(differences, 0.0).confidence_interval(CONFIDENCE_LEVEL)
        bias_estimate = _make_estimate(bias, (float(interval.low), float(interval.high)), n, _BIAS, note)
    t_quantile = float(scipy_stats.t.ppf(1 - (1 - CONFIDENCE_LEVEL) / 2, n - 1))
    limit_half_width = t_quantile * math.sqrt(3 * sd**2 / n)
    limits = []
    for method, sign in ((lower_method, -1), (upper_method, 1)):
        limit = bias + sign * _Z * sd
        limits.append(
            _make_estimate(limit, (limit - limit_half_width, limit + limit_half_width), n, method, note)
        )
    slope, slope_p = _proportional_bias(means, differences, sd, note)
    return BlandAltman(bias_estimate, limits[0], limits[1], sd, slope, slope_p, n)


def _proportional_bias(
    means: np.ndarray, differences: np.ndarray, sd: float, note: str
) -> tuple[Estimate, float | None]:
    """The OLS slope of the differences on the pair means with its t interval, and its p value; undefined
    (with the reason) when the means do not vary or the fit is numerically degenerate."""
    n = len(means)
    if float(np.ptp(means)) == 0:
        return _undefined(n, _SLOPE, "every pair has the same mean, so there is no slope", note), None
    if sd == 0:
        return _make_estimate(0.0, (0.0, 0.0), n, _SLOPE, note, "every difference is the same"), None
    fit = scipy_stats.linregress(means, differences)
    slope, stderr = float(fit.slope), float(fit.stderr)
    if not (math.isfinite(slope) and math.isfinite(stderr)):
        reason = "the pair means are too close together for a regression"
        return _undefined(n, _SLOPE, reason, note), None
    half = float(scipy_stats.t.ppf(1 - (1 - CONFIDENCE_LEVEL) / 2, n - 2)) * stderr
    estimate = _make_estimate(
        slope,
        (slope - half, slope + half),
        n,
        _SLOPE,
        note,
        f"intercept {float(fit.intercept):.4g}; p = {float(fit.pvalue):.3g} (slope = 0)",
    )
    p_value = float(fit.pvalue)
    return estimate, p_value if math.isfinite(p_value) else None
