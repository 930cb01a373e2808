"""Bland-Altman limits of agreement on Bland & Altman's (1986) published peak-flow example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from stats import agreement
from tests.stats.examples import PEFR_MINI_WRIGHT, PEFR_WRIGHT, contains_estimate, value_of

PROPERTIES = settings(deadline=None, max_examples=25, derandomize=True, database=None)


def test_bland_altman_reproduces_the_published_peak_flow_example():
    result = agreement.bland_altman(PEFR_WRIGHT, PEFR_MINI_WRIGHT)
    assert result.n == 17
    # Bland & Altman (1986): mean difference -2.1, SD 38.8, limits mean -/+ 2 SD: -79.7 to 75.5
    assert round(value_of(result.bias), 1) == -2.1
    assert result.sd is not None
    assert round(result.sd, 1) == 38.8
    # the paper forms its limits from the rounded mean and SD
    assert round(value_of(result.bias), 1) - 2 * round(result.sd, 1) == pytest.approx(-79.7)
    assert round(value_of(result.bias), 1) + 2 * round(result.sd, 1) == pytest.approx(75.5)
    # this module uses 1.96 SD (Bland & Altman 1999)
    assert value_of(result.lower_limit) == pytest.approx(
        value_of(result.bias) - 1.959963984540054 * result.sd
    )
    assert value_of(result.upper_limit) == pytest.approx(
        value_of(result.bias) + 1.959963984540054 * result.sd
    )


def test_bland_altman_intervals_follow_the_t_formulas():
    result = agreement.bland_altman(PEFR_WRIGHT, PEFR_MINI_WRIGHT)
    differences = np.array(PEFR_WRIGHT, dtype=float) - np.array(PEFR_MINI_WRIGHT, dtype=float)
    n, sd = differences.size, differences.std(ddof=1)
    t = scipy_stats.t.ppf(0.975, n - 1)
    assert result.bias.ci_low == pytest.approx(differences.mean() - t * sd / math.sqrt(n))
    assert result.bias.ci_high == pytest.approx(differences.mean() + t * sd / math.sqrt(n))
    for limit in (result.lower_limit, result.upper_limit):
        assert limit.ci_low == pytest.approx(value_of(limit) - t * math.sqrt(3 * sd**2 / n))
        assert limit.ci_high == pytest.approx(value_of(limit) + t * math.sqrt(3 * sd**2 / n))


def test_proportional_bias_regression_matches_least_squares_and_is_flat_on_the_peak_flow_data():
    result = agreement.bland_altman(PEFR_WRIGHT, PEFR_MINI_WRIGHT)
    a, b = np.array(PEFR_WRIGHT, dtype=float), np.array(PEFR_MINI_WRIGHT, dtype=float)
    slope, _ = np.polyfit((a + b) / 2, a - b, 1)
    assert value_of(result.slope) == pytest.approx(slope, abs=1e-10)
    assert result.slope_p is not None
    assert result.slope_p > 0.05
    assert contains_estimate(result.slope)


def test_proportional_bias_is_detected_when_the_difference_grows_with_the_magnitude():
    rng = np.random.default_rng(7)
    truth = rng.uniform(10, 100, size=80)
    first = truth * 1.2 + rng.normal(scale=1.0, size=80)  # 20% higher, the gap growing with the value
    second = truth + rng.normal(scale=1.0, size=80)
    result = agreement.bland_altman(first.tolist(), second.tolist())
    assert result.slope_p is not None
    assert result.slope_p < 0.001
    assert result.slope.ci_low is not None
    assert result.slope.ci_low > 0


@PROPERTIES
@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.floats(-1e3, 1e3, allow_nan=False)),
        min_size=3,
        max_size=40,
    )
)
def test_bland_altman_limits_bracket_the_bias_and_contain_their_estimates(pairs):
    result = agreement.bland_altman([a for a, _ in pairs], [b for _, b in pairs])
    assert value_of(result.lower_limit) <= value_of(result.bias) <= value_of(result.upper_limit)
    for estimate in (result.bias, result.lower_limit, result.upper_limit):
        assert contains_estimate(estimate)
    swapped = agreement.bland_altman([b for _, b in pairs], [a for a, _ in pairs])
    assert value_of(swapped.bias) == pytest.approx(-value_of(result.bias), abs=1e-9)


def test_bland_altman_with_too_few_pairs_and_to_dict():
    result = agreement.bland_altman([1.0, 2.0], [1.5, 2.5])
    assert result.bias.value is None
    assert "not enough data" in result.upper_limit.note
    assert result.sd is None
    assert result.slope_p is None
    full = agreement.bland_altman(PEFR_WRIGHT, PEFR_MINI_WRIGHT).to_dict()
    assert set(full) == {"bias", "lower_limit", "upper_limit", "sd", "slope", "slope_p", "n"}
    assert full["bias"]["n"] == 17
