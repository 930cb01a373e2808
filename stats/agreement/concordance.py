"""Lin's concordance correlation coefficient: agreement of two numeric measurements of the same items.

Pure module: numpy and scipy only, no Django.

Source: Lin, L. I.-K. (1989). A concordance correlation coefficient to evaluate reproducibility. Biometrics
45(1), 255-268 (estimator eq. 3 with moments over n; the Fisher-z interval of section 3). Correction of the
variance: Lin, L. I.-K. (2000). Biometrics 56(1), 324-325.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from stats.agreement.estimate import (
    _Z,
    Estimate,
    FloatArray,
    _is_missing,
    _is_number,
    _make_estimate,
    _not_enough_data,
    _plural,
    _undefined,
)


def _numeric_pairs(x: Iterable[Any], y: Iterable[Any]) -> tuple[FloatArray, FloatArray, str]:
    first, second = list(x), list(y)
    if len(first) != len(second):
        raise ValueError(
            f"the two measurement lists must pair up one to one, got {len(first)} and {len(second)} values"
        )
    kept = [(u, v) for u, v in zip(first, second, strict=True) if not (_is_missing(u) or _is_missing(v))]
    wrong = [value for pair in kept for value in pair if not _is_number(value)]
    if wrong:
        raise ValueError(f"measurements must be numbers, got {wrong[:3]!r}")
    a = np.array([u for u, _ in kept], dtype=np.float64)
    b = np.array([v for _, v in kept], dtype=np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("measurements must be finite numbers")
    dropped = len(first) - len(kept)
    return a, b, f"dropped {_plural(dropped, 'pair')} with a missing value" if dropped else ""


def lin_ccc(x: Iterable[Any], y: Iterable[Any]) -> Estimate:
    """Lin's (1989) concordance correlation coefficient between paired measurements ``x`` and ``y``.

    rho_c = 2 s_xy / (s_x^2 + s_y^2 + (xbar - ybar)^2), moments with divisor n (Lin 1989, eq. 3); it is the
    Pearson r times the bias correction C_b = 2 / (v + 1/v + u^2), v = s_x / s_y, u = (xbar - ybar) /
    sqrt(s_x s_y).

    95% CI: Lin's (1989, corrected 2000) asymptotic variance of Z = atanh(rho_c),
    var(Z) = [(1 - r^2) rho_c^2 / ((1 - rho_c^2) r^2) + 2 rho_c^3 (1 - rho_c) u^2 / (r (1 - rho_c^2)^2)
              - rho_c^4 u^4 / (2 r^2 (1 - rho_c^2)^2)] / (n - 2),
    Z +/- 1.96 sqrt(var(Z)) transformed back with tanh. (This is not Pearson's Fisher-z interval, whose
    variance 1/(n - 3) ignores the location and scale shift, so scipy's ``pearsonr`` interval does not
    apply.) Pairs with a missing value are dropped. Needs n >= 3.
    """
    a, b, note = _numeric_pairs(x, y)
    n = a.size
    method = "Lin's concordance correlation (Lin 1989); 95% CI: Fisher z with Lin's asymptotic variance"
    if n < 3:
        return _not_enough_data(n, method, note)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    var_a, var_b = float(a.var()), float(b.var())
    covariance = float(((a - mean_a) * (b - mean_b)).mean())
    denominator = var_a + var_b + (mean_a - mean_b) ** 2
    if denominator == 0:
        return _undefined(n, method, "every measurement is the same value", note)
    ccc = 2 * covariance / denominator
    if var_a == 0 or var_b == 0:
        return _make_estimate(
            ccc, (None, None), n, method, note, "one measurement does not vary, so there is no interval"
        )
    r = covariance / math.sqrt(var_a * var_b)
    shift = (mean_a - mean_b) / math.sqrt(math.sqrt(var_a * var_b))
    extra = f"Pearson r = {r:.4f}, bias correction C_b = {ccc / r:.4f}" if r != 0 else ""
    if abs(ccc) >= 1 or r == 0:
        return _make_estimate(ccc, (None, None), n, method, note, extra, "interval undefined at |rho_c| = 1")
    spread = 1 - ccc**2
    variance = (
        (1 - r**2) * ccc**2 / (spread * r**2)
        + 2 * ccc**3 * (1 - ccc) * shift**2 / (r * spread**2)
        - ccc**4 * shift**4 / (2 * r**2 * spread**2)
    ) / (n - 2)
    z = math.atanh(ccc)
    half = _Z * math.sqrt(max(variance, 0.0))
    return _make_estimate(ccc, (math.tanh(z - half), math.tanh(z + half)), n, method, note, extra)
