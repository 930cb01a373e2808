"""Lin's concordance correlation coefficient.

Lin's (1989) own example data are not reproduced here (the paper's data are not available to us), so the
coefficient is checked against a direct computation from its definition, the identity rho_c = r * C_b with
scipy's Pearson r, exact special cases, and the interval by simulated coverage.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import pearsonr

from stats import agreement
from tests.stats.examples import PEFR_MINI_WRIGHT, PEFR_WRIGHT, contains_estimate, value_of

PROPERTIES = settings(deadline=None, max_examples=25, derandomize=True, database=None)


def _direct(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = x.size
    sxy = sum((a - x.mean()) * (b - y.mean()) for a, b in zip(x, y, strict=True)) / n
    sx2 = sum((a - x.mean()) ** 2 for a in x) / n
    sy2 = sum((b - y.mean()) ** 2 for b in y) / n
    return 2 * sxy / (sx2 + sy2 + (x.mean() - y.mean()) ** 2)


def test_ccc_on_the_bland_altman_peak_flow_data_matches_the_definition_and_r_times_cb():
    estimate = agreement.lin_ccc(PEFR_WRIGHT, PEFR_MINI_WRIGHT)
    assert value_of(estimate) == pytest.approx(_direct(PEFR_WRIGHT, PEFR_MINI_WRIGHT), abs=1e-12)
    x, y = np.array(PEFR_WRIGHT, dtype=float), np.array(PEFR_MINI_WRIGHT, dtype=float)
    v = x.std() / y.std()
    u = (x.mean() - y.mean()) / math.sqrt(x.std() * y.std())
    bias_correction = 2 / (v + 1 / v + u**2)
    assert value_of(estimate) == pytest.approx(pearsonr(x, y).statistic * bias_correction, abs=1e-12)
    assert estimate.n == 17
    assert contains_estimate(estimate)


def test_ccc_interval_by_lins_variance_computed_independently():
    x, y = np.array(PEFR_WRIGHT, dtype=float), np.array(PEFR_MINI_WRIGHT, dtype=float)
    rho = _direct(x, y)
    r = pearsonr(x, y).statistic
    u = (x.mean() - y.mean()) / math.sqrt(x.std() * y.std())
    variance = (
        (1 - r**2) * rho**2 / ((1 - rho**2) * r**2)
        + 2 * rho**3 * (1 - rho) * u**2 / (r * (1 - rho**2) ** 2)
        - rho**4 * u**4 / (2 * r**2 * (1 - rho**2) ** 2)
    ) / (x.size - 2)
    z = 0.5 * math.log((1 + rho) / (1 - rho))
    estimate = agreement.lin_ccc(x, y)
    assert estimate.ci_low == pytest.approx(math.tanh(z - 1.959963984540054 * math.sqrt(variance)), abs=1e-12)
    assert estimate.ci_high == pytest.approx(
        math.tanh(z + 1.959963984540054 * math.sqrt(variance)), abs=1e-12
    )


def test_ccc_interval_covers_the_true_value_about_95_percent_of_the_time():
    rng = np.random.default_rng(1989)
    # x ~ N(0, 1), y = 0.3 + 0.9 x + e, e ~ N(0, 0.5^2): true rho_c = 2 cov / (var x + var y + shift^2)
    cov, var_x, var_y, shift = 0.9, 1.0, 0.81 + 0.25, 0.3
    truth = 2 * cov / (var_x + var_y + shift**2)
    covered = 0
    replications = 400
    for _ in range(replications):
        x = rng.normal(size=60)
        y = 0.3 + 0.9 * x + rng.normal(scale=0.5, size=60)
        estimate = agreement.lin_ccc(x.tolist(), y.tolist())
        assert estimate.ci_low is not None
        assert estimate.ci_high is not None
        covered += estimate.ci_low <= truth <= estimate.ci_high
    assert 0.91 <= covered / replications <= 0.98


@PROPERTIES
@given(
    st.lists(
        st.tuples(st.floats(-100, 100, allow_nan=False), st.floats(-100, 100, allow_nan=False)),
        min_size=3,
        max_size=40,
    )
)
def test_ccc_is_bounded_by_the_absolute_pearson_r(pairs):
    x, y = [a for a, _ in pairs], [b for _, b in pairs]
    estimate = agreement.lin_ccc(x, y)
    if estimate.value is None:
        return
    assert -1 - 1e-9 <= estimate.value <= 1 + 1e-9
    if np.std(x) > 1e-6 and np.std(y) > 1e-6:
        assert abs(estimate.value) <= abs(pearsonr(x, y).statistic) + 1e-9


def test_ccc_special_cases():
    x = [1.0, 2.0, 4.0, 7.0, 11.0]
    assert value_of(agreement.lin_ccc(x, x)) == pytest.approx(1.0)
    shifted = agreement.lin_ccc(x, [value + 2 for value in x])
    assert value_of(shifted) < 1  # Pearson r is 1, concordance is not
    assert agreement.lin_ccc([1.0, 2.0], [1.0, 2.0]).value is None
    assert "not enough data" in agreement.lin_ccc([1.0, 2.0], [1.0, 2.0]).note
    constant = agreement.lin_ccc([3.0, 3.0, 3.0], [3.0, 3.0, 3.0])
    assert constant.value is None
    assert "undefined" in constant.note
    dropped = agreement.lin_ccc([1.0, None, 2.0, 3.0, 5.0], [1.5, 2.0, float("nan"), 3.5, 4.0])
    assert dropped.n == 3
    assert "dropped 2 pairs" in dropped.note


def test_ccc_rejects_malformed_input():
    with pytest.raises(ValueError, match="pair up"):
        agreement.lin_ccc([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="numbers"):
        agreement.lin_ccc([1.0, "two", 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        agreement.lin_ccc([1.0, math.inf, 3.0], [1.0, 2.0, 3.0])
