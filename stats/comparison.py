"""Comparing the automated results of two conditions, e.g. goal prompting vs plain (pure: numpy, scipy).

Source: Welch, B. L. (1947). The generalization of 'Student's' problem when several different population
variances are involved. Biometrika 34(1/2), 28-35 (the interval for a difference of two means with unequal
variances and the Welch-Satterthwaite degrees of freedom).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import t as t_distribution

from stats.agreement import Estimate, wilson_interval

METHOD = "difference of means (second - first); 95% CI: Welch (1947) t interval"


def mean_difference(first: Sequence[float], second: Sequence[float]) -> Estimate:
    """Mean of ``second`` minus mean of ``first`` with Welch's 95% interval; n = both samples' sizes.

    Missing values (None, NaN) are ignored. Needs two values in each sample; with no spread in either
    sample the interval collapses to the difference itself.
    """
    a = np.array([x for x in first if x is not None and not math.isnan(x)], dtype=np.float64)
    b = np.array([x for x in second if x is not None and not math.isnan(x)], dtype=np.float64)
    n = int(a.size + b.size)
    if a.size < 2 or b.size < 2:
        return Estimate(None, None, None, n, METHOD, f"not enough data (n = {a.size} and {b.size})")
    difference = float(b.mean() - a.mean())
    var_a, var_b = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    standard_error = math.sqrt(var_a + var_b)
    if standard_error == 0:
        return Estimate(difference, difference, difference, n, METHOD, "no spread in either sample")
    df = (var_a + var_b) ** 2 / (var_a**2 / (a.size - 1) + var_b**2 / (b.size - 1))
    half_width = float(t_distribution.ppf(0.975, df)) * standard_error
    return Estimate(difference, difference - half_width, difference + half_width, n, METHOD)


def mean_estimate(values: Sequence[float | None]) -> Estimate:
    """The mean with its Student t 95% interval; missing values are ignored (n counts the others)."""
    data = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    n = int(data.size)
    method = "mean; 95% CI: Student t interval"
    if n < 2:
        return Estimate(None, None, None, n, method, f"not enough data (n = {n})")
    mean = float(data.mean())
    half_width = float(t_distribution.ppf(0.975, n - 1)) * float(data.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half_width, mean + half_width, n, method)


def proportion(flags: Sequence[bool | None]) -> Estimate:
    """The share of true flags with the Wilson (1927) 95% interval; missing flags are ignored."""
    known = [bool(flag) for flag in flags if flag is not None]
    n = len(known)
    method = "proportion; 95% CI: Wilson (1927) score interval"
    if n < 1:
        return Estimate(None, None, None, n, method, f"not enough data (n = {n})")
    successes = sum(known)
    low, high = wilson_interval(successes, n)
    return Estimate(successes / n, low, high, n, method)
