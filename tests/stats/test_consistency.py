"""stats.consistency: per-cell summaries and spread within a design, and test-retest between runs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# The module, not its functions: pytest would collect a bare ``test_retest`` as a test.
from stats import agreement, consistency
from tests.stats.examples import contains_estimate

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


def _section(frame: pd.DataFrame, **kwargs) -> consistency.Consistency:
    run_id = frame["run_id"] if "run_id" in frame.columns else pd.Series(1, index=frame.index)
    return consistency.consistency_section(frame.assign(run_id=run_id), {}, n_boot=200, **kwargs)


def test_each_cell_reports_its_spread_with_intervals():
    angles = [10.0, 20.0, 30.0, 40.0]
    categories = ["prosocial", "prosocial", "prosocial", "individualistic"]
    frame = _trials(
        [
            ("m", "v", "plain", trial, angle, category, 0.5)
            for trial, (angle, category) in enumerate(zip(angles, categories, strict=True))
        ]
    )
    (cell,) = _section(frame).cells
    sd = float(np.std(angles, ddof=1))
    assert cell.n == 4
    assert cell.mean_angle == pytest.approx(25.0)
    assert cell.sd_angle.value == pytest.approx(sd)
    # chi-square interval for an SD, df = 3: sqrt(3 s^2 / chi2_.975), sqrt(3 s^2 / chi2_.025)
    assert cell.sd_angle.ci_low == pytest.approx(math.sqrt(3 * sd**2 / 9.348403604496148))
    assert cell.sd_angle.ci_high == pytest.approx(math.sqrt(3 * sd**2 / 0.2157952826238497))
    assert cell.modal_category == "prosocial"
    assert cell.modal_share.value == pytest.approx(0.75)
    low, high = agreement.wilson_interval(3, 4)
    assert (cell.modal_share.ci_low, cell.modal_share.ci_high) == pytest.approx((low, high))
    # pairs of trials that agree: 3 of the 6 pairs (the three prosocial trials with each other)
    assert cell.category_agreement.value == pytest.approx(0.5)
    assert contains_estimate(cell.category_agreement)
    assert cell.vr_mean == pytest.approx(0.5)


def test_unanimous_cell_agrees_fully_and_one_trial_is_not_enough():
    frame = _trials(
        [("m", "a", "plain", trial, 40.0 + trial, "prosocial", 1.0) for trial in range(5)]
        + [("m", "b", "plain", 0, 10.0, "individualistic", 0.0)]
    )
    unanimous, single = _section(frame).cells
    assert unanimous.category_agreement.value == 1.0
    assert unanimous.modal_share.value == 1.0
    assert single.sd_angle.value is None
    assert single.sd_angle.note == "not enough data (n = 1)"
    assert single.category_agreement.note == "not enough data (n = 1)"


def test_cells_of_different_designs_are_never_pooled():
    frame = _simulated_run(5, n_cells=2).assign(design="T 0")
    other = _simulated_run(6, n_cells=2).assign(design="T 1")
    section = consistency.consistency_section(
        pd.concat([frame, other]).assign(run_id=1), {"T 0": {"temperature": 0.0}}, n_boot=200
    )
    assert len(section.cells) == 4
    assert {(cell.value, cell.design_label) for cell in section.cells} == {
        ("value-0", "T 0"),
        ("value-1", "T 0"),
        ("value-0", "T 1"),
        ("value-1", "T 1"),
    }
    assert all(cell.n == 8 for cell in section.cells)
    assert [cell.design for cell in section.cells if cell.design_label == "T 0"] == [{"temperature": 0.0}] * 2


def test_there_is_no_coefficient_across_cells():
    section = _section(_simulated_run(7))
    names = {field.name for field in dataclasses.fields(section)}
    assert names == {"cells", "test_retest", "test_retest_cells", "note"}
    assert "no coefficient is computed across cells" in section.note
    assert not hasattr(consistency, "across_cells")
    assert not hasattr(consistency, "HUMAN_TEST_RETEST_ICC")
    rows = consistency.consistency_rows(section)
    assert {row["statistic"] for row in rows} == {
        "sd_angle",
        "modal_share",
        "category_agreement",
        "ICC(A,1)",
        "pearson_r",
    }
    assert {row["section"] for row in rows} == {"consistency cell", "test-retest"}
    assert all(
        set(row)
        >= {"section", "arm", "value", "exclusion", "statistic", "estimate", "ci_low", "ci_high", "n", "note"}
        for row in rows
    )


def test_test_retest_pairs_the_first_two_runs_of_a_cell():
    first = _simulated_run(4).assign(run_id=1)
    second = first.assign(run_id=2)
    section = consistency.consistency_section(pd.concat([first, second]), {}, n_boot=200)
    assert section.test_retest_cells == 12
    assert section.test_retest["ICC(A,1)"].value == pytest.approx(1.0)


def test_test_retest_pairs_each_cell_with_its_own_runs():
    # cell A ran as runs 1 and 2, cell B as runs 2 and 3 (run ids shared across cells in this frame), cell C
    # once: every cell's first run is paired with its own second run, and C stays out
    a = _simulated_run(8, n_cells=1).assign(value="A")
    b = _simulated_run(9, n_cells=1).assign(value="B")
    c = _simulated_run(10, n_cells=1).assign(value="C", run_id=4)
    b_later = b.assign(angle=b["angle"] + 10.0)
    frame = pd.concat(
        [a.assign(run_id=1), a.assign(run_id=2), b.assign(run_id=2), b_later.assign(run_id=3), c]
    )
    section = consistency.consistency_section(frame, {}, n_boot=200)
    assert section.test_retest_cells == 2
    assert section.test_retest["pearson_r"].n == 2
    own = consistency.test_retest(pd.concat([a, b]), pd.concat([a, b_later]))
    assert section.test_retest["ICC(A,1)"].value == pytest.approx(own["ICC(A,1)"].value)


@PROPERTIES
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(2, 10), st.floats(0.5, 30.0))
def test_cell_intervals_contain_their_estimates(seed, n_cells, n_trials, noise):
    section = _section(_simulated_run(seed, n_cells=n_cells, n_trials=n_trials, noise=noise), seed=seed)
    for cell in section.cells:
        for estimate in (cell.sd_angle, cell.modal_share, cell.category_agreement):
            assert estimate.value is not None
            assert estimate.ci_low is not None
            assert estimate.ci_high is not None
            assert estimate.ci_low - 1e-9 <= estimate.value <= estimate.ci_high + 1e-9


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
        (lambda run: _section(run.assign(angle="steep")), "must be numeric"),
        (
            lambda run: consistency.test_retest(run, run.drop(columns=["category"])),
            "second run lack the columns",
        ),
        (lambda run: consistency.cell_consistency(run.to_dict(orient="records")), "must be a DataFrame"),
        (lambda run: _section(run.assign(model=None)), "without a 'model'"),
    ],
)
def test_malformed_trials_are_rejected_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call(_simulated_run(9, n_cells=3))
