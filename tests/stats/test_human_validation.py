"""stats.human_validation on constructed judgments whose answers are known by hand (no database)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score

from stats import human_validation, validation
from stats.agreement import ALPHA_INTERVAL, ICC_FORMS
from tests.stats.examples import value_of

NO_RESPONSES = pd.DataFrame(columns=list(validation.RESPONSE_COLUMNS))
# Two induced values, six transcripts each: the automated angle sits near 43 degrees for prosocial and near
# 3 degrees for individualistic, so pooled over values the angles spread far more than within a value.
PROSOCIAL = [(trial, 38.0 + 2 * trial) for trial in range(1, 7)]
INDIVIDUALISTIC = [(trial, -2.0 + 2 * (trial - 6)) for trial in range(7, 13)]
OFFSETS = [5.0, -5.0, 3.0, -3.0, 4.0, -4.0]


def _automated() -> pd.DataFrame:
    rows = [(t, "prosocial", "prosocial", angle, t / 12) for t, angle in PROSOCIAL]
    rows += [(t, "individualistic", "individualistic", angle, t / 12) for t, angle in INDIVIDUALISTIC]
    return pd.DataFrame(rows, columns=["trial_id", "value", "category", "angle", "value_rationality"])


def _row(trial, rater, category, angle, *, flagged=False, served=None, confidence=None):
    return {
        "trial_id": trial,
        "rater": rater,
        "category": category,
        "angle": angle,
        "is_gold": False,
        "gold_category": "",
        "flagged": flagged,
        "excluded": False,
        "audit": {},
        "confidence": confidence,
        "served_value": served,
        "batch_id": 1,
    }


def _crossed(flagged_rater: bool = False) -> pd.DataFrame:
    """Raters a and b judge all 12 transcripts and agree with the automated category except on transcript
    1 (both say individualistic); their angles are the automated angle plus a fixed offset. With
    ``flagged_rater``, rater c (flagged on gold items) calls everything competitive at -20 degrees."""
    rows = []
    automated = _automated().set_index("trial_id")
    for position, trial in enumerate(automated.index):
        category = "individualistic" if trial == 1 else automated.loc[trial, "category"]
        angle = float(automated.loc[trial, "angle"])
        offset = OFFSETS[position % 6]
        rows.append(_row(trial, "a", category, angle + offset, served=1 + trial % 7, confidence=3))
        rows.append(
            _row(trial, "b", category, angle + 0.8 * offset, served=1 + (trial + 1) % 7, confidence=4)
        )
        if flagged_rater:
            rows.append(_row(trial, "c", "competitive", -20.0, flagged=True, served=1, confidence=1))
    return pd.DataFrame(rows)


def _arm(judgments: pd.DataFrame) -> human_validation.ArmValidation:
    return human_validation.validate_arm(_automated(), judgments, NO_RESPONSES, arm="blind", n_boot=200)


def _lin(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    covariance = ((x - x.mean()) * (y - y.mean())).mean()
    return 2 * covariance / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_per_value_and_pooled_categories_have_the_hand_computed_answers():
    arm = _arm(_crossed())
    assert arm.values == ("individualistic", "prosocial")
    assert arm.columns == ("pooled", "individualistic", "prosocial")
    screened = arm.gold_screened
    individualistic, prosocial = screened.values
    # prosocial: every automated label is prosocial, raters agree on 5 of 6, so p_o = p_e = 5/6: kappa 0
    # (the prevalence paradox), while PABAK = (4 * 5/6 - 1) / 3 = 7/9 and accuracy 5/6
    assert prosocial.vs_majority.accuracy.value == pytest.approx(5 / 6)
    assert prosocial.vs_majority.kappa.value == pytest.approx(0.0)
    assert prosocial.vs_majority.pabak.value == pytest.approx(7 / 9)
    assert prosocial.vs_majority.gwet_ac1.value is not None
    assert prosocial.vs_majority.gwet_ac1.value > 0.5
    assert individualistic.vs_majority.accuracy.value == pytest.approx(1.0)
    # pooled: p_o = 11/12, p_e = (6 * 5 + 6 * 7) / 144 = 1/2, kappa = 5/6
    pooled = screened.pooled
    assert pooled.pooled
    assert pooled.value == "pooled"
    assert "inflates pooled agreement" in pooled.note
    assert pooled.vs_majority.kappa.value == pytest.approx(5 / 6)
    assert pooled.vs_majority.kappa.n == 12
    assert pooled.vs_majority.accuracy.value == pytest.approx(11 / 12)
    automated = ["prosocial"] * 6 + ["individualistic"] * 6
    humans = ["individualistic"] + ["prosocial"] * 5 + ["individualistic"] * 6
    for weights, estimate in (
        ("linear", pooled.vs_majority.kappa_linear),
        ("quadratic", pooled.vs_majority.kappa_quadratic),
    ):
        expected = cohen_kappa_score(
            automated,
            humans,
            labels=["competitive", "individualistic", "prosocial", "altruistic"],
            weights=weights,
        )
        assert estimate.value == pytest.approx(expected)
    assert pooled.vs_majority.confusion.n == 12
    assert pooled.vs_majority.confusion.agreements == 11


def test_pooled_concordance_is_inflated_by_the_spread_between_values():
    screened = _arm(_crossed()).gold_screened
    frame = _crossed().groupby("trial_id")["angle"].mean()
    automated = _automated().set_index("trial_id")["angle"]
    for breakdown in (screened.pooled, *screened.values):
        trials = [
            t
            for t in automated.index
            if breakdown.pooled or _automated().set_index("trial_id").loc[t, "value"] == breakdown.value
        ]
        expected = _lin(automated.loc[trials], frame.loc[trials])
        assert breakdown.angles.lin_ccc.value == pytest.approx(expected)
        assert breakdown.angles.lin_ccc.n == len(trials)
        bias = (automated.loc[trials] - frame.loc[trials]).mean()
        assert breakdown.angles.bland_altman.bias.value == pytest.approx(bias)
        assert breakdown.angles.bland_altman.slope.value is not None
        assert breakdown.angles.icc_a1.n == len(trials)
    within = max(b.angles.lin_ccc.value or 0.0 for b in screened.values)
    assert value_of(screened.pooled.angles.lin_ccc) > within + 0.1


def test_served_the_value_rating_is_ranked_against_value_rationality():
    pooled = _arm(_crossed()).gold_screened.pooled
    judgments = _crossed()
    mean_rating = judgments.groupby("trial_id")["served_value"].mean()
    vr = _automated().set_index("trial_id")["value_rationality"].loc[mean_rating.index]
    rho = scipy_stats.spearmanr(mean_rating, vr).statistic
    estimate = pooled.served_value_vs_vr
    assert estimate.value == pytest.approx(rho)
    assert estimate.n == 12
    half = 1.959963984540054 * math.sqrt(1.06 / 9)
    assert estimate.ci_low == pytest.approx(math.tanh(math.atanh(rho) - half))
    assert estimate.ci_high == pytest.approx(math.tanh(math.atanh(rho) + half))


def test_without_served_value_ratings_the_spearman_says_why():
    judgments = _crossed().assign(served_value=None)
    estimate = _arm(judgments).gold_screened.pooled.served_value_vs_vr
    assert estimate.value is None
    assert "value-shown arm only" in estimate.note


def test_crossed_design_gets_icc_and_a_missing_rating_switches_to_alpha():
    crossed = _arm(_crossed()).gold_screened.pooled.inter_rater
    assert crossed.available
    assert crossed.design == "crossed"
    assert set(crossed.angles) == set(ICC_FORMS)
    assert crossed.categories.value is not None
    assert crossed.confidence.method.startswith("Krippendorff's alpha, ordinal")
    assert crossed.served_value.method.startswith("Krippendorff's alpha, ordinal")
    judgments = _crossed()
    judgments.loc[(judgments["trial_id"] == 3) & (judgments["rater"] == "b"), "angle"] = None
    not_crossed = _arm(judgments).gold_screened.pooled.inter_rater
    assert not_crossed.design == "not crossed"
    assert set(not_crossed.angles) == {ALPHA_INTERVAL}
    assert "no ICC over invented rater slots" in not_crossed.note
    # the design is judged per column: transcript 3 is prosocial, so the individualistic column stays crossed
    arm = _arm(judgments)
    assert arm.gold_screened.values[0].inter_rater.design == "crossed"
    assert arm.gold_screened.values[1].inter_rater.design == "not crossed"
    table = {row.label: row for row in arm.table}
    pooled_cell, individualistic_cell, prosocial_cell = table["ICC(A,1) among raters, angles"].cells
    assert pooled_cell.gold_screened.value is None
    assert "not this design's statistic" in pooled_cell.gold_screened.note
    assert individualistic_cell.gold_screened.value is not None
    assert prosocial_cell.gold_screened.value is None
    alpha_row = table["Krippendorff's alpha among raters, angles (interval)"]
    assert alpha_row.cells[0].gold_screened == not_crossed.angles[ALPHA_INTERVAL]


def test_overlap_one_says_inter_rater_reliability_is_unavailable():
    judgments = _crossed()
    judgments = judgments[(judgments["rater"] == "a") == (judgments["trial_id"] % 2 == 0)]
    arm = _arm(judgments)
    for variant in arm.variants:
        for breakdown in (variant.pooled, *variant.values):
            inter_rater = breakdown.inter_rater
            assert inter_rater.available is False
            assert inter_rater.max_overlap == 1
            assert inter_rater.note == human_validation.OVERLAP_ONE_NOTE
            assert inter_rater.categories.value is None
            assert "unavailable" in inter_rater.categories.note
    rows = human_validation.human_rows(arm)
    alpha = [row for row in rows if row["statistic"] == "alpha_categories_among_raters"]
    assert alpha
    assert all("overlap 1" in row["note"] for row in alpha)
    # the automated-vs-human figures are still there
    assert arm.gold_screened.pooled.vs_majority.kappa.n == 12


def test_a_flagged_rater_who_disagrees_moves_the_all_raters_figures_only():
    arm = _arm(_crossed(flagged_rater=True))
    everyone, screened = arm.all_raters, arm.gold_screened
    assert (everyone.n_raters, screened.n_raters) == (3, 2)
    assert screened.flagged_raters_left_out == 1
    assert everyone.flagged_raters_left_out == 0
    without_c = _arm(_crossed()).gold_screened
    assert (screened.pooled, screened.values) == (without_c.pooled, without_c.values)
    # a and b still make the majority, so the automated-vs-majority kappa is the same
    assert everyone.pooled.vs_majority.kappa.value == pytest.approx(screened.pooled.vs_majority.kappa.value)
    # against each rater, c's kappa (all competitive) drags the mean down; raters agree less among themselves
    assert value_of(everyone.pooled.vs_raters.mean_kappa) < value_of(screened.pooled.vs_raters.mean_kappa)
    assert value_of(everyone.pooled.inter_rater.categories) < value_of(screened.pooled.inter_rater.categories)
    assert value_of(everyone.pooled.angles.bland_altman.bias) > value_of(
        screened.pooled.angles.bland_altman.bias
    )
    table = {row.key: row for row in arm.table}
    cell = table["mean_kappa_vs_raters"].cells[0]
    assert cell.all_raters == everyone.pooled.vs_raters.mean_kappa
    assert cell.gold_screened == screened.pooled.vs_raters.mean_kappa


def test_human_rows_are_flat_and_cover_both_selections_every_value_and_pooled():
    arm = _arm(_crossed(flagged_rater=True))
    rows = human_validation.human_rows(arm)
    keys = {"section", "arm", "value", "exclusion", "statistic", "estimate", "ci_low", "ci_high", "n", "note"}
    assert all(set(row) == keys for row in rows)
    assert {row["value"] for row in rows} == {"pooled", "individualistic", "prosocial"}
    assert {row["exclusion"] for row in rows} == {human_validation.ALL_RATERS, human_validation.GOLD_SCREENED}
    assert {row["arm"] for row in rows} == {"blind"}
    kappa = [
        row
        for row in rows
        if row["statistic"] == "kappa_vs_majority"
        and row["value"] == "pooled"
        and row["exclusion"] == human_validation.GOLD_SCREENED
    ]
    assert [row["estimate"] for row in kappa] == [pytest.approx(5 / 6)]
    assert all(not isinstance(value, (dict, list, tuple)) for row in rows for value in row.values())


def test_results_are_frozen_dataclasses_of_plain_fields():
    arm = _arm(_crossed())
    with pytest.raises(dataclasses.FrozenInstanceError):
        arm.arm = "other"  # type: ignore[misc]
    plain = dataclasses.asdict(arm)
    assert plain["gold_screened"]["pooled"]["vs_majority"]["kappa"]["n"] == 12
    assert "table" not in plain  # derived views are properties, not fields


def test_several_batches_get_their_own_pooled_figures():
    judgments = _crossed()
    judgments.loc[judgments["trial_id"] > 6, "batch_id"] = 2
    arm = _arm(judgments)
    assert [batch.batch for batch in arm.batches] == [1, 2]
    first, second = arm.batches
    assert first.gold_screened.n_transcripts == 6
    assert first.gold_screened.values == ()
    assert second.columns == ("pooled",)
    assert second.gold_screened.pooled.vs_majority.accuracy.value == pytest.approx(1.0)
