"""stats.validation and stats.comparison on small hand-made tables (no database)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score

from stats import agreement, comparison, validation
from stats.agreement import ICC_FORMS, ORDERED_CATEGORIES
from tests.stats.examples import (
    KRIPPENDORFF_RELIABILITY_DATA,
    SHROUT_FLEISS_RATINGS,
    contains_estimate,
)

# A fixed example sequence: one verdict on every run.
PROPERTIES = settings(deadline=None, max_examples=25, derandomize=True, database=None)
NO_RESPONSES = pd.DataFrame(columns=list(validation.RESPONSE_COLUMNS))


def _judgments(rows: list[tuple], **overrides) -> pd.DataFrame:
    """(trial_id, rater, category, angle) rows as a judgments table, nothing gold, flagged or audited."""
    frame = pd.DataFrame(rows, columns=["trial_id", "rater", "category", "angle"])
    defaults = {"is_gold": False, "gold_category": "", "flagged": False, "excluded": False}
    frame = frame.assign(**{**defaults, **overrides})
    frame["audit"] = [{} for _ in range(len(frame))]
    return frame


def _automated(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(validation.AUTOMATED_COLUMNS))


def test_crossed_ratings_give_all_six_icc_forms_among_raters():
    rows = [
        (target, f"judge{judge}", "prosocial", float(score))
        for target, row in enumerate(SHROUT_FLEISS_RATINGS)
        for judge, score in enumerate(row)
    ]
    result = validation.human_validation(_automated([]), _judgments(rows), NO_RESPONSES, n_boot=100)
    assert result["crossed_design"] is True
    assert list(result["icc_among_raters"]) == list(ICC_FORMS)
    assert round(result["icc_among_raters"]["ICC(C,k)"]["value"], 3) == 0.909


def test_the_dict_form_has_no_icc_over_rater_slots():
    assert not hasattr(validation, "_rating_slots")
    rows = [(1, "a", "prosocial", 10.0), (1, "b", "prosocial", 12.0), (2, "a", "prosocial", 30.0)]
    rows += [(2, "c", "prosocial", 33.0), (3, "b", "prosocial", 50.0), (3, "c", "prosocial", 52.0)]
    result = validation.human_validation(_automated([]), _judgments(rows), NO_RESPONSES, n_boot=100)
    assert result["crossed_design"] is False
    assert list(result["icc_among_raters"]) == [agreement.ALPHA_INTERVAL]
    assert "icc_automated_as_rater" not in result


def test_majority_ties_are_left_out_of_kappa_and_counted():
    rows = [
        (1, "a", "prosocial", None),
        (1, "b", "prosocial", None),
        (1, "c", "altruistic", None),
        (2, "a", "individualistic", None),
        (2, "b", "competitive", None),
        (3, "a", "competitive", None),
        (3, "b", "competitive", None),
    ]
    automated = _automated([(1, "prosocial", 40.0), (2, "individualistic", 5.0), (3, "individualistic", 0.0)])
    result = validation.human_validation(automated, _judgments(rows), NO_RESPONSES, n_boot=100)
    assert result["kappa_vs_majority"]["n"] == 2
    assert "left out 1 transcript whose raters tie" in result["kappa_vs_majority"]["note"]
    expected = cohen_kappa_score(["prosocial", "individualistic"], ["prosocial", "competitive"])
    assert result["kappa_vs_majority"]["value"] == pytest.approx(expected)
    assert (
        result["confusion_matrix"]["rows_automated_columns_majority"][1][0] == 1
    )  # individualistic vs competitive


def test_flagged_and_excluded_raters():
    rows = [(t, r, "prosocial" if t % 2 else "competitive", 10.0 * t) for t in range(6) for r in "abc"]
    judgments = _judgments(rows)
    judgments.loc[judgments["rater"] == "b", "flagged"] = True
    judgments.loc[judgments["rater"] == "c", "excluded"] = True
    automated = _automated([(t, "prosocial" if t % 2 else "competitive", 10.0 * t) for t in range(6)])
    default = validation.human_validation(automated, judgments, NO_RESPONSES, n_boot=100)
    assert (default["n_raters"], default["flagged_raters_left_out"], default["excluded_raters"]) == (1, 1, 1)
    included = validation.human_validation(
        automated, judgments, NO_RESPONSES, include_flagged=True, n_boot=100
    )
    assert included["n_raters"] == 2
    assert included["flagged_raters_left_out"] == 0
    assert included["fleiss_kappa"]["value"] == pytest.approx(1.0)


def test_extraction_audit_maps_display_positions_through_the_presented_order():
    reversed_order = list(range(9, 0, -1))
    responses = pd.DataFrame(
        {
            "trial_id": [1, 1, 1],
            "item": [1, 2, 3],
            "presented_order": [reversed_order] * 3,
            "extracted_option": [2, None, 7],
        }
    )
    # position 8 of the reversed order shows option 2; 'unclear' (None) matches nothing extracted; position 1
    # shows option 9, not the extracted 7
    rated = pd.DataFrame({"trial_id": [1], "audit": [{"1": 8, "2": None, "3": 1, "9": 4}]})
    result = validation.extraction_audit(rated, responses, seed=0, n_boot=100)
    assert result["accuracy"].value == pytest.approx(2 / 3)
    assert result["accuracy"].n == 3
    assert "left out 1 audited items without a matching response" in result["accuracy"].note


def test_gold_accuracy_per_rater():
    rows = [(1, "a", "prosocial", 1.0), (2, "a", "altruistic", 1.0), (1, "b", "prosocial", 1.0)]
    judgments = _judgments(rows, is_gold=True, gold_category="prosocial")
    judgments.loc[judgments["rater"] == "a", "flagged"] = True
    gold = {row["rater"]: row for row in validation.gold_accuracy(judgments)}
    assert gold["a"]["value"] == 0.5
    assert gold["a"]["flagged"] is True
    assert gold["b"]["value"] == 1.0
    assert gold["b"]["n"] == 1


def test_an_unclear_answer_on_a_gold_item_is_a_miss_as_in_the_screening_rule():
    # the report reads "unclear" as no category (a blank); on a gold item that is not the gold answer
    rows = [(1, "a", "prosocial", 1.0), (2, "a", "", 1.0), (3, "a", "", 1.0)]
    judgments = _judgments(rows, is_gold=True, gold_category="prosocial")
    (gold,) = validation.gold_accuracy(judgments)
    assert gold["value"] == pytest.approx(1 / 3)
    assert gold["n"] == 3


def test_bland_altman_bias_and_limits():
    automated = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    human = np.array([12.0, 18.0, 33.0, 41.0, 47.0])
    result = validation.bland_altman(automated, human)
    differences = automated - human
    sd = differences.std(ddof=1)
    assert result["bias"]["value"] == pytest.approx(differences.mean())
    half = scipy_stats.t.ppf(0.975, 4) * sd / math.sqrt(5)
    assert result["bias"]["ci_low"] == pytest.approx(differences.mean() - half)
    assert result["upper_limit"]["value"] == pytest.approx(differences.mean() + 1.959963984540054 * sd)
    assert validation.bland_altman(automated[:2], human[:2])["bias"]["note"] == "not enough data (n = 2)"


def test_unordered_labels_leave_out_weighted_kappa():
    rows = [(t, r, "xy"[t % 2], None) for t in range(6) for r in "ab"]
    automated = _automated([(t, "xy"[t % 2], None) for t in range(6)])
    result = validation.human_validation(
        automated, _judgments(rows), NO_RESPONSES, labels=["x", "y"], ordered=False, n_boot=100
    )
    assert result["kappa_vs_majority"]["value"] == pytest.approx(1.0)
    assert "weighted_kappa_vs_majority" not in result
    assert "mean_weighted_kappa_vs_raters" not in result


def test_malformed_tables_are_rejected():
    with pytest.raises(ValueError, match="lack the columns"):
        validation.human_validation(_automated([]), pd.DataFrame({"trial_id": [1]}), NO_RESPONSES)
    with pytest.raises(ValueError, match="must be a DataFrame"):
        validation.human_validation([], _judgments([]), NO_RESPONSES)


def test_krippendorff_alpha_of_units_equals_the_raters_by_units_table():
    units = [
        [row[unit] for row in KRIPPENDORFF_RELIABILITY_DATA if row[unit] is not None] for unit in range(12)
    ]
    for level in ("nominal", "ordinal", "interval", "ratio"):
        by_units = agreement.krippendorff_alpha_of_units(units, level=level, n_boot=100)
        by_table = agreement.krippendorff_alpha(KRIPPENDORFF_RELIABILITY_DATA, level=level, n_boot=100)
        assert by_units == by_table


# ---------------------------------------------------------------------------------------------------------
# mean kappa of a reference vs each rater


def _ratings_of(truth: list[str], raters: int, agree: float, seed: int) -> tuple[list, list, list, list]:
    rng = np.random.default_rng(seed)
    reference, rated, who, items = [], [], [], []
    for item, label in enumerate(truth):
        for rater in rng.choice(6, size=raters, replace=False):
            reference.append(label)
            rated.append(label if rng.random() < agree else ORDERED_CATEGORIES[rng.integers(0, 4)])
            who.append(int(rater))
            items.append(item)
    return reference, rated, who, items


def test_mean_kappa_vs_raters_is_the_mean_of_each_raters_kappa():
    rng = np.random.default_rng(1)
    truth = [ORDERED_CATEGORIES[i] for i in rng.integers(0, 4, 80)]
    reference, rated, who, items = _ratings_of(truth, 3, 0.7, seed=2)
    for weights in (None, "linear"):
        estimate = agreement.mean_kappa_vs_raters(
            reference, rated, who, items, labels=ORDERED_CATEGORIES, weights=weights, n_boot=200
        )
        kappas = [
            cohen_kappa_score(
                [a for a, w in zip(reference, who, strict=True) if w == rater],
                [b for b, w in zip(rated, who, strict=True) if w == rater],
                labels=list(ORDERED_CATEGORIES),
                weights=weights,
            )
            for rater in sorted(set(who))
        ]
        assert estimate.value == pytest.approx(np.mean(kappas))
        assert estimate.n == 80
        assert contains_estimate(estimate)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(2, 4))
def test_mean_kappa_of_perfect_raters_is_one(seed, raters):
    rng = np.random.default_rng(seed)
    truth = [ORDERED_CATEGORIES[i] for i in rng.integers(0, 4, 60)]
    reference, rated, who, items = _ratings_of(truth, raters, 1.0, seed)
    estimate = agreement.mean_kappa_vs_raters(
        reference, rated, who, items, labels=ORDERED_CATEGORIES, n_boot=100
    )
    assert estimate.value == pytest.approx(1.0)
    assert estimate.ci_low == pytest.approx(1.0)


@PROPERTIES
@given(st.integers(0, 2**32 - 1))
def test_mean_kappa_of_permuted_labels_is_about_zero(seed):
    rng = np.random.default_rng(seed)
    truth = [ORDERED_CATEGORIES[i] for i in rng.integers(0, 4, 1500)]
    reference, rated, who, items = _ratings_of(truth, 2, 1.0, seed)
    rated = list(rng.permutation(rated))
    estimate = agreement.mean_kappa_vs_raters(
        reference, rated, who, items, labels=ORDERED_CATEGORIES, n_boot=100
    )
    assert estimate.value == pytest.approx(0.0, abs=0.1)
    assert contains_estimate(estimate)


def test_mean_kappa_with_too_little_data():
    assert agreement.mean_kappa_vs_raters([], [], [], []).note.startswith("not enough data (n = 0)")
    single = agreement.mean_kappa_vs_raters(["a", "a"], ["a", "a"], ["r", "r"], [1, 2])
    assert single.value is None
    assert "left out 1 rater" in single.note
    with pytest.raises(ValueError, match="one entry per rating"):
        agreement.mean_kappa_vs_raters(["a"], ["a", "b"], ["r"], [1])


# ---------------------------------------------------------------------------------------------------------
# comparison


def test_mean_difference_is_welchs_interval():
    first, second = [0.1, 0.5, 0.7, 0.2, 0.9], [0.8, 0.9, 0.95, 0.7]
    estimate = comparison.mean_difference(first, second)
    reference = scipy_stats.ttest_ind(second, first, equal_var=False).confidence_interval()
    assert estimate.value == pytest.approx(np.mean(second) - np.mean(first))
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((reference.low, reference.high))
    assert comparison.mean_difference([1.0], [2.0, 3.0]).note == "not enough data (n = 1 and 2)"


def test_mean_and_proportion_intervals():
    values = [1.0, 2.0, 4.0, None, math.nan]
    estimate = comparison.mean_estimate(values)
    interval = scipy_stats.t.interval(0.95, 2, loc=7 / 3, scale=scipy_stats.sem([1.0, 2.0, 4.0]))
    assert estimate.n == 3
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(interval)
    share = comparison.proportion([True, False, True, None])
    assert share.value == pytest.approx(2 / 3)
    assert share.n == 3
    assert comparison.proportion([]).note == "not enough data (n = 0)"
