"""Reads of the evaluation app."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Count, Q, QuerySet

from evaluation.models import EvaluationRun, ItemResponse, Study, Trial
from evaluation.summary import CellSummary, TrialRow, summarise_cell

CellKey = tuple[str, str, str]


def runs_for_study(*, study: Study) -> QuerySet[EvaluationRun]:
    return (
        EvaluationRun.objects.filter(study=study)
        .select_related("endpoint")
        .annotate(
            n_done=Count("trials", filter=Q(trials__status__in=[Trial.Status.SCORED, Trial.Status.FAILED])),
            n_scored=Count("trials", filter=Q(trials__status=Trial.Status.SCORED)),
        )
        .order_by("model", "value", "strategy", "id")
    )


def run_progress(*, run: EvaluationRun) -> dict[str, int]:
    counts = dict(run.trials.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Trial.Status.values} | {"total": run.n_trials}


def cell_summaries(*, run_ids: Sequence[int]) -> list[CellSummary]:
    """One summary per (model, value, strategy) over the given runs, in a stable order."""
    rows: dict[CellKey, list[TrialRow]] = defaultdict(list)
    trials = Trial.objects.filter(run_id__in=run_ids).values_list(
        "run__model",
        "run__value",
        "run__strategy",
        "status",
        "angle",
        "category",
        "value_rationality",
        "category_hit",
        "transitive",
    )
    for model, value, strategy, status, angle, category, rationality, hit, transitive in trials:
        rows[(model, value, strategy)].append(
            TrialRow(model, value, strategy, status, angle, category, rationality, hit, transitive)
        )
    methods: dict[CellKey, dict[str, int]] = defaultdict(dict)
    counts = (
        ItemResponse.objects.filter(trial__run_id__in=run_ids)
        .values_list("trial__run__model", "trial__run__value", "trial__run__strategy", "extraction_method")
        .annotate(n=Count("pk"))
    )
    for model, value, strategy, method, n in counts:
        methods[(model, value, strategy)][method] = n
    return [summarise_cell(key, rows[key], methods[key]) for key in sorted(rows)]


def study_summaries(*, study: Study) -> list[CellSummary]:
    return cell_summaries(run_ids=list(study.runs.values_list("pk", flat=True)))


def scored_trials(*, study: Study) -> QuerySet[Trial]:
    return Trial.objects.filter(run__study=study, status=Trial.Status.SCORED).select_related("run")
