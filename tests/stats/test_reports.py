"""The study report end to end: simulated trials and judgments in the database give a report whose numbers
match a direct computation from the rows with independent implementations (scikit-learn, pingouin,
krippendorff), and the cache serves it until something changes."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
from sklearn.metrics import cohen_kappa_score

from annotation.models import HumanJudgment, Rater
from evaluation.models import ItemResponse, Trial
from stats import human_validation, reports
from stats.agreement import ALPHA_INTERVAL, ORDERED_CATEGORIES
from stats.report_model import to_json
from tests.stats.builders import add_judgments, build_study

N_BOOT = 200


def _live_judgments(study, *, include_flagged=False):
    judgments = HumanJudgment.objects.filter(task__batch__study=study, deleted=False, was_cancelled=False)
    if not include_flagged:
        judgments = judgments.exclude(rater__flagged=True)
    return list(
        judgments.exclude(rater__excluded=True).values(
            "trial_id", "rater_id", "category", "angle_estimate", "task__is_gold", "extraction_audit"
        )
    )


def _automated(study):
    return {
        pk: (category, angle)
        for pk, category, angle in Trial.objects.filter(run__study=study).values_list(
            "pk", "category", "angle"
        )
    }


@pytest.fixture
def typed_report(validated_study):
    return reports.build_report(validated_study.study, n_boot=N_BOOT)


@pytest.fixture
def report(typed_report):
    return to_json(typed_report)


def test_automated_cells_match_the_trials(validated_study, report):
    cells = {(c["model"], c["value"], c["strategy"]): c for c in report["automated"]["cells"]}
    assert len(cells) == 16
    by_cell = defaultdict(list)
    for model, value, strategy, angle, vr, hit in Trial.objects.filter(
        run__study=validated_study.study
    ).values_list("run__model", "run__value", "run__strategy", "angle", "value_rationality", "category_hit"):
        by_cell[(model, value, strategy)].append((angle, vr, hit))
    for key, rows in by_cell.items():
        angles, rationality, hits = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
        cell = cells[key]
        assert cell["n_scored"] == len(rows) == 12  # two runs of six trials
        assert cell["mean_angle"] == pytest.approx(angles.mean())
        assert cell["angle"]["value"] == pytest.approx(angles.mean())
        assert cell["angle"]["ci_low"] <= cell["angle"]["value"] <= cell["angle"]["ci_high"]
        assert cell["sd_angle"] == pytest.approx(angles.std(ddof=1))
        assert cell["value_rationality"]["value"] == pytest.approx(rationality.mean())
        assert cell["hit_rate"]["value"] == pytest.approx(hits.mean())
        assert cell["extraction"]["parser"] == 6 * len(rows)
        assert sum(cell["categories"].values()) == len(rows)


def test_kappa_vs_majority_matches_scikit_learn(validated_study, typed_report):
    automated = _automated(validated_study.study)
    labels = defaultdict(list)
    for row in _live_judgments(validated_study.study):
        if not row["task__is_gold"]:
            labels[row["trial_id"]].append(row["category"])
    majorities = {}
    for trial, given in labels.items():
        top = Counter(given).most_common()
        if len(top) == 1 or top[0][1] > top[1][1]:
            majorities[trial] = top[0][0]
    first = [automated[t][0] for t in majorities]
    second = list(majorities.values())
    majority = typed_report.human.gold_screened.pooled.vs_majority
    assert majority.kappa.n == len(majorities)
    assert majority.kappa.value == pytest.approx(cohen_kappa_score(first, second))
    for weights, estimate in (("linear", majority.kappa_linear), ("quadratic", majority.kappa_quadratic)):
        assert estimate.value == pytest.approx(
            cohen_kappa_score(first, second, labels=list(ORDERED_CATEGORIES), weights=weights)
        )
    assert majority.accuracy.value == pytest.approx(
        np.mean([a == b for a, b in zip(first, second, strict=True)])
    )
    matrix = np.array(majority.confusion.counts)
    assert matrix.sum() == len(majorities)
    assert np.trace(matrix) == sum(a == b for a, b in zip(first, second, strict=True))


def test_mean_kappa_vs_each_rater_matches_scikit_learn(validated_study, typed_report):
    automated = _automated(validated_study.study)
    per_rater: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for row in _live_judgments(validated_study.study):
        if not row["task__is_gold"]:
            per_rater[row["rater_id"]][0].append(automated[row["trial_id"]][0])
            per_rater[row["rater_id"]][1].append(row["category"])
    kappas = [cohen_kappa_score(a, b) for a, b in per_rater.values()]
    weighted = [
        cohen_kappa_score(a, b, labels=list(ORDERED_CATEGORIES), weights="linear")
        for a, b in per_rater.values()
    ]
    screened = typed_report.human.gold_screened
    assert screened.n_raters == len(per_rater) == 5
    assert screened.pooled.vs_raters.mean_kappa.value == pytest.approx(np.mean(kappas))
    assert screened.pooled.vs_raters.mean_kappa_linear.value == pytest.approx(np.mean(weighted))


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside pingouin 0.7 on pandas 3
def test_angle_agreement_matches_pingouin_and_krippendorff(validated_study, typed_report):
    automated = _automated(validated_study.study)
    rows = [r for r in _live_judgments(validated_study.study) if not r["task__is_gold"]]
    human_mean = pd.DataFrame(rows).groupby("trial_id")["angle_estimate"].mean()
    long = pd.concat(
        [
            pd.DataFrame({"t": human_mean.index, "r": "human", "x": human_mean.to_numpy()}),
            pd.DataFrame(
                {"t": human_mean.index, "r": "auto", "x": [automated[t][1] for t in human_mean.index]}
            ),
        ]
    )
    reference = pingouin.intraclass_corr(long, targets="t", raters="r", ratings="x").set_index("Type")
    pooled = typed_report.human.gold_screened.pooled
    assert pooled.angles.icc_a1.value == pytest.approx(reference.loc["ICC(A,1)", "ICC"])
    raters = sorted({r["rater_id"] for r in rows})
    trials = sorted({r["trial_id"] for r in rows})
    matrix = np.full((len(raters), len(trials)), np.nan)
    codes = np.full((len(raters), len(trials)), np.nan)
    for r in rows:
        matrix[raters.index(r["rater_id"]), trials.index(r["trial_id"])] = r["angle_estimate"]
        codes[raters.index(r["rater_id"]), trials.index(r["trial_id"])] = ORDERED_CATEGORIES.index(
            r["category"]
        )
    assert pooled.inter_rater.angles[ALPHA_INTERVAL].value == pytest.approx(
        krippendorff.alpha(matrix, level_of_measurement="interval")
    )
    assert pooled.inter_rater.categories.value == pytest.approx(
        krippendorff.alpha(codes, level_of_measurement="nominal")
    )
    differences = np.array([automated[t][1] for t in human_mean.index]) - human_mean.to_numpy()
    assert pooled.angles.bland_altman.bias.value == pytest.approx(differences.mean())
    assert pooled.angles.bland_altman.upper_limit.value == pytest.approx(
        differences.mean() + 1.959963984540054 * differences.std(ddof=1)
    )


def test_raters_of_a_non_crossed_design_get_krippendorffs_alpha_not_an_icc(validated_study, typed_report):
    inter_rater = typed_report.human.gold_screened.pooled.inter_rater
    assert inter_rater.available
    assert inter_rater.design == "not crossed"
    assert set(inter_rater.angles) == {ALPHA_INTERVAL}
    assert "no ICC over invented rater slots" in inter_rater.note
    assert inter_rater.max_overlap == 3


def test_extraction_audit_and_gold_accuracy_match_the_rows(validated_study, typed_report):
    orders = {
        (t, i): (order, option)
        for t, i, order, option in ItemResponse.objects.filter(
            trial__run__study=validated_study.study
        ).values_list("trial_id", "item", "presented_order", "extracted_option")
    }
    same = total = 0
    for row in _live_judgments(validated_study.study):
        for item, position in row["extraction_audit"].items():
            order, option = orders[(row["trial_id"], int(item))]
            read = None if position is None else order[position - 1]
            same += read == option
            total += 1
    audit = typed_report.human.gold_screened.extraction_audit
    assert audit["accuracy"].n == total
    assert audit["accuracy"].value == pytest.approx(same / total)
    assert audit["kappa"].value is not None
    assert 0 < audit["kappa"].value <= 1
    gold = {row.rater: row for row in typed_report.human.gold_accuracy}
    assert len(gold) == 6  # every rater, flagged or not
    for rater in Rater.objects.filter(batch__study=validated_study.study):
        judged = HumanJudgment.objects.filter(rater=rater, task__is_gold=True).values_list(
            "category", "task__gold_category"
        )
        hits = [a == b for a, b in judged]
        assert gold[f"r{rater.pk}"].accuracy.value == pytest.approx(np.mean(hits))
        assert gold[f"r{rater.pk}"].accuracy.n == 4
        assert gold[f"r{rater.pk}"].flagged is rater.flagged


def test_both_rater_selections_are_reported_and_the_setting_picks_one(validated_study):
    human = reports.build_report(validated_study.study, n_boot=N_BOOT).human
    excluded, included = human.gold_screened, human.all_raters
    assert human.selected == "gold_screened"
    assert excluded.n_raters == 5
    assert excluded.flagged_raters_left_out == 1
    assert included.n_raters == 6
    assert included.n_judgments == 40 * 3
    # the flagged rater guesses at random: every agreement figure moves when they are left out
    assert included.pooled.inter_rater.categories.value != excluded.pooled.inter_rater.categories.value
    assert included.pooled.vs_raters.mean_kappa.value != excluded.pooled.vs_raters.mean_kappa.value
    setting = reports.build_report(validated_study.study, include_flagged=True, n_boot=N_BOOT).human
    assert setting.selected == "all_raters"
    assert setting.all_raters == included


def test_excluded_raters_are_always_left_out(validated_study):
    rater = Rater.objects.filter(batch__study=validated_study.study, flagged=False).order_by("pk").first()
    assert rater is not None
    Rater.objects.filter(pk=rater.pk).update(excluded=True)
    human = reports.build_report(validated_study.study, include_flagged=True, n_boot=N_BOOT).human
    assert human.all_raters.n_raters == 5
    assert human.all_raters.excluded_raters == 1


def test_consistency_pairs_the_two_runs_of_each_configuration(validated_study, typed_report):
    consistency = typed_report.consistency
    assert consistency.test_retest_cells == 16
    assert consistency.test_retest["ICC(A,1)"].n == 16
    assert len(consistency.cells) == 16
    assert all(cell.n == 12 and cell.sd_angle.n == 12 for cell in consistency.cells)
    # within one design only: no coefficient across cells, no human norm
    assert {field.name for field in dataclasses.fields(consistency)} == {
        "cells",
        "test_retest",
        "test_retest_cells",
        "note",
    }


def test_goal_vs_plain_is_the_difference_of_mean_value_rationality(validated_study, report):
    rows = report["automated"]["goal_vs_plain"]
    assert len(rows) == 8
    for row in rows:
        trials = Trial.objects.filter(
            run__study=validated_study.study, run__model=row["model"], run__value=row["value"]
        )
        goal = np.mean(list(trials.filter(run__strategy="goal").values_list("value_rationality", flat=True)))
        plain = np.mean(
            list(trials.filter(run__strategy="plain").values_list("value_rationality", flat=True))
        )
        assert row["difference"]["value"] == pytest.approx(goal - plain)


def test_methods_list_templates_models_fingerprints_and_sampling(validated_study, report):
    methods = report["methods"]
    assert methods["definitions_version"] == "hvae-svo/2"
    names = {t["name"] for t in methods["prompt_templates"]}
    assert {"system", "value_description", "value_adoption", "task_intro", "item", "goal"} <= names
    assert all(t["text"] and t["hash"] for t in methods["prompt_templates"])
    assert methods["missing_prompt_templates"] == []
    run = methods["runs"][0]
    assert run["returned_models"] == [f"{run['model']}-2026-01"]
    assert run["system_fingerprints"] == ["fp_sim"]
    assert {"temperature", "top_p", "max_tokens", "seed", "n_trials", "prompt_versions"} <= set(run)
    assert methods["batches"][0]["overlap"] == 3
    assert methods["batches"][0]["sampling"] == {"strata": [], "drawn": 40}


def test_per_batch_sections_appear_with_several_batches(validated_study):
    add_judgments(
        validated_study, n_transcripts=10, n_raters=3, overlap=2, seed=9, first_annotation_id=10_000
    )
    human = reports.build_report(validated_study.study, n_boot=N_BOOT).human
    assert [b.batch for b in human.batches] == [b.pk for b in validated_study.batches]
    assert human.batches[1].gold_screened.n_judgments == 20
    assert human.gold_screened.n_judgments == human.batches[0].gold_screened.n_judgments + 20


def test_a_study_without_judgments_reports_not_enough_data(demo_like_study):
    human = reports.build_report(demo_like_study.study, n_boot=N_BOOT).human
    pooled = human.gold_screened.pooled
    assert human.gold_screened.n_judgments == 0
    for estimate in (pooled.vs_majority.kappa, pooled.vs_raters.mean_kappa, pooled.angles.lin_ccc):
        assert estimate.value is None
        assert estimate.note.startswith("not enough data (n = 0)")
    assert pooled.angles.icc_a1.note.startswith("not enough data (n = 0)")
    assert pooled.angles.bland_altman.bias.note == "not enough data (n = 0)"
    assert not pooled.inter_rater.available


def test_a_study_without_trials_reports_not_enough_data(db):
    study = build_study("empty", models=(), seed=1).study
    typed_report = reports.build_report(study, n_boot=N_BOOT)
    report = to_json(typed_report)
    assert report["automated"]["cells"] == []
    assert typed_report.consistency.cells == ()
    assert typed_report.consistency.test_retest["pearson_r"].note == "not enough data (n = 0)"


def test_failed_trials_are_counted_but_not_scored(validated_study):
    trial = Trial.objects.filter(run__study=validated_study.study).order_by("pk").first()
    assert trial is not None
    Trial.objects.filter(pk=trial.pk).update(status=Trial.Status.FAILED, angle=None, category="")
    report = to_json(reports.build_report(validated_study.study, n_boot=N_BOOT))
    cell = next(
        c
        for c in report["automated"]["cells"]
        if (c["model"], c["value"], c["strategy"]) == (trial.run.model, trial.run.value, trial.run.strategy)
    )
    assert (cell["n_trials"], cell["n_scored"], cell["n_failed"]) == (12, 11, 1)


def test_the_cached_report_is_reused_until_a_judgment_changes(validated_study, monkeypatch):
    first, figures = reports.cached_report_and_figures(validated_study.study)
    assert {"heatmap", "ring:prosocial", "goal_vs_plain:prosocial", "confusion", "bland_altman"} <= set(
        figures
    )
    calls: list[int] = []
    original = reports.build_report

    def counting_build_report(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(reports, "build_report", counting_build_report)
    assert reports.cached_report(validated_study.study) == first
    assert calls == []
    judgment = HumanJudgment.objects.filter(task__batch__study=validated_study.study).order_by("pk").first()
    assert judgment is not None
    judgment.category = "competitive" if judgment.category != "competitive" else "altruistic"
    judgment.save()
    reports.cached_report(validated_study.study)
    assert calls == [1]
    Rater.objects.filter(batch__study=validated_study.study, flagged=True).update(flagged=False)
    assert reports.cached_report(validated_study.study).human.gold_screened.n_raters == 6
    assert calls == [1, 1]


def test_report_tables_hold_the_report_numbers(typed_report, report):
    tables = reports.report_tables(typed_report)
    assert tuple(tables) == reports.TABLE_NAMES
    agreement = tables["agreement"]
    kappa = typed_report.human.gold_screened.pooled.vs_majority.kappa
    row = agreement[
        (agreement["statistic"] == "kappa_vs_majority")
        & (agreement["value"] == "pooled")
        & (agreement["exclusion"] == human_validation.GOLD_SCREENED)
        & (agreement["section"] == "human")
    ]
    assert row["estimate"].tolist() == [kappa.value]
    assert row["n"].tolist() == [kappa.n]
    assert set(agreement["exclusion"]) == {human_validation.ALL_RATERS, human_validation.GOLD_SCREENED}
    assert len(tables["automated"]) == 16
    assert list(tables["confusion_matrix"].columns[:2]) == ["arm", "automated \\ majority"]
    assert tables["confusion_matrix"].iloc[:, 2:].to_numpy().sum() == kappa.n


def test_the_report_is_strict_json(report):
    text = json.dumps(report, allow_nan=False)  # no NaN, no infinity, no numpy types
    assert json.loads(text) == report


def test_the_methods_record_each_batch_with_its_arm_and_screening_rule(validated_study, report):
    (first, *_rest) = report["methods"]["batches"]
    batch = validated_study.batches[0]
    assert first["arm"] == batch.arm
    assert (first["gold_per_rater"], first["gold_min_answered"]) == (
        batch.gold_per_rater,
        batch.gold_min_answered,
    )
    assert first["gold_fail_threshold"] == batch.gold_fail_threshold
    assert first["include_reference"] is batch.include_reference
