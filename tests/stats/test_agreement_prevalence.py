"""Confusion matrix, Gwet's AC1, PABAK and weighted kappa against published values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from stats import agreement
from stats.agreement import ORDERED_CATEGORIES, ConfusionMatrix
from tests.stats.examples import (
    ABSTRACTORS_AC1,
    ABSTRACTORS_AC1_SE,
    ABSTRACTORS_BRENNAN_PREDIGER,
    ABSTRACTORS_KAPPA,
    ABSTRACTORS_LABELS,
    ABSTRACTORS_PERCENT_AGREEMENT,
    ABSTRACTORS_TABLE,
    PARADOX_BALANCED,
    PARADOX_PREVALENT,
    contains_estimate,
    pairs_from_table,
    value_of,
)

PROPERTIES = settings(deadline=None, max_examples=25, derandomize=True, database=None)
_Z = 1.959963984540054
PAIRS = st.lists(
    st.tuples(st.sampled_from(ORDERED_CATEGORIES), st.sampled_from(ORDERED_CATEGORIES)),
    min_size=2,
    max_size=60,
)


# confusion matrix


def test_confusion_matrix_keeps_the_given_label_order_and_unused_labels():
    matrix = agreement.confusion_matrix(
        ["prosocial", "competitive", None, "prosocial"],
        ["prosocial", "prosocial", "altruistic", "individualistic"],
        labels=ORDERED_CATEGORIES,
    )
    assert matrix.labels == ORDERED_CATEGORIES
    assert matrix.counts == ((0, 0, 1, 0), (0, 0, 0, 0), (0, 1, 1, 0), (0, 0, 0, 0))
    assert (matrix.n, matrix.agreements, matrix.dropped) == (3, 1, 1)
    assert matrix.row_totals() == (1, 0, 2, 0)
    assert matrix.column_totals() == (0, 1, 2, 0)


@PROPERTIES
@given(PAIRS)
def test_confusion_matrix_matches_sklearn(pairs):
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    matrix = agreement.confusion_matrix(first, second, labels=ORDERED_CATEGORIES)
    expected = sklearn_confusion_matrix(first, second, labels=list(ORDERED_CATEGORIES))
    assert np.array_equal(matrix.as_array(), expected)
    assert matrix.n == len(pairs)


def test_confusion_matrix_rejects_unknown_labels_and_malformed_counts():
    with pytest.raises(ValueError, match="not in the given category order"):
        agreement.confusion_matrix(["a", "z"], ["a", "a"], labels=["a", "b"])
    with pytest.raises(ValueError, match="2 x 2"):
        ConfusionMatrix(labels=("a", "b"), counts=((1, 2),))
    with pytest.raises(ValueError, match="must not repeat"):
        ConfusionMatrix(labels=("a", "a"), counts=((1, 2), (3, 4)))


def test_confusion_matrix_is_frozen():
    matrix = agreement.confusion_matrix(["a"], ["a"])
    with pytest.raises(AttributeError):
        matrix.counts = ((2,),)  # type: ignore[misc]


# Gwet's AC1 and PABAK on Gwet's published example


def test_gwet_ac1_reproduces_gwets_published_example():
    first, second = pairs_from_table(ABSTRACTORS_TABLE, ABSTRACTORS_LABELS)
    estimate = agreement.gwet_ac1(first, second, labels=ABSTRACTORS_LABELS)
    assert value_of(estimate) == pytest.approx(ABSTRACTORS_AC1, abs=5e-7)
    assert estimate.n == 100
    assert estimate.ci_low is not None
    assert estimate.ci_high is not None
    standard_error = (estimate.ci_high - estimate.ci_low) / (2 * _Z)
    assert standard_error == pytest.approx(ABSTRACTORS_AC1_SE, abs=5e-8)
    assert "Gwet 2008" in estimate.method


def test_pabak_reproduces_the_brennan_prediger_value_of_gwets_example():
    first, second = pairs_from_table(ABSTRACTORS_TABLE, ABSTRACTORS_LABELS)
    estimate = agreement.pabak(first, second, labels=ABSTRACTORS_LABELS)
    assert value_of(estimate) == pytest.approx(ABSTRACTORS_BRENNAN_PREDIGER, abs=1e-12)
    assert value_of(agreement.accuracy(first, second)) == pytest.approx(ABSTRACTORS_PERCENT_AGREEMENT)
    # the interval is the Wilson interval of p_o mapped through (3 p - 1) / 2
    low, high = agreement.wilson_interval(89, 100)
    assert estimate.ci_low == pytest.approx((3 * low - 1) / 2, abs=1e-9)
    assert estimate.ci_high == pytest.approx((3 * high - 1) / 2, abs=1e-9)


def test_cohen_kappa_reproduces_gwets_example():
    first, second = pairs_from_table(ABSTRACTORS_TABLE, ABSTRACTORS_LABELS)
    assert value_of(agreement.cohen_kappa(first, second)) == pytest.approx(ABSTRACTORS_KAPPA, abs=5e-7)


def test_the_kappa_paradox_of_feinstein_and_cicchetti():
    # Same observed agreement 0.85; kappa falls from 0.70 to 0.32 when one category is prevalent, PABAK stays
    # at 2 * 0.85 - 1 = 0.70 and AC1 stays high.
    balanced = pairs_from_table(PARADOX_BALANCED, ["yes", "no"])
    prevalent = pairs_from_table(PARADOX_PREVALENT, ["yes", "no"])
    assert value_of(agreement.cohen_kappa(*balanced)) == pytest.approx(0.70, abs=0.005)
    assert value_of(agreement.cohen_kappa(*prevalent)) == pytest.approx(0.32, abs=0.005)
    for pairs in (balanced, prevalent):
        assert value_of(agreement.pabak(*pairs)) == pytest.approx(0.70, abs=1e-12)
    assert value_of(agreement.gwet_ac1(*prevalent)) > 0.75
    assert value_of(agreement.gwet_ac1(*balanced)) == pytest.approx(0.70, abs=0.01)


def test_gwet_ac1_two_category_value_by_hand():
    # prevalent table: p_a = .85, pi_yes = (.90 + .85) / 2 = .875, p_e = 2 * .875 * .125 = .21875
    prevalent = pairs_from_table(PARADOX_PREVALENT, ["yes", "no"])
    assert value_of(agreement.gwet_ac1(*prevalent)) == pytest.approx((0.85 - 0.21875) / (1 - 0.21875))


@PROPERTIES
@given(PAIRS)
def test_ac1_and_pabak_are_symmetric_bounded_and_inside_their_interval(pairs):
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    for statistic in (agreement.gwet_ac1, agreement.pabak):
        estimate = statistic(first, second, labels=ORDERED_CATEGORIES)
        swapped = statistic(second, first, labels=ORDERED_CATEGORIES)
        assert value_of(estimate) == pytest.approx(value_of(swapped), abs=1e-12)
        assert -1 - 1e-12 <= value_of(estimate) <= 1 + 1e-12
        assert contains_estimate(estimate)


def test_perfect_agreement_gives_one():
    labels = ["a", "b", "c", "a", "b"]
    assert value_of(agreement.gwet_ac1(labels, labels)) == pytest.approx(1.0)
    assert value_of(agreement.pabak(labels, labels)) == pytest.approx(1.0)


def test_ac1_and_pabak_without_enough_data_or_categories():
    assert agreement.gwet_ac1(["a"], ["a"]).value is None
    assert "not enough data" in agreement.gwet_ac1(["a"], ["a"]).note
    single = agreement.gwet_ac1(["a", "a"], ["a", "a"])
    assert single.value is None
    assert "undefined" in single.note
    assert agreement.pabak([], []).value is None
    dropped = agreement.pabak(["a", None, "b"], ["a", "b", "b"])
    assert dropped.n == 2
    assert "dropped 1 pair" in dropped.note


# weighted kappa against scikit-learn on fixed data


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_matches_sklearn_on_a_fixed_ordered_table(weights):
    table = [[20, 5, 1, 0], [4, 15, 6, 1], [1, 5, 18, 3], [0, 1, 4, 16]]
    first, second = pairs_from_table(table, list(ORDERED_CATEGORIES))
    estimate = agreement.cohen_kappa(first, second, labels=ORDERED_CATEGORIES, weights=weights, n_boot=500)
    reference = cohen_kappa_score(first, second, labels=list(ORDERED_CATEGORIES), weights=weights)
    assert value_of(estimate) == pytest.approx(reference, abs=1e-12)
    assert contains_estimate(estimate)
    assert not math.isclose(reference, cohen_kappa_score(first, second))  # weights change the value
