"""The sensitivity maths against ground truth and independent computations: the position-pick probability of a
simulated position-biased agent, Holm against statsmodels and a hand computation, Welch against the textbook
formula, Cramér's V against scipy, eta squared by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy.stats import contingency
from scipy.stats import t as t_distribution
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

from evaluation import svo
from stats import sensitivity
from stats.sensitivity import Choice

FIXED = tuple(range(1, 10))
REVERSED = tuple(range(9, 0, -1))


def simulate(probability: float, *, orders: dict[str, int], seed: int, noise: float = 0.05) -> list[Choice]:
    """Choices of an agent that, with ``probability``, picks the option displayed first, and otherwise acts
    like a faithful agent (the value-optimal option; a random one with probability ``noise``).
    ``orders`` maps fixed / reversed / random to the number of trials per value shown in that order."""
    rng = random.Random(seed)
    choices = []
    for value in svo.VALUES:
        ideal = svo.ideal_choices(value)
        for order_name, n_trials in orders.items():
            for _ in range(n_trials):
                for item, best in enumerate(ideal, start=1):
                    if order_name == "fixed":
                        order = FIXED
                    elif order_name == "reversed":
                        order = REVERSED
                    else:
                        order = tuple(rng.sample(range(1, 10), 9))
                    if rng.random() < probability:
                        option = order[0]
                    elif rng.random() < noise:
                        option = rng.randint(1, 9)
                    else:
                        option = best
                    choices.append(Choice((value, item), order, option))
    return choices


@pytest.mark.parametrize(
    ("probability", "orders"),
    [
        (0.3, {"fixed": 20, "reversed": 20}),
        (0.3, {"random": 30}),
        (0.6, {"fixed": 15, "reversed": 15}),
    ],
)
def test_the_position_pick_probability_is_recovered_within_its_ci(probability, orders):
    estimate = sensitivity.position_pick_probability(simulate(probability, orders=orders, seed=11))
    assert estimate.ci_low is not None
    assert estimate.ci_high is not None
    assert estimate.probability is not None
    assert estimate.ci_low <= probability <= estimate.ci_high, estimate
    assert estimate.ci_high - estimate.ci_low < 0.15
    assert estimate.p_value is not None
    assert estimate.p_value < 1e-6
    assert estimate.n == estimate.n_informative == len(simulate(probability, orders=orders, seed=11))


def test_an_unbiased_agent_gets_a_position_pick_probability_near_zero():
    estimate = sensitivity.position_pick_probability(
        simulate(0.0, orders={"fixed": 20, "reversed": 20}, seed=5)
    )
    assert estimate.ci_low == 0.0
    assert estimate.ci_high is not None
    assert estimate.ci_high < 0.05
    assert estimate.p_value is not None
    assert estimate.p_value > 0.05


def test_the_last_position_is_not_blamed_for_a_first_position_bias():
    estimate = sensitivity.position_pick_probability(
        simulate(0.3, orders={"random": 30}, seed=2), position=sensitivity.N_OPTIONS
    )
    assert estimate.ci_low is not None
    assert estimate.ci_high is not None
    assert estimate.ci_low <= 0.02
    assert estimate.ci_high < 0.1


def test_with_a_single_order_the_probability_is_not_identified():
    estimate = sensitivity.position_pick_probability(simulate(0.3, orders={"reversed": 20}, seed=1))
    assert estimate.probability is None
    assert estimate.n_informative == 0
    assert "not identified" in estimate.note


def test_choice_distribution_counts_positions_and_options():
    choices = [Choice(1, REVERSED, 9), Choice(1, REVERSED, 1), Choice(1, FIXED, 9)]
    distribution = sensitivity.choice_distribution(choices)
    assert distribution.by_position == (1, 0, 0, 0, 0, 0, 0, 0, 2)
    assert distribution.by_option == (1, 0, 0, 0, 0, 0, 0, 0, 2)
    assert distribution.n == 3


def test_order_dependence_matches_scipy_and_cramers_v():
    by_condition = {"fixed": [1] * 30 + [9] * 10 + [5] * 5, "reversed": [9] * 35 + [1] * 10}
    test = sensitivity.order_dependence(by_condition)
    table = np.array([[30, 5, 10], [10, 0, 35]])
    assert test.cramers_v == pytest.approx(contingency.association(table, method="cramer"))
    assert test.df == 2
    assert test.n == 90
    assert test.p_value is not None
    assert test.p_value < 1e-6
    same = sensitivity.order_dependence({"fixed": [1, 9, 9, 1], "reversed": [9, 1, 1, 9]})
    assert same.statistic == pytest.approx(0.0)
    assert same.cramers_v == pytest.approx(0.0)
    assert sensitivity.order_dependence({"fixed": [1, 9]}).p_value is None


def test_holm_matches_a_hand_computation_and_statsmodels():
    p_values = [0.01, 0.04, 0.03, 0.005, 0.20]
    # sorted: 0.005 (x5) 0.025; 0.01 (x4) 0.04; 0.03 (x3) 0.09; 0.04 (x2) 0.08 -> running max 0.09; 0.20 (x1)
    hand = [0.04, 0.09, 0.09, 0.025, 0.20]
    assert sensitivity.holm(p_values) == pytest.approx(hand)
    expected = multipletests(p_values, method="holm")[1]
    assert sensitivity.holm(p_values) == pytest.approx(list(expected))
    assert sensitivity.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_welch_difference_is_the_textbook_interval():
    rng = np.random.default_rng(3)
    first, second = rng.normal(10, 2, 12), rng.normal(12, 5, 20)
    difference = sensitivity.welch_difference(first.tolist(), second.tolist())
    va, vb = first.var(ddof=1) / first.size, second.var(ddof=1) / second.size
    df = (va + vb) ** 2 / (va**2 / (first.size - 1) + vb**2 / (second.size - 1))
    half = t_distribution.ppf(0.975, df) * math.sqrt(va + vb)
    centre = second.mean() - first.mean()
    assert difference.value == pytest.approx(centre)
    assert difference.ci_low == pytest.approx(centre - half)
    assert difference.ci_high == pytest.approx(centre + half)
    assert difference.n_first == 12
    assert difference.n_second == 20
    assert sensitivity.welch_difference([1.0], [2.0, 3.0]).value is None


def test_a_family_gets_holm_p_values_and_wider_adjusted_intervals():
    rng = np.random.default_rng(8)
    pairs = [(rng.normal(0, 1, 15).tolist(), rng.normal(shift, 1, 15).tolist()) for shift in (0.0, 0.8, 1.5)]
    family = sensitivity.holm_family(pairs)
    raw = [sensitivity.welch_difference(a, b).p_value for a, b in pairs]
    assert [d.p_holm for d in family] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    for difference in family:
        assert difference.family_size == 3
        assert difference.ci_low_adjusted is not None
        assert difference.ci_low is not None
        assert difference.ci_high is not None
        assert difference.ci_high_adjusted is not None
        assert difference.p_holm is not None
        assert difference.p_value is not None
        assert (
            difference.ci_low_adjusted < difference.ci_low < difference.ci_high < difference.ci_high_adjusted
        )
        assert difference.p_holm >= difference.p_value


def test_eta_squared_by_hand():
    values = [1.0, 2.0, 3.0, 7.0, 8.0, 9.0]
    groups = ["a", "a", "a", "b", "b", "b"]
    # grand mean 5; SS_total = 16+9+4+4+9+16 = 58; SS_between = 3*(2-5)^2 + 3*(8-5)^2 = 54
    assert sensitivity.eta_squared(values, groups).value == pytest.approx(54 / 58)
    assert sensitivity.eta_squared(values, ["a"] * 6).value is None
    assert sensitivity.eta_squared([1.0, 1.0], ["a", "b"]).value is None
