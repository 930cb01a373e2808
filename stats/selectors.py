"""Rows to DataFrames: the tidy data every statistic and every report table is computed from.

Reads use ``values_list`` (no model instances), one query per table, so a study of 100,000 trials loads
in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
from django.db.models import Count, Max, Q

from annotation.models import AnnotationBatch, HumanJudgment, Rater
from evaluation import rescoring
from evaluation.models import EvaluationRun, ItemResponse, LLMCall, PromptTemplate, Study, Trial
from stats.models import Preregistration

TRIAL_FIELDS = {
    "pk": "trial_id",
    "run_id": "run_id",
    "index": "trial",
    "run__model": "model",
    "run__value": "value",
    "run__strategy": "strategy",
    "run__prompt_variant": "prompt_variant",
    "run__option_order": "option_order",
    "run__option_labels": "option_labels",
    "run__temperature": "temperature",
    "run__item_set": "item_set",
    "run__definitions_version": "definitions_version",
    "run__endpoint__is_reference": "reference_agent",
    "status": "status",
    "failure_reason": "failure_reason",
    "angle": "angle",
    "category": "category",
    "mean_self": "mean_self",
    "mean_other": "mean_other",
    "target_angle": "target_angle",
    "angular_deviation": "angular_deviation",
    "value_rationality": "value_rationality",
    "category_hit": "category_hit",
    "transitive": "transitive",
    "inequality_aversion": "inequality_aversion",
}

JUDGMENT_FIELDS = {
    "label_studio_annotation_id": "annotation_id",
    "task__batch_id": "batch_id",
    "task__batch__arm": "arm",
    "trial_id": "trial_id",
    "rater_id": "rater_id",
    "label_studio_user_id": "label_studio_user_id",
    "rater__flagged": "flagged",
    "rater__excluded": "excluded",
    "task__is_gold": "is_gold",
    "task__gold_category": "gold_category",
    "category": "category",
    "angle_estimate": "angle",
    "confidence": "confidence",
    "extraction_audit": "audit",
    "comment": "comment",
    "lead_time": "lead_time",
    "annotated_at": "annotated_at",
}

RESPONSE_FIELDS = {
    "trial_id": "trial_id",
    "item": "item",
    "presented_order": "presented_order",
    "extracted_option": "extracted_option",
    "extraction_method": "extraction_method",
    "reasked": "reasked",
    "payoff_self": "payoff_self",
    "payoff_other": "payoff_other",
    "raw_text": "raw_text",
}


def _frame(rows: Iterable[tuple[Any, ...]], fields: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=list(fields.values()))


def trials_frame(*, study: Study) -> pd.DataFrame:
    """One row per trial of the study (every status), with its automated scores."""
    rows = Trial.objects.filter(run__study=study).order_by("run_id", "index").values_list(*TRIAL_FIELDS)
    return _frame(rows, TRIAL_FIELDS)


def judgments_frame(*, study: Study, batch: AnnotationBatch | None = None) -> pd.DataFrame:
    """One row per live (not deleted, not cancelled) judgment of the study's batches.

    ``rater`` identifies the person: ``r<id>`` for a recruited rater, ``ls-<user>`` for a Label Studio user
    without a rater record. A judgment without a rater record is never flagged or excluded.
    """
    judgments = HumanJudgment.objects.filter(task__batch__study=study, deleted=False, was_cancelled=False)
    if batch is not None:
        judgments = judgments.filter(task__batch=batch)
    rows = judgments.order_by("label_studio_annotation_id").values_list(*JUDGMENT_FIELDS)
    frame = _frame(rows, JUDGMENT_FIELDS)
    frame.insert(
        3,
        "rater",
        [
            f"r{rater}" if rater is not None else f"ls-{user}"
            for rater, user in zip(frame["rater_id"], frame["label_studio_user_id"], strict=True)
        ],
    )
    for column in ("flagged", "excluded", "is_gold"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), False).astype(bool)
    return frame


def responses_frame(*, study: Study, trial_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per item response of the study (or of the given trials), with the raw answer text."""
    responses = ItemResponse.objects.filter(trial__run__study=study)
    if trial_ids is not None:
        responses = responses.filter(trial_id__in=list(trial_ids))
    rows = responses.order_by("trial_id", "item").values_list(*RESPONSE_FIELDS)
    return _frame(rows, RESPONSE_FIELDS)


def audited_responses_frame(*, trial_ids: Sequence[int]) -> pd.DataFrame:
    """What an extraction audit compares with: each item's presented order and extracted option."""
    rows = (
        ItemResponse.objects.filter(trial_id__in=list(trial_ids))
        .order_by()
        .values_list("trial_id", "item", "presented_order", "extracted_option")
    )
    return pd.DataFrame.from_records(
        list(rows), columns=["trial_id", "item", "presented_order", "extracted_option"]
    )


def extraction_counts(*, study: Study) -> pd.DataFrame:
    """Item responses per run and extraction method, and how many of them were asked a second time."""
    counted = (
        ItemResponse.objects.filter(trial__run__study=study)
        .values_list("trial__run_id", "extraction_method")
        .annotate(n=Count("pk"), n_reasked=Count("pk", filter=Q(reasked=True)))
        .order_by("trial__run_id", "extraction_method")
    )
    return pd.DataFrame.from_records(list(counted), columns=["run_id", "method", "n", "n_reasked"])


def choices_frame(*, study: Study) -> pd.DataFrame:
    """One row per read item response of the study's trials that ran under a reversed or random option order,
    and of the fixed-order trials of the same models (what the position-bias analysis compares)."""
    models = list(
        EvaluationRun.objects.filter(study=study)
        .exclude(option_order=EvaluationRun.OptionOrder.FIXED)
        .values_list("model", flat=True)
        .distinct()
        .order_by()
    )
    rows = (
        ItemResponse.objects.filter(
            trial__run__study=study, trial__run__model__in=models, extracted_option__isnull=False
        )
        .order_by("trial_id", "item")
        .values_list("trial_id", "trial__run_id", "item", "presented_order", "extracted_option")
    )
    return pd.DataFrame.from_records(
        list(rows), columns=["trial_id", "run_id", "item", "presented_order", "option"]
    )


def trial_records(*, study: Study, chunk: int = 500) -> Iterator[dict[str, Any]]:
    """Every trial of the study as one self-contained record, for re-analysis: the run's design, provenance
    and definitions, the full conversation, each item's presented order, answer, extraction and re-ask, and
    the scores. Read in chunks of ``chunk`` trials so a large study streams in bounded memory."""
    runs = {
        run.pk: run
        for run in EvaluationRun.objects.filter(study=study).select_related("endpoint").order_by("pk")
    }
    trial_ids = list(
        Trial.objects.filter(run__study=study).order_by("run_id", "index").values_list("pk", flat=True)
    )
    for start in range(0, len(trial_ids), chunk):
        ids = trial_ids[start : start + chunk]
        responses: dict[int, list[dict[str, Any]]] = {}
        for row in (
            ItemResponse.objects.filter(trial_id__in=ids)
            .order_by("trial_id", "item")
            .values(
                "trial_id",
                "item",
                "presented_order",
                "raw_text",
                "extracted_option",
                "extraction_method",
                "extraction_detail",
                "reasked",
                "payoff_self",
                "payoff_other",
            )
        ):
            record: dict[str, Any] = dict(row)
            responses.setdefault(record.pop("trial_id"), []).append(record)
        for trial in Trial.objects.filter(pk__in=ids).order_by("run_id", "index"):
            run = runs[trial.run_id]
            yield {
                "study": study.name,
                "run": run.pk,
                "trial": trial.pk,
                "index": trial.index,
                "model": run.model,
                "value": run.value,
                "strategy": run.strategy,
                "design": {
                    "variant": run.prompt_variant,
                    "order": run.option_order,
                    "labels": run.option_labels,
                    "temperature": run.temperature,
                    "items": run.item_set,
                    "definitions": run.definitions_version,
                },
                "definitions_version": run.definitions_version,
                "endpoint": {"name": run.endpoint.name, "base_url": run.endpoint.base_url},
                "reference_agents": run.endpoint.is_reference,
                "on_unreadable": run.on_unreadable,
                "provenance": run.provenance,
                "prompt_versions": run.prompt_versions,
                "seed": trial.seed,
                "status": trial.status,
                "failure_reason": trial.failure_reason,
                "transcript": trial.transcript,
                "responses": responses.get(trial.pk, []),
                "scores": {name: getattr(trial, name) for name in rescoring.SCORE_FIELDS},
                "finished_at": trial.finished_at.isoformat() if trial.finished_at else None,
            }


def batches(*, study: Study) -> list[AnnotationBatch]:
    return list(AnnotationBatch.objects.filter(study=study).order_by("id"))


def methods_record(*, study: Study) -> dict[str, Any]:
    """What someone needs to rerun the study: each run's design and parameters, the exact prompt templates
    (verbatim), the model identifiers and fingerprints as returned by the endpoints, and each annotation
    batch's sampling design."""
    runs = list(EvaluationRun.objects.filter(study=study).select_related("endpoint").order_by("id"))
    returned: dict[int, tuple[set[str], set[str]]] = {run.pk: (set(), set()) for run in runs}
    calls = (
        LLMCall.objects.filter(run__study=study)
        .exclude(returned_model="", system_fingerprint="")
        .values_list("run_id", "returned_model", "system_fingerprint")
        .distinct()
        .order_by()
    )
    for run_id, model, fingerprint in calls:
        models, fingerprints = returned.setdefault(run_id, (set(), set()))
        if model:
            models.add(model)
        if fingerprint:
            fingerprints.add(fingerprint)
    run_rows = [
        {
            "run": run.pk,
            "endpoint": run.endpoint.base_url,
            "endpoint_name": run.endpoint.name,
            "reference_agents": run.endpoint.is_reference,
            "model": run.model,
            "returned_models": sorted(returned[run.pk][0]),
            "system_fingerprints": sorted(returned[run.pk][1]),
            "value": run.value,
            "strategy": run.strategy,
            "prompt_variant": run.prompt_variant,
            "item_set": run.item_set,
            "option_labels": run.option_labels,
            "option_order": run.option_order,
            "temperature": run.temperature,
            "top_p": run.top_p,
            "max_tokens": run.max_tokens,
            "seed": run.seed,
            "n_trials": run.n_trials,
            "extractor_model": run.extractor_model,
            "prompt_versions": run.prompt_versions,
            "definitions_version": run.definitions_version,
            "on_unreadable": run.on_unreadable,
            "provenance": run.provenance,
            "status": run.status,
        }
        for run in runs
    ]
    wanted = {
        (name, int(reference["version"]))
        for run in runs
        for name, reference in (run.prompt_versions or {}).items()
        if isinstance(reference, dict) and "version" in reference
    }
    templates = []
    if wanted:
        condition = Q()
        for name, version in wanted:
            condition |= Q(name=name, version=version)
        templates = [
            {"name": name, "version": version, "hash": content_hash, "text": text}
            for name, version, content_hash, text in PromptTemplate.objects.filter(condition)
            .order_by("name", "version")
            .values_list("name", "version", "content_hash", "text")
        ]
    found = {(t["name"], t["version"]) for t in templates}
    missing = sorted(f"{name} v{version}" for name, version in wanted - found)
    batch_rows = [
        {
            "batch": batch.pk,
            "arm": batch.arm,
            "size": batch.size,
            "overlap": batch.overlap,
            "seed": batch.seed,
            "gold": batch.gold,
            "show_choices": batch.show_choices,
            "extraction_audit": batch.extraction_audit,
            "show_prediction": batch.show_prediction,
            "tasks_per_rater": batch.tasks_per_rater,
            "gold_fail_threshold": batch.gold_fail_threshold,
            "gold_min_answered": batch.gold_min_answered,
            "gold_per_rater": batch.gold_per_rater,
            "include_reference": batch.include_reference,
            "sampling": batch.sampling_spec,
        }
        for batch in batches(study=study)
    ]
    return {
        "runs": run_rows,
        "prompt_templates": templates,
        "missing_prompt_templates": missing,
        "batches": batch_rows,
    }


def report_state(*, study: Study) -> str:
    """A short text that changes whenever anything a study's report depends on changes (for its cache key)."""
    trials = Trial.objects.filter(run__study=study).aggregate(
        n=Count("pk"), done=Count("pk", filter=Q(status__in=["scored", "failed"])), last=Max("finished_at")
    )
    runs = EvaluationRun.objects.filter(study=study).aggregate(n=Count("pk"), last=Max("pk"))
    # A rescore (evaluation.rescoring) changes scores but no count or time; it records the definitions' name.
    definitions = sorted(
        set(EvaluationRun.objects.filter(study=study).values_list("definitions_version", flat=True))
    )
    judgments = HumanJudgment.objects.filter(task__batch__study=study).aggregate(
        n=Count("pk"), last=Max("updated_at")
    )
    raters = list(
        Rater.objects.filter(Q(flagged=True) | Q(excluded=True), batch__study=study)
        .order_by("pk")
        .values_list("pk", "flagged", "excluded")
    )
    # The batches' sampling designs and exclusion thresholds: the pre-registration section compares them.
    batch_ids = list(
        AnnotationBatch.objects.filter(study=study).order_by("pk").values_list("pk", *PLAN_BATCH_FIELDS)
    )
    registrations = Preregistration.objects.filter(study=study).aggregate(n=Count("pk"), last=Max("pk"))
    return f"{trials}|{runs}|{definitions}|{judgments}|{raters}|{batch_ids}|{registrations}"


PLAN_BATCH_FIELDS = (
    "size",
    "overlap",
    "seed",
    "gold",
    "tasks_per_rater",
    "gold_fail_threshold",
    "gold_min_answered",
    "gold_per_rater",
    "include_reference",
    "sampling_spec",
)
PLAN_DESIGN_FIELDS = {
    "model": "model",
    "value": "value",
    "strategy": "strategy",
    "prompt_variant": "variant",
    "option_order": "order",
    "option_labels": "labels",
    "temperature": "temperature",
    "item_set": "items",
    "definitions_version": "definitions",
}


def plan_inputs(*, study: Study) -> dict[str, Any]:
    """What a study's analysis plan is built from: each annotation batch's sampling design and exclusion
    threshold (with its ``arm`` when batches have one), and the runs' designs (one entry per run)."""
    batch_fields = [*PLAN_BATCH_FIELDS]
    if any(field.name == "arm" for field in AnnotationBatch._meta.get_fields()):
        batch_fields.append("arm")
    batch_rows = [
        {"batch": row[0], **dict(zip(batch_fields, row[1:], strict=True))}
        for row in AnnotationBatch.objects.filter(study=study).order_by("pk").values_list("pk", *batch_fields)
    ]
    design_rows = [
        dict(zip(PLAN_DESIGN_FIELDS.values(), row, strict=True))
        for row in EvaluationRun.objects.filter(study=study).order_by("pk").values_list(*PLAN_DESIGN_FIELDS)
    ]
    return {"batches": batch_rows, "designs": design_rows}


def latest_preregistration(*, study: Study) -> Preregistration | None:
    """The study's most recent registered plan (the one that counts), or None."""
    return Preregistration.objects.filter(study=study).order_by("-created_at", "-pk").first()
