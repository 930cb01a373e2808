"""stats.consistency: per-cell summaries, consistency across cells, and test-retest between runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# The module, not its functions: pytest would collect a bare ``test_retest`` as a test.
from stats import agreement, consistency

# A fixed example sequence: one verdict on every run.
PROPERTIES = settings(deadline=None, max_examples=25, derandomize=True, database=None)


def _trials(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(consistency.TRIAL_COLUMNS))


def _simulated_run(seed: int, *, n_cells: int = 12, n_trials: int = 8, noise: float = 4.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cell in range(n_cells):
        centre = rng.uniform(-16, 61)
        for trial in range(n_trials):
            angle = centre + rng.normal(0, noise)
            category = "prosocial" if angle > 22.45 else "individualistic"
            rows.append(
                (f"model-{cell % 3}", f"value-{cell}", "plain", trial, angle, category, rng.uniform())
            )
    return _trials(rows)


def test_human_test_retest_norm_is_the_published_icc():
    # de Matos Fernandes, Bakker & Dijkstra (2022), Judgment and Decision Making 17(1): ICC = 0.78 over six
    # monthly waves of the SVO Slider Measure.
    assert consistency.HUMAN_TEST_RETEST_ICC == 0.78


def test_cell_consistency_summarises_each_cell():
    frame = _trials(
        [
            ("m", "prosocial", "plain", 0, 10.0, "prosocial", 0.5),
            ("m", "prosocial", "plain", 1, 20.0, "prosocial", 1.0),
            ("m", "prosocial", "plain", 2, 30.0, "individualistic", 0.75),
            ("m", "altruistic", "goal", 0, 50.0, "altruistic", 1.0),
            ("m", "altruistic", "goal", 1, 60.0, "prosocial", 0.5),
        ]
    )
    summary = consistency.cell_consistency(frame)
    assert list(summary.columns) == consistency.CELL_SUMMARY_COLUMNS
    first = summary.set_index("value").loc["prosocial"]
    assert first["n"] == 3
    assert first["mean_angle"] == pytest.approx(20.0)
    assert first["sd_angle"] == pytest.approx(10.0)
    assert first["modal_category"] == "prosocial"
    assert first["modal_share"] == pytest.approx(2 / 3)
    assert first["vr_mean"] == pytest.approx(0.75)
    assert first["vr_sd"] == pytest.approx(0.25)
    tied = summary.set_index("value").loc["altruistic"]
    assert tied["modal_category"] is None
    assert tied["modal_share"] == pytest.approx(0.5)


def test_cell_consistency_of_no_trials_is_an_empty_table():
    summary = consistency.cell_consistency(_trials([]))
    assert summary.empty
    assert list(summary.columns) == consistency.CELL_SUMMARY_COLUMNS


def test_across_cells_with_balanced_cells_equals_the_one_way_icc():
    frame = _simulated_run(1)
    estimates = consistency.across_cells(frame, n_boot=200)
    reference = agreement.icc(
        frame.assign(cell=frame["value"]), targets="cell", raters="trial", ratings="angle"
    )
    for form in ("ICC(1,1)", "ICC(1,k)"):
        assert estimates[form].value == pytest.approx(reference[form].value)
        assert estimates[form].ci_low == pytest.approx(reference[form].ci_low)
        assert estimates[form].ci_high == pytest.approx(reference[form].ci_high)
        assert estimates[form].n == 12
    assert "balanced: 8 measurements per group" in estimates["ICC(1,1)"].note
    assert estimates["alpha_category"].is_available


def test_across_cells_uses_every_trial_of_unbalanced_cells_and_says_so():
    frame = _simulated_run(2)
    frame = frame[~((frame["value"] == "value-0") & (frame["trial"] >= 3))]
    estimates = consistency.across_cells(frame, n_boot=200)
    note = estimates["ICC(1,1)"].note
    assert "unbalanced: 3 to 8 measurements per group" in note
    assert "k0 = " in note
    groups = [cell["angle"].tolist() for _, cell in frame.groupby(["model", "value", "strategy"])]
    assert estimates["ICC(1,1)"].value == pytest.approx(agreement.icc_one_way(groups)["ICC(1,1)"].value)


def test_across_cells_category_alpha_is_one_when_every_cell_is_unanimous():
    rows = [
        ("m", value, "plain", trial, angle, category, 1.0)
        for value, angle, category in [
            ("a", 50.0, "prosocial"),
            ("b", 0.0, "individualistic"),
            ("c", 60.0, "altruistic"),
        ]
        for trial in range(4)
    ]
    estimates = consistency.across_cells(_trials(rows), n_boot=200)
    assert estimates["alpha_category"].value == pytest.approx(1.0)


def test_across_cells_with_one_cell_is_not_enough_data():
    frame = _simulated_run(3, n_cells=1)
    estimates = consistency.across_cells(frame, n_boot=200)
    for name in ("ICC(1,1)", "ICC(1,k)", "alpha_category"):
        assert estimates[name].value is None
        assert estimates[name].note.startswith("not enough data (n = 1)")


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(3, 20), st.integers(2, 10), st.floats(0.5, 30.0))
def test_across_cells_intervals_contain_their_estimates(seed, n_cells, n_trials, noise):
    estimates = consistency.across_cells(
        _simulated_run(seed, n_cells=n_cells, n_trials=n_trials, noise=noise), seed=seed, n_boot=200
    )
    for name, estimate in estimates.items():
        if estimate.value is None:
            assert "undefined" in estimate.note, name
        elif estimate.ci_low is not None and estimate.ci_high is not None:
            assert estimate.ci_low - 1e-9 <= estimate.value <= estimate.ci_high + 1e-9, name


def test_test_retest_of_identical_runs_agrees_perfectly():
    run = _simulated_run(4)
    estimates = consistency.test_retest(run, run.copy())
    assert estimates["ICC(A,1)"].value == pytest.approx(1.0)
    assert estimates["pearson_r"].value == pytest.approx(1.0)
    assert estimates["category_agreement"].value == 1.0
    assert all(estimate.n == 12 for estimate in estimates.values())


def test_test_retest_separates_correlation_from_absolute_agreement():
    first = _simulated_run(5)
    second = first.assign(angle=first["angle"] + 15.0)
    estimates = consistency.test_retest(first, second)
    assert estimates["pearson_r"].value == pytest.approx(1.0)
    assert estimates["ICC(A,1)"].value is not None
    assert estimates["ICC(A,1)"].value < 0.9
    ci_low, ci_high = estimates["ICC(A,1)"].ci_low, estimates["ICC(A,1)"].ci_high
    assert ci_low is not None
    assert ci_high is not None
    assert ci_low <= estimates["ICC(A,1)"].value <= ci_high


def test_test_retest_fisher_interval_for_pearson_r():
    first = _simulated_run(6)
    rng = np.random.default_rng(0)
    second = first.assign(angle=first["angle"] + rng.normal(0, 10, len(first)))
    estimate = consistency.test_retest(first, second)["pearson_r"]
    means = [run.groupby(["model", "value", "strategy"])["angle"].mean() for run in (first, second)]
    r = float(np.corrcoef(means[0], means[1])[0, 1])
    half_width = 1.959963984540054 / np.sqrt(12 - 3)
    assert estimate.value == pytest.approx(r)
    assert estimate.ci_low == pytest.approx(np.tanh(np.arctanh(r) - half_width))
    assert estimate.ci_high == pytest.approx(np.tanh(np.arctanh(r) + half_width))


def test_test_retest_matches_cells_and_reports_the_unmatched():
    first = _simulated_run(7)
    second = first[first["value"] != "value-0"]
    estimates = consistency.test_retest(first, second)
    assert estimates["ICC(A,1)"].n == 11
    assert "left out 1 cell present in only one run" in estimates["pearson_r"].note


def test_test_retest_with_few_cells_is_not_enough_data():
    run = _simulated_run(8, n_cells=3)
    estimates = consistency.test_retest(run, run)
    assert estimates["pearson_r"].value is None
    assert estimates["pearson_r"].note == "not enough data (n = 3)"
    single = _simulated_run(8, n_cells=1)
    assert consistency.test_retest(single, single)["ICC(A,1)"].note.startswith("not enough data (n = 1)")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda run: consistency.cell_consistency(run.drop(columns=["angle"])), "lack the columns"),
        (lambda run: consistency.across_cells(run.assign(angle="steep")), "must be numeric"),
        (
            lambda run: consistency.test_retest(run, run.drop(columns=["category"])),
            "second run lack the columns",
        ),
        (lambda run: consistency.cell_consistency(run.to_dict(orient="records")), "must be a DataFrame"),
        (lambda run: consistency.across_cells(run.assign(model=None)), "without a 'model'"),
    ],
)
def test_malformed_trials_are_rejected_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call(_simulated_run(9, n_cells=3))
