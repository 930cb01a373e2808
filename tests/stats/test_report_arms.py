"""Human validation keeps arms apart: what raters were shown is never pooled, and "unclear" names no category."""

from __future__ import annotations

from annotation.models import AnnotationBatch, HumanJudgment
from stats import reports
from tests.stats.builders import add_judgments


def test_arms_are_reported_apart_and_unclear_counts_as_no_category(validated_study) -> None:
    blind = validated_study.study.batches.get()
    assert blind.arm == "blind"
    informed = add_judgments(
        validated_study, n_transcripts=20, n_raters=3, overlap=3, seed=9, first_annotation_id=10_000
    )
    AnnotationBatch.objects.filter(pk=informed.pk).update(arm="informed")
    unclear_ids = list(
        HumanJudgment.objects.filter(task__batch=blind, task__is_gold=False).values_list("pk", flat=True)[:5]
    )
    HumanJudgment.objects.filter(pk__in=unclear_ids).update(category="unclear")

    human = reports.build_report(validated_study.study, n_boot=100).human

    assert human.arm == "blind"
    assert human.n_unclear == 5
    assert [other.arm for other in human.other_arms] == ["informed"]
    (other,) = human.other_arms
    assert other.n_unclear == 0
    judged_blind = HumanJudgment.objects.filter(task__batch=blind, task__is_gold=False).count()
    judged_informed = HumanJudgment.objects.filter(task__batch=informed, task__is_gold=False).count()
    # Pooled, the top level would count the informed arm's judgments too.
    assert 0 < human.all_raters.n_judgments <= judged_blind
    assert 0 < other.all_raters.n_judgments <= judged_informed
    assert "never pooled" in human.arms_note


def test_the_csv_tables_keep_every_arm_apart(validated_study) -> None:
    informed = add_judgments(
        validated_study, n_transcripts=20, n_raters=3, overlap=3, seed=9, first_annotation_id=10_000
    )
    AnnotationBatch.objects.filter(pk=informed.pk).update(arm="informed")
    tables = reports.report_tables(reports.build_report(validated_study.study, n_boot=100))
    assert set(tables["confusion_matrix"]["arm"]) == {"blind", "informed"}
    assert set(tables["gold_accuracy"]["arm"]) <= {"blind", "informed"}
    assert "blind" in set(tables["gold_accuracy"]["arm"])
