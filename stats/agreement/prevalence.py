"""Prevalence-robust agreement coefficients for two raters: Gwet's AC1 and PABAK.

Kappa falls when one category dominates even if the raters agree on nearly every item (the "kappa
paradox"); these coefficients are reported beside it. Pure module: numpy and scipy only, no Django.

Sources
-------
- Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence of high agreement.
  British Journal of Mathematical and Statistical Psychology 61(1), 29-48.
- Byrt, T., Bishop, J. & Carlin, J. B. (1993). Bias, prevalence and kappa. Journal of Clinical Epidemiology
  46(5), 423-429.
- Brennan, R. L. & Prediger, D. J. (1981). Coefficient kappa: some uses, misuses, and alternatives.
  Educational and Psychological Measurement 41(3), 687-699 (the q-category form of PABAK).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy.stats import binomtest

from stats.agreement.confusion import confusion_matrix
from stats.agreement.estimate import (
    _Z,
    Estimate,
    _make_estimate,
    _not_enough_data,
    _plural,
    _undefined,
)


def _dropped_note(dropped: int) -> str:
    return f"dropped {_plural(dropped, 'pair')} with a missing label" if dropped else ""


def gwet_ac1(a: Iterable[Any], b: Iterable[Any], *, labels: Sequence[Hashable] | None = None) -> Estimate:
    """Gwet's AC1 between two label lists paired item by item (Gwet 2008, two raters).

    With p_kl the share of items labelled k by the first rater and l by the second, q categories and
    pi_k = (p_k. + p_.k) / 2: p_a = sum_k p_kk, p_e = sum_k pi_k (1 - pi_k) / (q - 1) and
    AC1 = (p_a - p_e) / (1 - p_e).

    95% CI: AC1 +/- 1.96 SE with Gwet's (2008) variance for two raters (no finite-population correction):
    v = [p_a (1 - p_a) - 4 (1 - AC1) (sum_k p_kk (1 - pi_k) / (q - 1) - p_a p_e)
         + 4 (1 - AC1)^2 (sum_kl p_kl (1 - (pi_k + pi_l) / 2)^2 / (q - 1)^2 - p_e^2)] / (n (1 - p_e)^2),
    clipped to [-1, 1]. ``labels`` fixes the categories (q = len(labels), so unused categories count);
    without it q is the number of observed categories. Pairs with a missing label are dropped.
    """
    matrix = confusion_matrix(a, b, labels=labels)
    n, q = matrix.n, len(matrix.labels)
    method = "Gwet's AC1 (Gwet 2008); 95% CI: AC1 +/- 1.96 SE, Gwet's (2008) variance for two raters"
    note = _dropped_note(matrix.dropped)
    if n < 2:
        return _not_enough_data(n, method, note)
    if q < 2:
        return _undefined(n, method, "fewer than 2 categories, so chance agreement is undefined", note)
    shares = matrix.as_array() / n
    categories = (shares.sum(axis=1) + shares.sum(axis=0)) / 2
    observed = float(np.trace(shares))
    expected = float((categories * (1 - categories)).sum()) / (q - 1)
    ac1 = (observed - expected) / (1 - expected)
    diagonal_term = float((np.diag(shares) * (1 - categories)).sum()) / (q - 1)
    pair_weight = (1 - (categories[:, None] + categories[None, :]) / 2) ** 2
    off_term = float((shares * pair_weight).sum()) / (q - 1) ** 2
    variance = (
        observed * (1 - observed)
        - 4 * (1 - ac1) * (diagonal_term - observed * expected)
        + 4 * (1 - ac1) ** 2 * (off_term - expected**2)
    ) / (n * (1 - expected) ** 2)
    error = math.sqrt(max(variance, 0.0))
    interval = (max(-1.0, ac1 - _Z * error), min(1.0, ac1 + _Z * error))
    return _make_estimate(
        ac1,
        interval,
        n,
        method,
        note,
        f"{q} categories; p_a = {observed:.4f}, p_e = {expected:.4f}, SE = {error:.4f}",
    )


def pabak(a: Iterable[Any], b: Iterable[Any], *, labels: Sequence[Hashable] | None = None) -> Estimate:
    """Prevalence- and bias-adjusted kappa between two label lists paired item by item.

    PABAK = 2 p_o - 1 for two categories (Byrt, Bishop & Carlin 1993), generalised to q categories as
    (q p_o - 1) / (q - 1) (equal to Brennan & Prediger's 1981 coefficient), p_o the share of agreeing pairs.
    It is a linear function of p_o, so its 95% CI is the Wilson score interval of p_o (scipy's
    ``binomtest(...).proportion_ci(method="wilson")``) mapped through the same function. ``labels`` fixes the
    categories (q = len(labels)); without it q is the number of observed categories.
    """
    matrix = confusion_matrix(a, b, labels=labels)
    n, q = matrix.n, len(matrix.labels)
    method = (
        "PABAK, (q p_o - 1) / (q - 1) (Byrt, Bishop & Carlin 1993); "
        "95% CI: Wilson score interval of p_o, transformed"
    )
    note = _dropped_note(matrix.dropped)
    if n < 1:
        return _not_enough_data(n, method, note)
    if q < 2:
        return _undefined(n, method, "fewer than 2 categories", note)
    agreements = matrix.agreements
    interval = binomtest(agreements, n).proportion_ci(confidence_level=0.95, method="wilson")

    def adjusted(share: float) -> float:
        return (q * share - 1) / (q - 1)

    return _make_estimate(
        adjusted(agreements / n),
        (adjusted(float(interval.low)), adjusted(float(interval.high))),
        n,
        method,
        note,
        f"{q} categories; p_o = {agreements}/{n}",
    )
