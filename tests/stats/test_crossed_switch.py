"""The inter-rater reliability switch: ICC for fully crossed designs, Krippendorff's alpha otherwise."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stats import agreement
from stats.agreement import ALPHA_INTERVAL, ICC_FORMS
from tests.stats.examples import SHROUT_FLEISS_RATINGS, value_of

PROPERTIES = settings(deadline=None, max_examples=25, derandomize=True, database=None)


def _rows(matrix):
    return [
        (f"t{target}", f"r{rater}", float(matrix[target, rater]))
        for target in range(matrix.shape[0])
        for rater in range(matrix.shape[1])
        if not np.isnan(matrix[target, rater])
    ]


def test_fully_crossed_ratings_get_the_icc_forms_of_shrout_and_fleiss():
    result = agreement.reliability_by_design(_rows(SHROUT_FLEISS_RATINGS))
    assert result.design == "crossed"
    assert (result.n_targets, result.n_raters) == (6, 4)
    assert set(result.estimates) == set(ICC_FORMS)
    # Shrout & Fleiss (1979), Table 4: ICC(2,1) = .29, ICC(3,1) = .71
    assert round(value_of(result.estimates["ICC(A,1)"]), 2) == 0.29
    assert round(value_of(result.estimates["ICC(C,1)"]), 2) == 0.71
    frame = pd.DataFrame(_rows(SHROUT_FLEISS_RATINGS), columns=["target", "rater", "rating"])
    oracle = pingouin.intraclass_corr(frame, targets="target", raters="rater", ratings="rating").set_index(
        "Type"
    )
    assert value_of(result.estimates["ICC(A,1)"]) == pytest.approx(oracle.loc["ICC(A,1)", "ICC"], abs=1e-9)
    for estimate in result.estimates.values():
        assert "fully crossed" in estimate.note
        assert "every rater rated every target" in estimate.note


def test_one_missing_rating_switches_to_krippendorffs_alpha_and_says_why():
    matrix = SHROUT_FLEISS_RATINGS.copy()
    matrix[2, 1] = np.nan
    result = agreement.reliability_by_design(_rows(matrix), n_boot=200)
    assert result.design == "not crossed"
    assert set(result.estimates) == {ALPHA_INTERVAL}
    estimate = result.estimates[ALPHA_INTERVAL]
    oracle = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement="interval")
    assert value_of(estimate) == pytest.approx(oracle, abs=1e-9)
    assert "not fully crossed" in estimate.note
    assert "1 target-rater pair of 24 unrated" in estimate.note
    assert "no ICC over invented rater slots" in result.reason
    assert "Krippendorff" in estimate.method


def test_different_raters_per_target_never_get_an_icc():
    # each target rated by 3 of 6 raters, a different 3 each time: the "slots" design
    rng = np.random.default_rng(3)
    rows = []
    for target in range(30):
        for rater in rng.choice(6, size=3, replace=False):
            rows.append((target, f"rater {rater}", float(target % 5 + rng.normal(scale=0.5))))
    result = agreement.reliability_by_design(rows, n_boot=200)
    assert result.design == "not crossed"
    assert not set(result.estimates) & set(ICC_FORMS)
    matrix = np.full((6, 30), np.nan)
    for target, rater, rating in rows:
        matrix[int(rater.split()[1]), target] = rating
    oracle = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    assert value_of(result.estimates[ALPHA_INTERVAL]) == pytest.approx(oracle, abs=1e-9)


def test_a_single_rater_is_not_a_crossed_design():
    result = agreement.reliability_by_design([("a", "r1", 1.0), ("b", "r1", 2.0)], n_boot=200)
    assert result.design == "not crossed"
    assert "fewer than 2 raters" in result.reason
    assert result.estimates[ALPHA_INTERVAL].value is None


def test_missing_ratings_are_ignored_and_malformed_rows_rejected():
    rows = [*_rows(SHROUT_FLEISS_RATINGS), ("t0", "r0", None)]
    assert agreement.reliability_by_design(rows).design == "crossed"
    with pytest.raises(ValueError, match="numbers"):
        agreement.reliability_by_design([("a", "r1", "high")])
    with pytest.raises(ValueError, match="target, rater, rating"):
        agreement.reliability_by_design([("a", "r1")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="identifier"):
        agreement.reliability_by_design([(None, "r1", 1.0)])


@PROPERTIES
@given(
    st.integers(2, 6),
    st.integers(2, 4),
    st.lists(st.booleans(), min_size=24, max_size=24),
)
def test_the_design_is_crossed_exactly_when_every_rater_rated_every_target(n_targets, n_raters, present):
    rng = np.random.default_rng(n_targets * 10 + n_raters)
    rows = []
    for target in range(n_targets):
        for rater in range(n_raters):
            if present[target * n_raters + rater]:
                rows.append((target, rater, float(target + rng.normal())))
    result = agreement.reliability_by_design(rows, n_boot=100)
    raters_seen = {rater for _, rater, _ in rows}
    targets_seen = {target for target, _, _ in rows}
    crossed = (
        len(raters_seen) >= 2
        and len(targets_seen) >= 2
        and len({(t, r) for t, r, _ in rows}) == len(raters_seen) * len(targets_seen)
    )
    assert (result.design == "crossed") == crossed
    assert set(result.estimates) == (set(ICC_FORMS) if crossed else {ALPHA_INTERVAL})
