"""Reads of the evaluation app."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Count, Q, QuerySet

from evaluation.models import EvaluationRun, ItemResponse, Study, Trial
from evaluation.summary import CellKey, CellSummary, Design, ItemCounts, TrialRow, summarise


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


RUN_DESIGN_FIELDS = (
    "prompt_variant",
    "option_order",
    "option_labels",
    "temperature",
    "item_set",
    "definitions_version",
)
"""The run fields that make up a cell's design, in the order of ``summary.DESIGN_KEYS``."""


def design_of(
    variant: str, order: str, labels: str, temperature: float | None, items: str, definitions: str
) -> Design:
    return Design(
        variant, order, labels, None if temperature is None else float(temperature), items, definitions
    )


def run_cell_keys(*, run_ids: Sequence[int]) -> dict[int, CellKey]:
    """Each run's cell: (model, value, strategy) and its design."""
    runs = EvaluationRun.objects.filter(pk__in=list(run_ids)).values_list(
        "pk", "model", "value", "strategy", *RUN_DESIGN_FIELDS
    )
    return {
        pk: CellKey(model, value, strategy, design_of(*design))
        for pk, model, value, strategy, *design in runs
    }


def cell_summaries(*, run_ids: Sequence[int]) -> list[CellSummary]:
    """One summary per cell (model, value, strategy and design) over the given runs, in a stable order."""
    keys = run_cell_keys(run_ids=run_ids)
    trials = Trial.objects.filter(run_id__in=list(keys)).values_list(
        "run_id",
        "status",
        "angle",
        "category",
        "value_rationality",
        "category_hit",
        "transitive",
        "angular_deviation",
        "target_angle",
    )
    rows = [
        TrialRow(keys[run_id], status, angle, category, rationality, hit, transitive, deviation, target)
        for run_id, status, angle, category, rationality, hit, transitive, deviation, target in trials
    ]
    methods: dict[CellKey, dict[str, int]] = defaultdict(dict)
    reasked: dict[CellKey, int] = defaultdict(int)
    counts = (
        ItemResponse.objects.filter(trial__run_id__in=list(keys))
        .values_list("trial__run_id", "extraction_method")
        .annotate(n=Count("pk"), n_reasked=Count("pk", filter=Q(reasked=True)))
        .order_by()
    )
    for run_id, method, n, n_reasked in counts:
        key = keys[run_id]
        methods[key][method] = methods[key].get(method, 0) + n
        reasked[key] += n_reasked
    items = {key: ItemCounts(methods[key], reasked[key]) for key in methods}
    return summarise(rows, items)


def study_summaries(*, study: Study) -> list[CellSummary]:
    return cell_summaries(run_ids=list(study.runs.values_list("pk", flat=True)))


def scored_trials(*, study: Study) -> QuerySet[Trial]:
    return Trial.objects.filter(run__study=study, status=Trial.Status.SCORED).select_related("run")
