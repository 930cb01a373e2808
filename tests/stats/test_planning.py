"""Sample-size planning for human validation: published values, the formulas, and simulation agreeing with them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stats import agreement, planning

UNIFORM_4 = planning.uniform_prevalence(4)
SKEWED = (0.1, 0.6, 0.2, 0.1)


def request(statistic: planning.Statistic, expected: float, half_width: float, raters: int, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("prevalence", UNIFORM_4)
    return planning.PlanRequest(statistic, expected, half_width, raters, **kwargs)


# --- ICC: Bonett (2002) ---------------------------------------------------------------------------------


def test_icc_reproduces_the_published_worked_example() -> None:
    # Bonett's (2002) formula as worked through in the psychometric sample-size calculators of
    # P. ten Klooster ("ICC reliability interval estimation"): two raters, expected ICC 0.8, a 95% interval
    # of full width 0.2 (half-width 0.1) needs 51 subjects.
    assert planning.icc_sample_size(0.8, 0.1, 2) == 51


def test_icc_reproduces_bonetts_own_example() -> None:
    # Bonett (2002) works through four raters, an expected ICC of 0.85 and a 95% interval of width 0.2, and
    # reports n = 19.2 before rounding (as quoted in the documentation of the R package presize, prec_icc).
    assert planning.icc_sample_size_unrounded(0.85, 0.1, 4) == pytest.approx(19.2, abs=0.05)
    assert planning.icc_sample_size(0.85, 0.1, 4) == 20


def test_icc_plan_notes_bonetts_correction_for_two_raters_and_high_icc() -> None:
    # The same worked example (ten Klooster's calculator): 51 + 5 x 0.8 = 55.
    plan = planning.plan_sample_size(request("icc", 0.8, 0.1, 2))
    assert plan.n == 51
    assert plan.note.endswith("n = 55")
    assert planning.plan_sample_size(request("icc", 0.6, 0.1, 2)).note == ""


@pytest.mark.parametrize(
    ("rho", "raters", "half_width"),
    [(0.7, 2, 0.1), (0.5, 3, 0.1), (0.9, 5, 0.05), (0.6, 2, 0.15)],
)
def test_icc_sample_size_is_bonetts_formula_rounded_up(rho: float, raters: int, half_width: float) -> None:
    z = 1.959963984540054
    width = 2 * half_width
    exact = 8 * z**2 * (1 - rho) ** 2 * (1 + (raters - 1) * rho) ** 2 / (raters * (raters - 1) * width**2) + 1
    n = planning.icc_sample_size(rho, half_width, raters)
    assert n == math.ceil(exact)
    assert planning.icc_half_width(rho, n, raters) <= half_width < planning.icc_half_width(rho, n - 1, raters)


def test_icc_needs_fewer_targets_with_more_raters_and_wider_intervals() -> None:
    assert planning.icc_sample_size(0.6, 0.1, 3) < planning.icc_sample_size(0.6, 0.1, 2)
    assert planning.icc_sample_size(0.6, 0.2, 2) < planning.icc_sample_size(0.6, 0.1, 2)


def test_icc_simulation_agrees_with_bonett() -> None:
    # At Bonett's n, the central 95% range of simulated one-way ICC(1,1) estimates has about the planned
    # half-width (Bonett reports his approximation accurate for k >= 3 and moderate rho).
    plan = request("icc", 0.5, 0.1, 3, method="simulation", simulations=2000, seed=3)
    n = planning.icc_sample_size(0.5, 0.1, 3)
    assert planning.simulated_half_width(plan, n) == pytest.approx(0.1, rel=0.08)


# --- kappa: Fleiss, Cohen & Everitt (1969) ---------------------------------------------------------------


def test_kappa_joint_table_has_the_prevalence_as_marginals_and_the_kappa_asked_for() -> None:
    table = planning.kappa_joint_table(0.6, SKEWED)
    assert table.sum(axis=0) == pytest.approx(SKEWED)
    assert table.sum(axis=1) == pytest.approx(SKEWED)
    observed, chance = np.trace(table), sum(p * p for p in SKEWED)
    assert (observed - chance) / (1 - chance) == pytest.approx(0.6)


def test_kappa_variance_matches_the_projects_standard_error() -> None:
    # The same FCE (1969) variance as the reported kappa's: a large table with exactly these proportions.
    n = 10_000
    table = np.rint(planning.kappa_joint_table(0.6, (0.25, 0.25, 0.25, 0.25)) * n).astype(int)
    a = [i for i in range(4) for j in range(4) for _ in range(table[i, j])]
    b = [j for i in range(4) for j in range(4) for _ in range(table[i, j])]
    estimate = agreement.cohen_kappa(a, b, labels=[0, 1, 2, 3], n_boot=100)
    assert estimate.value == pytest.approx(0.6, abs=1e-3)
    half_width = (estimate.ci_high - estimate.ci_low) / 2  # type: ignore[operator]
    assert half_width == pytest.approx(planning.kappa_half_width(0.6, n, UNIFORM_4), rel=0.01)


def test_kappa_under_a_binary_prevalence_has_the_closed_form_variance() -> None:
    # With two categories and equal marginals p, FCE (1969) reduces to
    # var_1 = (1 - k) [(1 - k)(1 - 2k) + k (2 - k) / (2 p (1 - p))] (the variance of Bloch & Kraemer 1989 for two categories).
    for p, kappa in ((0.5, 0.6), (0.2, 0.4), (0.3, 0.8)):
        closed = (1 - kappa) * ((1 - kappa) * (1 - 2 * kappa) + kappa * (2 - kappa) / (2 * p * (1 - p)))
        assert planning.kappa_unit_variance(kappa, (p, 1 - p)) == pytest.approx(closed)


def test_kappa_simulation_agrees_with_the_formula() -> None:
    plan = request("kappa", 0.6, 0.1, 2, method="simulation", simulations=2000, seed=5)
    n = planning.kappa_sample_size(0.6, 0.1, UNIFORM_4)
    assert n == 144
    assert planning.simulated_half_width(plan, n) == pytest.approx(0.1, rel=0.08)


def test_kappa_below_what_the_prevalence_allows_is_refused() -> None:
    with pytest.raises(planning.PlanningError, match="lowest possible"):
        planning.kappa_sample_size(-0.5, 0.1, SKEWED)


# --- the simulated estimators are the project's statistics ----------------------------------------------


def _ratings(seed: int, n: int = 40, raters: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return planning.simulate_ratings(rng, 1, n, raters, SKEWED, 0.7)


def test_vectorised_kappa_and_alpha_equal_the_reported_statistics() -> None:
    ratings = _ratings(1)
    one = ratings[0]
    fleiss = agreement.fleiss_kappa(one.tolist(), n_boot=100).value
    assert planning.fleiss_kappa_many(ratings, 4)[0] == pytest.approx(fleiss)
    alpha = agreement.krippendorff_alpha(one.T.tolist(), level="nominal", n_boot=100).value
    assert planning.krippendorff_alpha_nominal_many(ratings, 4)[0] == pytest.approx(alpha)
    cohen = agreement.cohen_kappa(one[:, 0].tolist(), one[:, 1].tolist(), n_boot=100).value
    assert planning.cohen_kappa_many(ratings[:, :, :2], 4)[0] == pytest.approx(cohen)


def test_vectorised_icc_equals_the_reported_one_way_icc() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(1, 30, 1)) + rng.normal(size=(1, 30, 3))
    reported = agreement.icc_one_way(list(scores[0]))["ICC(1,1)"].value
    assert planning.icc_one_way_many(scores)[0] == pytest.approx(reported)
    frame = pd.DataFrame(
        [(t, r, scores[0, t, r]) for t in range(30) for r in range(3)], columns=["target", "rater", "score"]
    )
    crossed = agreement.icc(frame, targets="target", raters="rater", ratings="score")["ICC(1,1)"].value
    assert planning.icc_one_way_many(scores)[0] == pytest.approx(crossed)


def test_ac1_on_a_hand_computed_table() -> None:
    # Three targets, two raters, two categories: agreement on targets 1 and 3, so p_a = 2/3; category shares
    # 3/6 and 3/6, chance = (1/2 * 1/2 + 1/2 * 1/2) / (2 - 1) = 1/2; AC1 = (2/3 - 1/2) / (1 - 1/2) = 1/3.
    ratings = np.array([[[0, 0], [0, 1], [1, 1]]])
    assert planning.gwet_ac1_many(ratings, 2)[0] == pytest.approx(1 / 3)


def test_simulated_raters_reach_the_expected_coefficient_in_large_samples() -> None:
    rng = np.random.default_rng(4)
    for statistic, estimator in (
        ("kappa", planning.fleiss_kappa_many),
        ("alpha", planning.krippendorff_alpha_nominal_many),
        ("ac1", planning.gwet_ac1_many),
    ):
        accuracy = planning.rater_accuracy(statistic, 0.65, SKEWED)  # type: ignore[arg-type]
        ratings = planning.simulate_ratings(rng, 2, 20_000, 3, SKEWED, accuracy)
        assert estimator(ratings, 4) == pytest.approx([0.65, 0.65], abs=0.015)


def test_ac1_is_higher_than_kappa_under_skewed_prevalence_at_the_same_raters() -> None:
    # The prevalence paradox AC1 was built for: the same accuracy gives a lower kappa than AC1.
    accuracy = planning.rater_accuracy("kappa", 0.5, SKEWED)
    chance_ac1 = planning.ac1_chance_agreement(SKEWED)
    matching = sum(p * p for p in SKEWED)
    ac1 = (accuracy**2 + (1 - accuracy**2) * matching - chance_ac1) / (1 - chance_ac1)
    assert ac1 > 0.5
    assert planning.rater_accuracy("ac1", ac1, SKEWED) == pytest.approx(accuracy)


# --- the plan ---------------------------------------------------------------------------------------------


def test_plan_uses_the_formula_where_one_exists_and_simulation_otherwise() -> None:
    assert planning.plan_sample_size(request("icc", 0.8, 0.1, 2)).method == "analytic"
    assert planning.plan_sample_size(request("kappa", 0.6, 0.1, 2)).n == 144
    plan = planning.plan_sample_size(request("alpha", 0.6, 0.1, 3, simulations=300, seed=1))
    assert plan.method == "simulation"
    assert plan.rater_accuracy == pytest.approx(math.sqrt(0.6))
    assert plan.achieved_half_width <= 0.1
    assert "seed 1" in plan.formula
    assert "300" in plan.formula


def test_simulated_plan_is_reproducible_with_its_seed() -> None:
    first = planning.plan_sample_size(request("ac1", 0.7, 0.1, 3, simulations=200, seed=9, prevalence=SKEWED))
    again = planning.plan_sample_size(request("ac1", 0.7, 0.1, 3, simulations=200, seed=9, prevalence=SKEWED))
    assert first == again


def test_simulated_n_is_the_smallest_meeting_the_half_width() -> None:
    plan_request = request("kappa", 0.6, 0.1, 3, simulations=200, seed=2)
    n, width = planning.simulated_sample_size(plan_request)
    assert width <= 0.1 < planning.simulated_half_width(plan_request, n - 1)


def test_table_surrounds_the_request() -> None:
    rows = planning.plan_table(request("icc", 0.8, 0.1, 2))
    by_cell = {(row.expected, row.half_width): row.n for row in rows}
    assert by_cell[(0.8, 0.1)] == 51
    assert by_cell[(0.8, 0.05)] > by_cell[(0.8, 0.1)] > by_cell[(0.8, 0.2)]
    assert (0.7, 0.1) in by_cell
    assert (0.9, 0.1) in by_cell


def test_table_leaves_out_cells_outside_the_range() -> None:
    rows = planning.plan_table(request("icc", 0.95, 0.02, 2))
    assert all(-1 < row.expected < 1 for row in rows)
    assert {row.expected for row in rows} == {0.85, 0.95}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected": 1.0}, "strictly between -1 and 1"),
        ({"half_width": 0.0}, "half-width"),
        ({"raters": 1}, "at least 2 raters"),
        ({"prevalence": (0.5, 0.4)}, "sum to 1"),
        ({"prevalence": (1.0,)}, "at least 2 categories"),
        ({"simulations": 10}, "at least 100"),
    ],
)
def test_bad_requests_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"expected": 0.6, "half_width": 0.1, "raters": 2, "prevalence": UNIFORM_4}
    arguments.update(kwargs)
    with pytest.raises(planning.PlanningError, match=message):
        planning.PlanRequest("kappa", **arguments)  # type: ignore[arg-type]


def test_analytic_only_where_a_formula_exists() -> None:
    with pytest.raises(planning.PlanningError, match="no analytic formula"):
        planning.plan_sample_size(request("ac1", 0.6, 0.1, 2, method="analytic"))


def test_negative_expected_agreement_cannot_be_simulated() -> None:
    with pytest.raises(planning.PlanningError, match="cannot be simulated"):
        planning.plan_sample_size(request("alpha", -0.2, 0.1, 3))
