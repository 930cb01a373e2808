"""stats.agreement against published worked examples, reference implementations and general properties."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from stats import agreement
from stats.agreement import ICC_FORMS, ORDERED_CATEGORIES, Estimate
from tests.stats.examples import (
    FLEISS_WIKIPEDIA_COUNTS,
    KRIPPENDORFF_RELIABILITY_DATA,
    SHROUT_FLEISS_RATINGS,
    contains_estimate,
    value_of,
)

# Property tests check results, never speed: no deadline.
# Derandomized: the statistical properties ("about zero" within a tolerance of about three standard errors) hold
# for nearly every seed, not every one; a fixed example sequence keeps the suite's verdict the same on every run.
PROPERTIES = settings(deadline=None, max_examples=30, derandomize=True, database=None)
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _pairs_from_table(table: list[list[int]], labels: list[str]) -> tuple[list[str], list[str]]:
    first, second = [], []
    for row, counts in enumerate(table):
        for column, count in enumerate(counts):
            first += [labels[row]] * count
            second += [labels[column]] * count
    return first, second


def _wikipedia_cohen_pairs() -> tuple[list[str], list[str]]:
    # Wikipedia, "Cohen's kappa", worked example: 50 proposals read by A (rows) and B (columns),
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15; p_o = 0.7, p_e = 0.5, kappa = 0.4.
    return _pairs_from_table([[20, 5], [10, 15]], ["yes", "no"])


def _long(matrix: np.ndarray) -> pd.DataFrame:
    targets, raters = np.indices(matrix.shape)
    return pd.DataFrame({"target": targets.ravel(), "rater": raters.ravel(), "rating": matrix.ravel()})


def _icc(matrix: np.ndarray) -> dict[str, Estimate]:
    return agreement.icc(_long(matrix), targets="target", raters="rater", ratings="rating")


labels_strategy = st.lists(st.sampled_from(ORDERED_CATEGORIES), min_size=2, max_size=60)


# --------------------------------------------------------------------------------------------------------
# Estimate


def test_estimate_refuses_nan_and_reports_availability():
    with pytest.raises(ValueError, match="finite"):
        Estimate(math.nan, None, None, 3, "m")
    missing = Estimate(None, None, None, 1, "m", "not enough data (n = 1)")
    assert not missing.is_available
    assert Estimate(0.5, 0.1, 0.9, 10, "m").is_available
    assert missing.to_dict() == {
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "n": 1,
        "method": "m",
        "note": "not enough data (n = 1)",
    }


# --------------------------------------------------------------------------------------------------------
# majority label and accuracy


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["a", "a", "b"], "a"),
        (["a", "b"], None),
        (["a", "a", "b", "b", "c"], None),
        (["a", "a", "b", "c"], "a"),
        ([None, "b", math.nan], "b"),
        ([], None),
    ],
)
def test_majority_label_is_the_unique_most_frequent_label(labels, expected):
    assert agreement.majority_label(labels) == expected


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17, 857-872, Table I, method 3 (Wilson score interval).
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_accuracy_wilson_interval_reproduces_newcombe_1998(successes, n, low, high):
    estimate = agreement.accuracy(["x"] * n, ["x"] * successes + ["y"] * (n - successes))
    assert estimate.value == pytest.approx(successes / n)
    assert estimate.ci_low == pytest.approx(low, abs=5e-5)
    assert estimate.ci_high == pytest.approx(high, abs=5e-5)
    assert estimate.n == n


def test_accuracy_drops_pairs_with_a_missing_label_and_says_so():
    estimate = agreement.accuracy(["a", None, "b", "c"], ["a", "b", math.nan, "d"])
    assert estimate.n == 2
    assert estimate.value == 0.5
    assert "dropped 2 pairs with a missing label" in estimate.note


def test_accuracy_without_pairs_is_not_enough_data():
    estimate = agreement.accuracy([None], ["a"])
    assert estimate.value is None
    assert estimate.note.startswith("not enough data (n = 0)")


@PROPERTIES
@given(labels_strategy)
def test_accuracy_of_identical_lists_is_one(labels):
    estimate = agreement.accuracy(labels, labels)
    assert estimate.value == 1.0
    assert contains_estimate(estimate)


# --------------------------------------------------------------------------------------------------------
# Cohen's kappa


def test_cohen_kappa_reproduces_the_wikipedia_worked_example():
    first, second = _wikipedia_cohen_pairs()
    estimate = agreement.cohen_kappa(first, second)
    assert estimate.value == pytest.approx(0.4)
    assert estimate.n == 50
    assert "Fleiss, Cohen & Everitt" in estimate.method


@pytest.mark.parametrize(
    ("table", "published"),
    [
        # Cohen (1968), Psychological Bulletin 70(4), the 3 x 3 example of proportions over n = 200
        # (.44 .07 .09 / .05 .20 .05 / .01 .03 .06): p_o = .70, p_e = .41, unweighted kappa .492.
        ([[88, 14, 18], [10, 40, 10], [2, 6, 12]], 0.492),
        # Wikipedia, "Cohen's kappa", the two tables with equal agreement (60 of 100) but different marginals:
        # p_e = .54 gives kappa .1304, p_e = .46 gives kappa .2593.
        ([[45, 15], [25, 15]], 0.130),
        ([[25, 35], [5, 35]], 0.259),
    ],
)
def test_cohen_kappa_reproduces_published_tables(table, published):
    labels = [f"c{i}" for i in range(len(table))]
    first, second = _pairs_from_table(table, labels)
    estimate = agreement.cohen_kappa(first, second, labels=labels)
    assert round(value_of(estimate), 3) == published
    assert estimate.n == sum(map(sum, table))
    assert contains_estimate(estimate)


def _delta_method_standard_error(counts: np.ndarray) -> float:
    """SE of unweighted kappa by the multinomial delta method with a numerical gradient (an independent check
    of the closed form of Fleiss, Cohen & Everitt 1969, which is that delta-method variance)."""

    def kappa(cells: np.ndarray) -> float:
        proportions = cells / cells.sum()
        observed = np.trace(proportions)
        expected = proportions.sum(axis=1) @ proportions.sum(axis=0)
        return float((observed - expected) / (1 - expected))

    n = counts.sum()
    proportions = counts / n
    gradient = np.zeros_like(proportions)
    step = 1e-6
    for index in np.ndindex(proportions.shape):
        up, down = proportions.copy(), proportions.copy()
        up[index] += step
        down[index] -= step
        gradient[index] = (kappa(up) - kappa(down)) / (2 * step)
    mean_gradient = (proportions * gradient).sum()
    return math.sqrt(((proportions * (gradient - mean_gradient) ** 2).sum()) / n)


def test_cohen_kappa_interval_uses_the_large_sample_standard_error():
    counts = np.array([[30, 6, 2, 0], [5, 25, 7, 1], [1, 6, 40, 4], [0, 2, 5, 16]])
    first, second = _pairs_from_table(counts.tolist(), list(ORDERED_CATEGORIES))
    estimate = agreement.cohen_kappa(first, second, labels=ORDERED_CATEGORIES)
    assert estimate.ci_low is not None
    assert estimate.ci_high is not None
    half_width = (estimate.ci_high - estimate.ci_low) / 2
    assert half_width / 1.959963984540054 == pytest.approx(_delta_method_standard_error(counts), rel=1e-5)


@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn warns on single-label samples
@PROPERTIES
@given(
    st.lists(st.tuples(st.sampled_from(ORDERED_CATEGORIES), st.sampled_from(ORDERED_CATEGORIES)), min_size=2)
)
def test_cohen_kappa_matches_sklearn(pairs):
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    estimate = agreement.cohen_kappa(first, second)
    reference = cohen_kappa_score(first, second)
    if math.isnan(reference):
        assert estimate.value is None
        assert "undefined" in estimate.note
    else:
        assert estimate.value == pytest.approx(reference, abs=1e-9)


@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn warns on single-label samples
@PROPERTIES
@given(
    st.lists(st.tuples(st.sampled_from(ORDERED_CATEGORIES), st.sampled_from(ORDERED_CATEGORIES)), min_size=2),
    st.sampled_from(["linear", "quadratic"]),
)
def test_weighted_kappa_matches_sklearn(pairs, weights):
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    estimate = agreement.cohen_kappa(first, second, labels=ORDERED_CATEGORIES, weights=weights, n_boot=200)
    reference = cohen_kappa_score(first, second, labels=list(ORDERED_CATEGORIES), weights=weights)
    if math.isnan(reference):
        assert estimate.value is None
    else:
        assert estimate.value == pytest.approx(reference, abs=1e-9)
        assert f"{weights} weights" in estimate.method


def test_weighted_kappa_bootstrap_over_items_agrees_with_the_large_sample_standard_error():
    # Resampling items (not ratings) should reproduce the sampling spread that Fleiss, Cohen & Everitt (1969)
    # derive analytically for weighted kappa, on a large sample.
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 4, 3000)
    noisy = np.clip(truth + rng.choice([-1, 0, 0, 0, 1], size=truth.size), 0, 3)
    first = [ORDERED_CATEGORIES[i] for i in truth]
    second = [ORDERED_CATEGORIES[i] for i in noisy]
    estimate = agreement.cohen_kappa(
        first, second, labels=ORDERED_CATEGORIES, weights="quadratic", n_boot=2000
    )
    counts = np.zeros((4, 4))
    np.add.at(counts, (truth, noisy), 1)
    weights = 1 - (np.subtract.outer(np.arange(4), np.arange(4)) / 3) ** 2
    assert estimate.value is not None
    analytic = agreement._kappa_standard_error(counts / counts.sum(), weights, estimate.value, truth.size)
    assert estimate.ci_low is not None
    assert estimate.ci_high is not None
    bootstrap = (estimate.ci_high - estimate.ci_low) / (2 * 1.959963984540054)
    assert bootstrap == pytest.approx(analytic, rel=0.15)


def test_weighted_kappa_is_reproducible_for_a_seed():
    first, second = _wikipedia_cohen_pairs()
    runs = [
        agreement.cohen_kappa(first, second, labels=["no", "yes"], weights="linear", seed=seed)
        for seed in (3, 3, 4)
    ]
    assert runs[0] == runs[1]
    assert (runs[0].ci_low, runs[0].ci_high) != (runs[2].ci_low, runs[2].ci_high)


def test_cohen_kappa_drops_missing_pairs_and_says_so():
    first, second = _wikipedia_cohen_pairs()
    estimate = agreement.cohen_kappa([*first, None, "yes"], [*second, "no", math.nan])
    assert estimate.n == 50
    assert estimate.value == pytest.approx(0.4)
    assert "dropped 2 pairs with a missing label" in estimate.note


@pytest.mark.parametrize("size", [0, 1])
def test_cohen_kappa_with_fewer_than_two_pairs_is_not_enough_data(size):
    estimate = agreement.cohen_kappa(["prosocial"] * size, ["altruistic"] * size)
    assert estimate.value is None
    assert estimate.note == f"not enough data (n = {size})"


def test_cohen_kappa_on_a_single_category_is_undefined_not_nan():
    estimate = agreement.cohen_kappa(["prosocial"] * 5, ["prosocial"] * 5)
    assert estimate.value is None
    assert estimate.ci_low is None
    assert "undefined" in estimate.note


@PROPERTIES
@given(
    st.lists(st.sampled_from(ORDERED_CATEGORIES), min_size=3, max_size=60).filter(
        lambda labels: len(set(labels)) > 1
    ),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_of_perfect_agreement_is_one(labels, weights):
    estimate = agreement.cohen_kappa(labels, labels, labels=ORDERED_CATEGORIES, weights=weights, n_boot=200)
    assert estimate.value == pytest.approx(1.0)
    assert contains_estimate(estimate)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.sampled_from([None, "linear"]))
def test_cohen_kappa_of_independently_permuted_labels_is_about_zero(seed, n_categories, weights):
    rng = np.random.default_rng(seed)
    first = [ORDERED_CATEGORIES[i] for i in rng.integers(0, n_categories, 2000)]
    second = list(rng.permutation(first))
    estimate = agreement.cohen_kappa(first, second, labels=ORDERED_CATEGORIES, weights=weights, n_boot=200)
    assert estimate.value == pytest.approx(0.0, abs=0.1)
    assert contains_estimate(estimate)


@PROPERTIES
@given(
    st.lists(st.tuples(st.sampled_from(ORDERED_CATEGORIES), st.sampled_from(ORDERED_CATEGORIES)), min_size=2),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_cohen_kappa_interval_contains_the_estimate(pairs, weights):
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    estimate = agreement.cohen_kappa(first, second, labels=ORDERED_CATEGORIES, weights=weights, n_boot=200)
    if estimate.value is None:
        assert "undefined" in estimate.note
    elif estimate.ci_low is not None and estimate.ci_high is not None:
        assert contains_estimate(estimate)
        assert -1 <= estimate.ci_low <= estimate.ci_high <= 1
    else:
        assert "too few defined resamples" in estimate.note


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: agreement.cohen_kappa(["a", "b"], ["a"]), "pair up one to one"),
        (
            lambda: agreement.cohen_kappa(["a", "b"], ["a", "b"], weights="cubic"),  # type: ignore[arg-type]
            "weights must be",
        ),
        (
            lambda: agreement.cohen_kappa(["a", "z"], ["a", "b"], labels=["a", "b"]),
            "not in the given category order",
        ),
        (lambda: agreement.cohen_kappa(["a", "b"], ["a", "b"], labels=["a", "b", "a"]), "must not repeat"),
        (lambda: agreement.cohen_kappa(["a", "b"], ["b", "a"], weights="linear"), "needs the category order"),
        (
            lambda: agreement.cohen_kappa(["a", "b"], ["b", "a"], weights="linear", labels="ab", n_boot=10),
            "n_boot",
        ),
    ],
)
def test_cohen_kappa_rejects_malformed_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_weighted_kappa_accepts_numeric_labels_without_an_order():
    estimate = agreement.cohen_kappa([1, 2, 3, 3], [1, 2, 3, 2], weights="linear")
    assert estimate.value == pytest.approx(cohen_kappa_score([1, 2, 3, 3], [1, 2, 3, 2], weights="linear"))


# --------------------------------------------------------------------------------------------------------
# Fleiss' kappa


def _fleiss_table(counts: list[list[int]]) -> list[list[int]]:
    return [[category for category, times in enumerate(row) for _ in range(times)] for row in counts]


def test_fleiss_kappa_reproduces_the_wikipedia_worked_example():
    estimate = agreement.fleiss_kappa(_fleiss_table(FLEISS_WIKIPEDIA_COUNTS))
    assert round(value_of(estimate), 3) == 0.210
    assert estimate.n == 10
    assert contains_estimate(estimate)


def test_fleiss_kappa_with_two_raters_is_scotts_pi():
    # Fleiss (1971) generalises Scott's pi: on the Cohen example, pooled marginals are yes 55/100 and no 45/100,
    # p_e = 0.55^2 + 0.45^2 = 0.505 and pi = (0.7 - 0.505) / (1 - 0.505).
    first, second = _wikipedia_cohen_pairs()
    estimate = agreement.fleiss_kappa([list(pair) for pair in zip(first, second, strict=True)])
    assert estimate.value == pytest.approx((0.7 - 0.505) / (1 - 0.505))


def test_fleiss_kappa_handles_subjects_with_different_numbers_of_raters():
    # Worked by hand from the formula (Gwet 2014): P_i = 1/3, 0, 1, so P_a = 4/9; pi_A = (2/3 + 1/2 + 0) / 3,
    # pi_B = (1/3 + 1/2 + 1) / 3, P_e = 85/162, kappa = (4/9 - 85/162) / (1 - 85/162) = -13/77.
    # The fourth subject has a single rating and is dropped.
    table = [["A", "A", "B", None], ["A", "B", None, None], ["B", "B", "B", "B"], ["A", None, None, None]]
    estimate = agreement.fleiss_kappa(table)
    assert estimate.value == pytest.approx(-13 / 77)
    assert estimate.n == 3
    assert "dropped 1 subject with fewer than 2 ratings" in estimate.note


def test_fleiss_kappa_reads_a_dataframe_with_nan_as_missing():
    table = [["A", "A", "B", None], ["A", "B", None, None], ["B", "B", "B", "B"]]
    frame = pd.DataFrame(table).astype(object).where(pd.DataFrame(table).notna(), np.nan)
    assert agreement.fleiss_kappa(frame).value == pytest.approx(-13 / 77)


@pytest.mark.parametrize("table", [[], [["a", "b"]], [["a", "b"], ["a", None]]])
def test_fleiss_kappa_with_fewer_than_two_rated_subjects_is_not_enough_data(table):
    estimate = agreement.fleiss_kappa(table)
    assert estimate.value is None
    assert estimate.note.startswith("not enough data (n = ")


def test_fleiss_kappa_on_a_single_category_is_undefined():
    estimate = agreement.fleiss_kappa([["a", "a"], ["a", "a", "a"]])
    assert estimate.value is None
    assert "undefined" in estimate.note


@pytest.mark.parametrize("table", ["prosocial", [["a", "b"], "ab"], 3])
def test_fleiss_kappa_rejects_a_table_that_is_not_rows_of_labels(table):
    with pytest.raises(ValueError, match="list"):
        agreement.fleiss_kappa(table)


@PROPERTIES
@given(
    st.lists(
        st.tuples(st.sampled_from(ORDERED_CATEGORIES), st.integers(2, 6)), min_size=3, max_size=40
    ).filter(lambda rows: len({label for label, _ in rows}) > 1)
)
def test_fleiss_kappa_of_perfect_agreement_is_one(rows):
    estimate = agreement.fleiss_kappa([[label] * raters for label, raters in rows], n_boot=200)
    assert estimate.value == pytest.approx(1.0)
    assert contains_estimate(estimate)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.integers(2, 5))
def test_fleiss_kappa_of_independently_permuted_labels_is_about_zero(seed, n_categories, n_raters):
    rng = np.random.default_rng(seed)
    column = rng.integers(0, n_categories, 1000)
    table = np.column_stack([rng.permutation(column) for _ in range(n_raters)])
    estimate = agreement.fleiss_kappa(table, n_boot=200)
    assert estimate.value == pytest.approx(0.0, abs=0.1)
    assert contains_estimate(estimate)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(20, 200), st.floats(0.0, 0.9))
def test_fleiss_kappa_interval_contains_the_estimate(seed, n_subjects, noise):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, n_subjects)
    table = [
        [t if rng.random() > noise else int(rng.integers(0, 4)) for _ in range(int(rng.integers(2, 6)))]
        for t in truth
    ]
    estimate = agreement.fleiss_kappa(table, n_boot=200, seed=seed)
    assert contains_estimate(estimate)


# --------------------------------------------------------------------------------------------------------
# Krippendorff's alpha


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_krippendorff_alpha_reproduces_krippendorff_2011(level, published):
    estimate = agreement.krippendorff_alpha(KRIPPENDORFF_RELIABILITY_DATA, level=level)
    assert round(value_of(estimate), 3) == published
    assert estimate.n == 11  # the twelfth unit has one value and is not pairable
    assert "left out 1 unit with fewer than 2 values" in estimate.note
    assert contains_estimate(estimate)


reliability_strategy = st.integers(2, 5).flatmap(
    lambda raters: st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=raters, max_size=raters),
        min_size=2,
        max_size=25,
    )
)


@PROPERTIES
@given(reliability_strategy, st.sampled_from(LEVELS))
def test_krippendorff_alpha_matches_the_krippendorff_package(units, level):
    data = [list(row) for row in zip(*units, strict=True)]  # raters x units
    estimate = agreement.krippendorff_alpha(data, level=level, n_boot=100)
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [unit for unit in pairable if len(unit) >= 2]
    if len(pairable) < 2:
        assert estimate.note.startswith("not enough data")
        return
    if len({v for unit in pairable for v in unit}) < 2:
        assert "undefined" in estimate.note
        return
    matrix = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    assert estimate.value == pytest.approx(krippendorff.alpha(matrix, level_of_measurement=level), abs=1e-9)


def test_ordinal_alpha_takes_category_order_from_labels():
    codes: list[list[int | None]] = [[0, 1, 2, 3, 2, None], [0, 1, 3, 3, 2, 1], [1, 1, 2, None, 2, 0]]
    named = [[None if c is None else ORDERED_CATEGORIES[c] for c in row] for row in codes]
    by_name = agreement.krippendorff_alpha(named, level="ordinal", labels=ORDERED_CATEGORIES)
    by_code = agreement.krippendorff_alpha(codes, level="ordinal")
    assert by_name.value == pytest.approx(by_code.value)


@PROPERTIES
@given(
    st.lists(st.integers(1, 9), min_size=3, max_size=30).filter(lambda values: len(set(values)) > 1),
    st.integers(2, 4),
    st.sampled_from(LEVELS),
)
def test_krippendorff_alpha_of_perfect_agreement_is_one(values, n_raters, level):
    estimate = agreement.krippendorff_alpha([values] * n_raters, level=level, n_boot=100)
    assert estimate.value == pytest.approx(1.0)
    assert contains_estimate(estimate)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.sampled_from(LEVELS), st.integers(2, 4))
def test_krippendorff_alpha_of_independently_permuted_values_is_about_zero(seed, level, n_raters):
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 8, 800).astype(float)
    data = [rng.permutation(values).tolist() for _ in range(n_raters)]
    estimate = agreement.krippendorff_alpha(data, level=level, n_boot=100)
    assert estimate.value == pytest.approx(0.0, abs=0.1)
    assert contains_estimate(estimate)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(20, 150), st.sampled_from(LEVELS), st.floats(0.1, 3.0))
def test_krippendorff_alpha_interval_contains_the_estimate(seed, n_units, level, noise):
    # A percentile interval need not contain the estimate when resampling biases the statistic, as it does for
    # nominal alpha on values that are all distinct (a unit drawn twice adds agreement); the data here are
    # what each level is for: a few categories for nominal/ordinal, measurements to 0.1 for interval/ratio.
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, 10, n_units)
    decimals = 0 if level in ("nominal", "ordinal") else 1
    data = np.round(truth[None, :] + rng.normal(0, noise, (3, n_units)), decimals).clip(0.1, None)
    data = [[None if rng.random() < 0.2 else v for v in row] for row in data.tolist()]
    estimate = agreement.krippendorff_alpha(data, level=level, n_boot=200, seed=seed)
    assert contains_estimate(estimate)


def test_krippendorff_alpha_with_one_pairable_unit_is_not_enough_data():
    estimate = agreement.krippendorff_alpha([[1, 2, None], [1, None, 3]], level="interval")
    assert estimate.value is None
    assert estimate.note.startswith("not enough data (n = 1)")
    assert agreement.krippendorff_alpha([], level="nominal").note.startswith("not enough data (n = 0)")


def test_krippendorff_alpha_without_variation_is_undefined():
    estimate = agreement.krippendorff_alpha([[2, 2, 2], [2, 2, 2]], level="interval")
    assert estimate.value is None
    assert "undefined" in estimate.note


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        ([[1, 2], [1]], {"level": "nominal"}, "raters x units"),
        ([[1, 2], [1, 2]], {"level": "cardinal"}, "level must be"),
        ([["low", "high"], ["low", "low"]], {"level": "interval"}, "needs numeric ratings"),
        ([["low", "high"], ["low", "low"]], {"level": "ordinal"}, "pass labels="),
        ([[-1, 2], [1, 2]], {"level": "ratio"}, "non-negative"),
        ([["a", "b"], ["a", "a"]], {"level": "nominal", "labels": ["a", "b"]}, "only applies"),
        ([["a", "b"], ["a", "c"]], {"level": "ordinal", "labels": ["a", "b"]}, "not in the given order"),
    ],
)
def test_krippendorff_alpha_rejects_malformed_input(data, options, message):
    with pytest.raises(ValueError, match=message):
        agreement.krippendorff_alpha(data, **options)


# --------------------------------------------------------------------------------------------------------
# intraclass correlations


def test_icc_reproduces_shrout_and_fleiss_1979_table_2():
    # Shrout & Fleiss (1979), Table 2 (data; ANOVA mean squares BMS 11.24, WMS 6.26, JMS 32.49,
    # EMS 1.02); the ICCs it reports: ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71, ICC(1,4) .44, ICC(2,4) .62, ICC(3,4) .91.
    # The paper prints two decimals; from its mean squares the three-decimal values are .166, .290, .715, .443,
    # .620, .909 (checked independently against pingouin 0.7).
    estimates = _icc(SHROUT_FLEISS_RATINGS)
    published = {
        "ICC(1,1)": 0.166,
        "ICC(A,1)": 0.290,
        "ICC(C,1)": 0.715,
        "ICC(1,k)": 0.443,
        "ICC(A,k)": 0.620,
        "ICC(C,k)": 0.909,
    }
    assert list(estimates) == list(ICC_FORMS)
    two_decimals = {
        "ICC(1,1)": 0.17,
        "ICC(A,1)": 0.29,
        "ICC(C,1)": 0.71,
        "ICC(1,k)": 0.44,
        "ICC(A,k)": 0.62,
        "ICC(C,k)": 0.91,
    }
    for form, value in published.items():
        assert round(value_of(estimates[form]), 3) == value, form
        assert round(value_of(estimates[form]), 2) == two_decimals[form], form
        assert estimates[form].n == 6
        assert contains_estimate(estimates[form])


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside pingouin 0.7 on pandas 3
@pytest.mark.parametrize("seed", range(5))
def test_icc_matches_pingouin_on_random_ratings(seed):
    rng = np.random.default_rng(seed)
    n_targets, n_raters = int(rng.integers(5, 40)), int(rng.integers(2, 6))
    ratings = (
        rng.normal(0, 2, (n_targets, 1))
        + rng.normal(0, 1, (1, n_raters))
        + rng.normal(0, 1.5, (n_targets, n_raters))
    )
    estimates = _icc(ratings)
    reference = pingouin.intraclass_corr(_long(ratings), targets="target", raters="rater", ratings="rating")
    for row in reference.itertuples():
        estimate = estimates[row.Type]
        assert estimate.value == pytest.approx(row.ICC, abs=1e-9), row.Type
        # pingouin rounds its interval to two decimals
        assert estimate.ci_low == pytest.approx(row.CI95[0], abs=0.005 + 1e-9), row.Type
        assert estimate.ci_high == pytest.approx(row.CI95[1], abs=0.005 + 1e-9), row.Type


def test_icc_averages_duplicate_ratings_and_says_how_many():
    frame = _long(SHROUT_FLEISS_RATINGS)
    extra = pd.DataFrame({"target": [0, 0, 3], "rater": [1, 1, 2], "rating": [2.0, 2.0, 2.0]})
    estimates = agreement.icc(pd.concat([frame, extra]), targets="target", raters="rater", ratings="rating")
    # the duplicates equal the ratings they repeat, so the averages and the ICCs are unchanged
    assert estimates["ICC(A,1)"].value == pytest.approx(0.290, abs=5e-4)
    assert (
        "averaged 3 duplicate ratings (2 target-rater pairs rated more than once)"
        in estimates["ICC(A,1)"].note
    )


def test_icc_drops_targets_missing_a_rater_and_says_how_many():
    frame = _long(SHROUT_FLEISS_RATINGS)
    extra = pd.DataFrame({"target": [6, 6, 7], "rater": [0, 1, 2], "rating": [3.0, 4.0, 5.0]})
    estimates = agreement.icc(pd.concat([frame, extra]), targets="target", raters="rater", ratings="rating")
    assert estimates["ICC(C,1)"].value == pytest.approx(0.715, abs=5e-4)
    assert estimates["ICC(C,1)"].n == 6
    assert (
        "dropped 2 targets of 8 lacking a rating from at least one of the 4 raters"
        in estimates["ICC(C,1)"].note
    )


def test_icc_treats_rows_without_a_rating_as_missing_cells():
    frame = _long(SHROUT_FLEISS_RATINGS)
    frame.loc[0, "rating"] = np.nan
    estimates = agreement.icc(frame, targets="target", raters="rater", ratings="rating")
    assert estimates["ICC(1,1)"].n == 5
    assert "ignored 1 row without a rating" in estimates["ICC(1,1)"].note


@pytest.mark.parametrize("shape", [(1, 4), (6, 1), (0, 0)])
def test_icc_with_one_target_or_one_rater_is_not_enough_data(shape):
    estimates = _icc(np.arange(shape[0] * shape[1], dtype=float).reshape(shape))
    for form in ICC_FORMS:
        assert estimates[form].value is None
        assert estimates[form].note.startswith(f"not enough data (n = {shape[0]})")


def test_icc_without_variance_is_undefined():
    estimates = _icc(np.full((5, 3), 4.0))
    assert all("undefined" in estimates[form].note for form in ICC_FORMS)


@PROPERTIES
@given(
    st.lists(st.floats(-90, 90, allow_nan=False), min_size=2, max_size=30).filter(
        lambda values: max(values) - min(values) > 1e-3
    ),
    st.integers(2, 6),
)
def test_icc_of_perfect_agreement_is_one(values, n_raters):
    estimates = _icc(np.repeat(np.array(values)[:, None], n_raters, axis=1))
    for form in ICC_FORMS:
        assert estimates[form].value == pytest.approx(1.0), form
        assert estimates[form].ci_high == pytest.approx(1.0), form


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(2, 5))
def test_icc_of_independently_permuted_ratings_is_about_zero(seed, n_raters):
    rng = np.random.default_rng(seed)
    column = rng.normal(20, 15, 800)
    estimates = _icc(np.column_stack([rng.permutation(column) for _ in range(n_raters)]))
    for form in ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)"):
        assert estimates[form].value == pytest.approx(0.0, abs=0.1), form
        assert contains_estimate(estimates[form])


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(3, 40), st.integers(2, 6), st.floats(0.0, 3.0))
def test_icc_interval_contains_the_estimate(seed, n_targets, n_raters, target_spread):
    rng = np.random.default_rng(seed)
    ratings = rng.normal(0, target_spread, (n_targets, 1)) + rng.normal(0, 1, (n_targets, n_raters))
    for form, estimate in _icc(ratings).items():
        if estimate.value is None:
            assert "undefined" in estimate.note, form
        elif estimate.ci_low is not None and estimate.ci_high is not None:
            assert contains_estimate(estimate), form
        else:
            assert "unbounded" in estimate.note, form


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pd.DataFrame({"target": [1], "rater": [1]}), "not in the data"),
        (pd.DataFrame({"target": [1, 2], "rater": [1, 1], "rating": ["high", 2]}), "must be numbers"),
        (
            pd.DataFrame({"target": [1, None], "rater": [1, 1], "rating": [1, 2]}),
            "without a 'target' identifier",
        ),
        ([[1, 2], [3, 4]], "long-format DataFrame"),
    ],
)
def test_icc_rejects_malformed_input(data, message):
    with pytest.raises(ValueError, match=message):
        agreement.icc(data, targets="target", raters="rater", ratings="rating")


def test_one_way_icc_of_balanced_groups_equals_icc_1():
    groups = SHROUT_FLEISS_RATINGS.tolist()
    one_way = agreement.icc_one_way(groups)
    two_way = _icc(SHROUT_FLEISS_RATINGS)
    for form in ("ICC(1,1)", "ICC(1,k)"):
        assert one_way[form].value == pytest.approx(two_way[form].value)
        assert one_way[form].ci_low == pytest.approx(two_way[form].ci_low)
        assert one_way[form].ci_high == pytest.approx(two_way[form].ci_high)
    assert "balanced: 4 measurements per group" in one_way["ICC(1,1)"].note


def test_one_way_icc_of_unbalanced_groups_uses_k0():
    # Worked by hand: groups [1, 3] and [4, 6, 8]; MS_b = 19.2, MS_w = 10/3, k0 = (5 - 13/5) / 1 = 2.4,
    # ICC(1,1) = (19.2 - 10/3) / (19.2 + 1.4 * 10/3), ICC(1,k) = (19.2 - 10/3) / 19.2.
    estimates = agreement.icc_one_way([[1, 3], [4, 6, 8]])
    assert estimates["ICC(1,1)"].value == pytest.approx((19.2 - 10 / 3) / (19.2 + 1.4 * 10 / 3))
    assert estimates["ICC(1,k)"].value == pytest.approx((19.2 - 10 / 3) / 19.2)
    assert "k0 = 2.40" in estimates["ICC(1,1)"].note


def test_one_way_icc_needs_two_groups_and_a_repeat():
    assert agreement.icc_one_way([[1.0, 2.0]])["ICC(1,1)"].note.startswith("not enough data (n = 1)")
    assert agreement.icc_one_way([[1.0], [2.0]])["ICC(1,k)"].note.startswith("not enough data (n = 2)")
    with pytest.raises(ValueError, match="non-numeric"):
        agreement.icc_one_way([[1.0, "x"], [2.0, 3.0]])  # type: ignore[list-item]
