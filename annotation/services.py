"""Writes of the annotation app: pushing batches to Label Studio, raters, and judgments coming back."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from annotation import gold_labels, labeling, sampling, selectors
from annotation.labelstudio import (
    AnnotationRecord,
    BrowserSession,
    LabelStudioClient,
    LabelStudioError,
    PayloadError,
    parse_webhook,
)
from annotation.models import AnnotationBatch, AnnotationTask, GoldLabel, HumanJudgment, Rater
from evaluation import svo
from evaluation.models import Study, Trial
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)

WEBHOOK_HEADER = "X-HVAE-Webhook-Secret"
MIN_GOLD_FOR_FLAG = 2
DEFAULT_GOLD_FAIL_THRESHOLD = 0.5
DEFAULT_QUOTA = 20
INVITE_DAYS = 30
DEFAULT_OVERLAP = 3
BULK_ROWS = 1000  # rows per statement in the bulk writes of a push or a sync
LOOKUP_ROWS = 5000  # values per IN (...) when a sync reads the tasks and judgments its annotations refer to


def label_studio_client() -> LabelStudioClient:
    if not settings.LABEL_STUDIO_URL or not settings.LABEL_STUDIO_API_KEY:
        raise DomainError(
            "Label Studio is not configured: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
            "(scripts/labelstudio start sets them in .env)."
        )
    return LabelStudioClient(settings.LABEL_STUDIO_URL, settings.LABEL_STUDIO_API_KEY)


@contextmanager
def _label_studio(client: LabelStudioClient | None) -> Iterator[LabelStudioClient]:
    """The caller's client, or one made from the settings and closed afterwards."""
    if client is not None:
        yield client
        return
    own = label_studio_client()
    try:
        yield own
    finally:
        own.close()


@dataclass(frozen=True)
class PushResult:
    batch: AnnotationBatch
    batch_created: bool
    tasks_created: int
    tasks_existing: int


def _candidates(study: Study) -> list[sampling.Candidate]:
    """The study's scored trials, each with its gold label if it has one (``GoldLabel``: set by a researcher or
    constructed from a reference agent's disposition), never the automated category."""
    gold_labels.gold_constructed_refresh(study=study)
    labels = dict(GoldLabel.objects.filter(trial__run__study=study).values_list("trial_id", "category"))
    rows = Trial.objects.filter(run__study=study, status=Trial.Status.SCORED).values_list(
        "pk", "run__model", "run__value", "run__strategy", "category", "run__endpoint__is_reference"
    )
    return [
        sampling.Candidate(
            trial_id=pk,
            model=model,
            value=value,
            strategy=strategy,
            category=category,
            gold_category=labels.get(pk),
            is_reference=is_reference,
        )
        for pk, model, value, strategy, category, is_reference in rows
    ]


@dataclass(frozen=True)
class ScreeningRule:
    """How a batch screens its raters with gold items (set when the batch is made, recorded on it).

    ``per_rater``: every rater meets at least this many gold items among the first ``quota`` tasks Label Studio
    serves them (the import order guarantees it, ``sampling.interleave``). ``min_answered``: gold items a rater
    must have answered before they can be flagged. ``fail_threshold``: a rater whose gold accuracy is below it
    is flagged."""

    per_rater: int = 0
    min_answered: int = MIN_GOLD_FOR_FLAG
    fail_threshold: float = DEFAULT_GOLD_FAIL_THRESHOLD


def _check_design(
    *,
    arm: str,
    overlap: int,
    allow_single_rater: bool,
    show_prediction: bool,
    show_induction: bool = False,
    size: int | None = None,
    gold: int = 0,
    tasks_per_rater: int = DEFAULT_QUOTA,
    screening: ScreeningRule | None = None,
) -> None:
    if overlap == 1 and not allow_single_rater:
        raise DomainError(
            "overlap 1 means one rater per task: inter-rater reliability would be unavailable. Use an overlap "
            "of 2 or more (3 by default), or allow a single rater explicitly (--allow-single-rater, API "
            "allow_single_rater: true).",
            field="overlap",
        )
    try:
        labeling.check_arm(arm, show_prediction=show_prediction, show_induction=show_induction)
    except labeling.ArmError as exc:
        field = (
            "arm" if arm not in labeling.ARMS else "show_induction" if show_induction else "show_prediction"
        )
        raise DomainError(f"{exc}.", field=field) from exc
    rule = screening or ScreeningRule()
    if not 0 <= rule.fail_threshold <= 1:
        raise DomainError(
            f"The gold accuracy threshold is a share between 0 and 1, got {rule.fail_threshold}.",
            field="gold_fail_threshold",
        )
    if rule.min_answered < 1:
        raise DomainError(
            "At least 1 gold item must be answered before a rater can be flagged.", field="gold_min_answered"
        )
    if rule.per_rater < 0:
        raise DomainError("Gold items per rater cannot be negative.", field="gold_per_rater")
    if rule.per_rater > tasks_per_rater:
        raise DomainError(
            f"Gold items per rater ({rule.per_rater}) cannot exceed a rater's quota ({tasks_per_rater}).",
            field="gold_per_rater",
        )
    if rule.per_rater and rule.per_rater > gold:
        raise DomainError(
            f"Every rater is to meet {rule.per_rater} gold item(s) but the batch has only {gold}.",
            field="gold",
        )
    if size is not None and rule.per_rater:
        needed = sampling.gold_needed(items=size, quota=tasks_per_rater, per_rater=rule.per_rater)
        if needed < 0:
            raise DomainError(
                f"A quota of {tasks_per_rater} with {rule.per_rater} gold item(s) per rater leaves no room for the "
                f"{size} transcript(s): lower gold_per_rater or raise tasks_per_rater.",
                field="gold_per_rater",
            )
        if gold < needed:
            raise DomainError(
                f"{size} transcript(s) need at least {needed} gold items so that every rater meets "
                f"{rule.per_rater} within a quota of {tasks_per_rater} (whichever tasks the others took), got "
                f"{gold}.",
                field="gold",
            )


@transaction.atomic
def annotation_batch_get_or_create(
    *,
    study: Study,
    size: int,
    arm: str = labeling.BLIND,
    overlap: int = DEFAULT_OVERLAP,
    allow_single_rater: bool = False,
    seed: int = 0,
    gold: int = 0,
    show_choices: bool = True,
    extraction_audit: bool = False,
    show_prediction: bool = False,
    show_induction: bool = False,
    tasks_per_rater: int = DEFAULT_QUOTA,
    include_reference: bool = False,
    gold_per_rater: int = 0,
    gold_min_answered: int = MIN_GOLD_FOR_FLAG,
    gold_fail_threshold: float = DEFAULT_GOLD_FAIL_THRESHOLD,
) -> tuple[AnnotationBatch, bool]:
    """The batch of this design (study, arm, size, overlap, seed, gold, gold per rater, reference included or
    not): drawn and stored the first time, the same one on every later call (its options stay those it was
    created with).

    One rater per task (overlap 1) leaves inter-rater reliability unavailable, so it needs
    ``allow_single_rater``; a prediction (the automated category) is refused outside the informed arm.
    Reference-agent transcripts enter only as gold unless ``include_reference``. The tasks get their import
    order here (``sampling.interleave``): shuffled, with gold items placed so that every rater meets at least
    ``gold_per_rater`` of them within ``tasks_per_rater`` tasks."""
    for name, number, least in (("size", size, 1), ("overlap", overlap, 1), ("gold", gold, 0)):
        if number < least:
            raise DomainError(f"{name} must be at least {least}, got {number}.", field=name)
    if tasks_per_rater < 1:
        raise DomainError("A rater's quota must be at least 1 task.", field="tasks_per_rater")
    rule = ScreeningRule(
        per_rater=gold_per_rater, min_answered=gold_min_answered, fail_threshold=gold_fail_threshold
    )
    _check_design(
        arm=arm,
        overlap=overlap,
        allow_single_rater=allow_single_rater,
        show_prediction=show_prediction,
        show_induction=show_induction,
        size=size,
        gold=gold,
        tasks_per_rater=tasks_per_rater,
        screening=rule,
    )
    # One push at a time per study: two concurrent pushes of one design must not both draw a sample.
    Study.objects.select_for_update().filter(pk=study.pk).first()
    existing = AnnotationBatch.objects.filter(
        study=study,
        arm=arm,
        size=size,
        overlap=overlap,
        seed=seed,
        gold=gold,
        gold_per_rater=gold_per_rater,
        include_reference=include_reference,
    ).first()
    if existing is not None:
        return existing, False
    try:
        sample = sampling.sample_batch(
            _candidates(study), size=size, gold=gold, seed=seed, include_reference=include_reference
        )
        order = sampling.interleave(
            sample.trial_ids, sample.gold_ids, quota=tasks_per_rater, per_rater=gold_per_rater, seed=seed
        )
    except sampling.SamplingError as exc:
        raise DomainError(
            f"Cannot draw the batch from study {study.name!r}: {exc}.", field=exc.field
        ) from exc
    batch = AnnotationBatch.objects.create(
        study=study,
        arm=arm,
        size=size,
        overlap=overlap,
        seed=seed,
        gold=gold,
        include_reference=include_reference,
        gold_per_rater=gold_per_rater,
        gold_min_answered=gold_min_answered,
        gold_fail_threshold=gold_fail_threshold,
        sampling_spec={
            "strata": [
                {"model": k[0], "value": k[1], "strategy": k[2], "category": k[3], "n": n}
                for k, n in sorted(sample.strata.items())
            ],
            "gold": list(sample.gold_ids),
            "include_reference": include_reference,
            "screening": {
                "gold_per_rater": gold_per_rater,
                "within_quota": tasks_per_rater,
                "min_gold_answered": gold_min_answered,
                "fail_threshold": gold_fail_threshold,
                "unclear_on_gold": "miss",
            },
            "order": {
                "seed": seed,
                "fewest_gold_in_any_quota_run": sampling.gold_in_every_run(
                    order, set(sample.gold_ids), quota=tasks_per_rater
                ),
            },
        },
        invite_expires_at=timezone.now() + timedelta(days=INVITE_DAYS),
        show_choices=show_choices,
        extraction_audit=extraction_audit,
        show_prediction=show_prediction,
        show_induction=show_induction,
        tasks_per_rater=tasks_per_rater,
    )
    labels = {
        trial_id: (category, source)
        for trial_id, category, source in GoldLabel.objects.filter(trial_id__in=sample.gold_ids).values_list(
            "trial_id", "category", "source"
        )
    }
    AnnotationTask.objects.bulk_create(
        [
            AnnotationTask(
                batch=batch,
                trial_id=trial_id,
                key=f"{batch.key}-t{trial_id}",
                position=position,
                is_gold=trial_id in labels,
                gold_category=labels[trial_id][0] if trial_id in labels else "",
                gold_source=labels[trial_id][1] if trial_id in labels else "",
            )
            for position, trial_id in enumerate(order)
        ]
    )
    logger.info(
        "batch created batch=%s study=%s tasks=%d gold=%d gold_per_rater=%d include_reference=%s",
        batch.pk,
        study.pk,
        len(order),
        gold,
        gold_per_rater,
        include_reference,
    )
    return batch, True


class BatchOptions(TypedDict, total=False):
    """A batch's design beyond its study and size; see ``annotation_batch_get_or_create`` for the defaults."""

    arm: str
    overlap: int
    allow_single_rater: bool
    seed: int
    gold: int
    show_choices: bool
    extraction_audit: bool
    show_prediction: bool
    show_induction: bool
    tasks_per_rater: int
    include_reference: bool
    gold_per_rater: int
    gold_min_answered: int
    gold_fail_threshold: float


def annotation_batch_push(
    *, study: Study, size: int, client: LabelStudioClient | None = None, **options: Unpack[BatchOptions]
) -> PushResult:
    """Sample a batch (or reuse the one with the same design) and push its tasks to Label Studio.

    The sample and its tasks are committed before Label Studio is contacted, so when Label Studio is down the
    push fails clearly and re-running it continues without duplicating anything.
    """
    _check_design(
        arm=options.get("arm", labeling.BLIND),
        overlap=options.get("overlap", DEFAULT_OVERLAP),
        allow_single_rater=options.get("allow_single_rater", False),
        show_prediction=options.get("show_prediction", False),
        show_induction=options.get("show_induction", False),
        size=size,
        gold=options.get("gold", 0),
        tasks_per_rater=options.get("tasks_per_rater", DEFAULT_QUOTA),
        screening=ScreeningRule(
            per_rater=options.get("gold_per_rater", 0),
            min_answered=options.get("gold_min_answered", MIN_GOLD_FOR_FLAG),
            fail_threshold=options.get("gold_fail_threshold", DEFAULT_GOLD_FAIL_THRESHOLD),
        ),
    )
    if client is None:
        label_studio_client().close()  # not configured: say so before anything is drawn or stored
    batch, created = annotation_batch_get_or_create(study=study, size=size, **options)
    try:
        with _label_studio(client) as ls:
            result = _push_to_label_studio(batch, ls)
    except LabelStudioError as exc:
        raise DomainError(
            f"{exc} The batch is saved; run the same push again once Label Studio is up."
        ) from exc
    logger.info(
        "batch pushed batch=%s project=%s created=%d existing=%d",
        batch.pk,
        batch.label_studio_project_id,
        result[0],
        result[1],
    )
    return PushResult(batch=batch, batch_created=created, tasks_created=result[0], tasks_existing=result[1])


# How Label Studio serves a batch's tasks (batches with an import order, i.e. made since tasks have positions).
# Its next-task logic (label_studio/projects/functions/next_task.py, 1.23) with sequential sampling serves a
# rater the first task in id order (= import order) that the rater has not done, that is not labeled (fewer
# annotations than the task's own ``overlap``) and not locked by others. Two steps would reorder it: "breadth
# first", which runs whenever the project's maximum_annotations is above 1 and picks at random among the tasks
# with the most annotations (it would front-load gold tasks, which collect many), and "show overlap first". So
# the project keeps maximum_annotations 1 (overlap 1 is what new tasks get on import) and show_overlap_first off,
# and each task carries its own overlap: the batch's overlap, or GOLD_TASK_OVERLAP for gold tasks, which every
# rater may then take and which never fill up (see ``sampling.interleave`` for why that guarantees gold).
# Label Studio sets a task's own overlap one request per task, so this is done only for a batch that promises
# gold per rater; any other batch keeps the project-wide overlap and is served from its shuffled import order
# (breadth first then picks at random among tasks in progress: never blocks of one model and value).
GOLD_TASK_OVERLAP = 100_000
SERVING_SETTINGS: dict[str, Any] = {
    "sampling": "Sequential sampling",
    "show_overlap_first": False,
    "overlap_cohort_percentage": 100,
}


def _push_to_label_studio(batch: AnnotationBatch, client: LabelStudioClient) -> tuple[int, int]:
    tasks = sorted(
        batch.tasks.select_related("trial", "trial__run").prefetch_related("trial__responses"),
        key=lambda t: (t.position is None, t.position or 0, t.pk),
    )
    # Batches made before tasks had positions keep the project-wide overlap they were pushed with.
    ordered = bool(tasks) and all(task.position is not None for task in tasks)
    per_task_overlap = ordered and batch.gold_never_fills
    design = labeling.InterfaceDesign(
        arm=batch.arm,
        show_choices=batch.show_choices,
        extraction_audit=batch.extraction_audit,
        items=tuple(sorted({r.item for t in tasks for r in t.trial.responses.all()}))
        or tuple(i.number for i in svo.PRIMARY_ITEMS),
    )
    project_id = client.ensure_project(
        title=f"HVAE · {batch.study.name} · batch {batch.pk}"[:50],
        label_config=labeling.label_config(design),
        # raters can read the project's text: it names nothing of the design (arm, sample, overlap)
        description=f"Study {batch.study.name}.",
        maximum_annotations=1 if per_task_overlap else batch.overlap,
        external_key=batch.key,
    )
    if batch.label_studio_project_id != project_id:
        batch.label_studio_project_id = project_id
        batch.save(update_fields=["label_studio_project_id"])
    payload = []
    for task in tasks:  # in the batch's import order: Label Studio serves tasks in id order
        trial = task.trial
        entry: dict[str, Any] = {
            "data": labeling.task_data(
                key=task.key,
                transcript=labeling.shown_dialogue(
                    trial.transcript,
                    prompt_variant=trial.run.prompt_variant,
                    show_induction=batch.show_induction,
                    arm=batch.arm,
                ),
                choices=[
                    (r.item, r.extracted_option, r.payoff_self, r.payoff_other)
                    for r in sorted(trial.responses.all(), key=lambda r: r.item)
                ],
                arm=batch.arm,
                show_choices=batch.show_choices,
                value=trial.run.value,
            )
        }
        if batch.show_prediction and batch.arm == labeling.INFORMED:
            entry["predictions"] = [labeling.prediction(trial.category, trial.run.definitions_version)]
        payload.append(entry)
    imported = client.import_tasks(project_id, payload, key_field=labeling.KEY_FIELD)
    changed = []
    for task in tasks:
        ls_id = imported.task_ids.get(task.key)
        if ls_id is not None and task.label_studio_task_id != ls_id:
            task.label_studio_task_id = ls_id
            changed.append(task)
    AnnotationTask.objects.bulk_update(changed, ["label_studio_task_id"], batch_size=BULK_ROWS)
    if ordered:
        client.set_serving(
            project_id,
            project_settings=SERVING_SETTINGS,
            task_overlaps={
                imported.task_ids[task.key]: GOLD_TASK_OVERLAP if task.is_gold else batch.overlap
                for task in tasks
                if task.key in imported.task_ids
            }
            if per_task_overlap
            else {},
        )
    if settings.LABEL_STUDIO_WEBHOOK_SECRET:
        client.register_webhook(
            project_id, webhook_url(), secret=settings.LABEL_STUDIO_WEBHOOK_SECRET, header=WEBHOOK_HEADER
        )
    else:
        logger.warning(
            "no LABEL_STUDIO_WEBHOOK_SECRET: no webhook for batch=%s, judgments arrive by sync", batch.pk
        )
    return imported.created, imported.existing


def webhook_url() -> str:
    return f"{settings.HVAE_PUBLIC_URL.rstrip('/')}{reverse('labelstudio-webhook')}"


# --- judgments ------------------------------------------------------------------------------------------


# The judgment columns an annotation sets; ``received_at`` is the first arrival's and stays.
JUDGMENT_FIELDS = (
    "task",
    "trial",
    "rater",
    "label_studio_user_id",
    "category",
    "angle_estimate",
    "confidence",
    "served_value",
    "extraction_audit",
    "comment",
    "lead_time",
    "was_cancelled",
    "raw_result",
    "annotated_at",
    "annotation_updated_at",
    "deleted",
    "deleted_at",
)


def _judgment_values(record: AnnotationRecord, task: AnnotationTask, rater: Rater | None) -> dict[str, Any]:
    """What the judgment of ``record`` holds; PayloadError when its result does not fit the interface."""
    try:
        parsed = labeling.parse_result(record.result)
    except labeling.ResultError as exc:
        raise PayloadError(f"annotation {record.id}: {exc}") from exc
    return {
        "task": task,
        "trial_id": task.trial_id,
        "rater": rater,
        "label_studio_user_id": record.completed_by,
        "category": parsed.category,
        "angle_estimate": parsed.angle_estimate,
        "confidence": parsed.confidence,
        "served_value": parsed.served_value,
        "extraction_audit": parsed.extraction_audit,
        "comment": parsed.comment,
        "lead_time": record.lead_time,
        "was_cancelled": record.was_cancelled,
        "raw_result": record.result,
        "annotated_at": record.created_at,
        "annotation_updated_at": record.updated_at,
        "deleted": False,
        "deleted_at": None,
    }


@transaction.atomic
def judgment_upsert(*, record: AnnotationRecord) -> tuple[HumanJudgment, bool] | None:
    """Create or update the judgment of one Label Studio annotation, keyed on its id (idempotent).

    Returns ``(judgment, created)``, or None for an annotation on a task that is not ours (no known key).
    """
    task = (
        AnnotationTask.objects.select_related("batch").filter(key=record.task_key).first()
        if record.task_key
        else None
    )
    if task is None:
        return None
    user_id = record.completed_by
    rater = Rater.objects.filter(batch=task.batch, label_studio_user_id=user_id).first() if user_id else None
    defaults = _judgment_values(record, task, rater)
    for attempt in range(2):
        try:
            with transaction.atomic():
                judgment, created = HumanJudgment.objects.update_or_create(
                    label_studio_annotation_id=record.id, defaults=defaults
                )
            break
        except IntegrityError:
            if attempt:
                raise
            # A webhook and a sync created the same judgment at once: the second pass updates it.
    if rater is not None:
        rater_refresh_flag(rater=rater)
    logger.info(
        "judgment upserted annotation=%s task=%s rater=%s created=%s",
        record.id,
        task.pk,
        rater.pk if rater else None,
        created,
    )
    return judgment, created


@dataclass(frozen=True)
class JudgmentsUpserted:
    """What ``judgments_upsert`` did: the annotation ids that are ours (stored, or unreadable and left as they
    are), how many judgments it created and changed, and the unreadable ones with the reason."""

    ours: set[int]
    created: int
    changed: int
    unreadable: list[tuple[int, str]]


@transaction.atomic
def judgments_upsert(*, records: Sequence[AnnotationRecord]) -> JudgmentsUpserted:
    """``judgment_upsert`` for many annotations at once (a sync's whole listing), in a few queries: the tasks,
    raters and judgments they refer to are read in bulk, new judgments are inserted and changed ones updated
    in bulk, and an unchanged judgment is not written at all. An annotation whose result does not fit the
    interface is reported in ``unreadable`` and its judgment (if any) left as it is; one on a task that is not
    ours is skipped."""
    keys = {r.task_key for r in records if r.task_key}
    tasks: dict[str, AnnotationTask] = {}
    for chunk in _chunks(sorted(keys)):
        tasks.update((t.key, t) for t in AnnotationTask.objects.filter(key__in=chunk))
    user_ids = {r.completed_by for r in records if r.completed_by}
    raters = {
        (r.batch_id, r.label_studio_user_id): r
        for r in Rater.objects.filter(
            batch_id__in={t.batch_id for t in tasks.values()}, label_studio_user_id__in=user_ids
        ).select_related("batch")
    }
    existing: dict[int, HumanJudgment] = {}
    for chunk in _chunks(sorted({r.id for r in records if r.task_key in tasks})):
        existing.update(
            (j.label_studio_annotation_id, j)
            for j in HumanJudgment.objects.filter(label_studio_annotation_id__in=chunk)
        )
    ours: set[int] = set()
    unreadable: list[tuple[int, str]] = []
    new: dict[int, HumanJudgment] = {}
    changed: dict[int, HumanJudgment] = {}
    touched_raters: dict[int, Rater] = {}
    former_raters: set[int] = set()
    now = timezone.now()
    for record in records:
        task = tasks.get(record.task_key or "")
        if task is None:
            continue
        ours.add(record.id)
        user_id = record.completed_by
        rater = raters.get((task.batch_id, user_id)) if user_id else None
        try:
            values = _judgment_values(record, task, rater)
        except PayloadError as exc:
            unreadable.append((record.id, str(exc)))
            continue
        judgment = existing.get(record.id)
        if judgment is None:
            new[record.id] = HumanJudgment(label_studio_annotation_id=record.id, **values)
            if rater is not None:
                touched_raters[rater.pk] = rater
            continue
        if any(_field_value(judgment, name) != _plain(values, name) for name in JUDGMENT_FIELDS):
            if rater is not None:
                touched_raters[rater.pk] = rater
            if judgment.rater_id is not None:
                former_raters.add(judgment.rater_id)
            for name, value in values.items():
                setattr(judgment, name, value)
            judgment.updated_at = now  # bulk_update does not apply auto_now
            changed[record.id] = judgment
    written = [*JUDGMENT_FIELDS, "updated_at"]
    # A webhook may store one of the new judgments meanwhile: the listing's values then update it.
    HumanJudgment.objects.bulk_create(
        list(new.values()),
        batch_size=BULK_ROWS,
        update_conflicts=True,
        unique_fields=["label_studio_annotation_id"],
        update_fields=written,
    )
    HumanJudgment.objects.bulk_update(list(changed.values()), written, batch_size=BULK_ROWS)
    # A rater with a new or changed judgment gets their gold accuracy checked (an unchanged one cannot move
    # it); a rater whose judgment went to another account too.
    former_raters -= set(touched_raters)
    for rater in [
        *touched_raters.values(),
        *Rater.objects.filter(pk__in=former_raters).select_related("batch"),
    ]:
        rater_refresh_flag(rater=rater)
    return JudgmentsUpserted(ours=ours, created=len(new), changed=len(changed), unreadable=unreadable)


def _field_value(judgment: HumanJudgment, name: str) -> Any:
    """A judgment's column as stored: the id for a relation."""
    if name in ("task", "trial", "rater"):
        return getattr(judgment, f"{name}_id")
    return getattr(judgment, name)


def _plain(values: dict[str, Any], name: str) -> Any:
    if name == "trial":
        return values["trial_id"]
    if name in ("task", "rater"):
        related = values[name]
        return None if related is None else related.pk
    return values[name]


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), LOOKUP_ROWS):
        yield items[start : start + LOOKUP_ROWS]


@transaction.atomic
def judgments_mark_deleted(*, annotation_ids: Sequence[int]) -> int:
    """Mark the judgments of deleted annotations; they stay in the database (and out of the statistics)."""
    judgments = list(
        HumanJudgment.objects.filter(
            label_studio_annotation_id__in=annotation_ids, deleted=False
        ).select_related("rater")
    )
    if not judgments:
        return 0
    HumanJudgment.objects.filter(pk__in=[j.pk for j in judgments]).update(
        deleted=True, deleted_at=timezone.now()
    )
    for rater in {j.rater for j in judgments if j.rater is not None}:
        rater_refresh_flag(rater=rater)
    logger.info(
        "judgments marked deleted annotations=%s", sorted(j.label_studio_annotation_id for j in judgments)
    )
    return len(judgments)


@transaction.atomic
def webhook_handle(*, payload: Any) -> int:
    """Apply one Label Studio webhook; returns how many judgments it touched. The payload is parsed whole into
    a typed event first (``labelstudio.parse_webhook``), so a malformed one raises PayloadError before anything
    is written; a judgment that does not fit the interface raises it too, and the one transaction undoes the
    rest."""
    event = parse_webhook(payload, key_field=labeling.KEY_FIELD)
    if event.deleted_ids:
        return judgments_mark_deleted(annotation_ids=event.deleted_ids)
    touched = [judgment_upsert(record=record) for record in event.annotations]
    return sum(1 for outcome in touched if outcome is not None)


@dataclass(frozen=True)
class SyncResult:
    batches: int
    annotations: int
    created: int
    deleted: int
    unreadable: int = 0
    changed: int = 0  # judgments whose annotation was edited since they were stored


def annotation_sync(*, study: Study, client: LabelStudioClient | None = None) -> SyncResult:
    """Bring every annotation of the study's batches from Label Studio: catches whatever webhooks missed while
    either side was down, and marks judgments whose annotation disappeared as deleted.

    Deletions can only be seen in a full listing, so each batch's project is read whole (an export snapshot)
    and its judgments are written in bulk (10,000 annotations: about half a minute, most of it Label Studio
    making the export; benchmarks/labelstudio.py). A batch is one transaction: a sync cut short leaves no half
    state.
    An annotation that does not fit the interface is logged and left as it is, never taken for deleted.
    """
    seen_total = created = changed = deleted = unreadable = 0
    batches = list(study.batches.exclude(label_studio_project_id=None))
    with _label_studio(client) as ls:
        for batch in batches:
            assert batch.label_studio_project_id is not None
            listed_at = timezone.now()
            try:
                listing = ls.annotation_listing(batch.label_studio_project_id, None)
            except LabelStudioError as exc:
                raise DomainError(
                    f"{exc} Nothing more was changed; run the sync again once Label Studio is up."
                ) from exc
            with transaction.atomic():
                seen: set[int] = set()
                for unread in listing.unreadable:
                    logger.warning(
                        "unreadable annotation=%s batch=%s: %s", unread.id, batch.pk, unread.reason
                    )
                    if unread.id is not None:
                        seen.add(unread.id)
                    unreadable += 1
                upserted = judgments_upsert(records=listing.records)
                for annotation_id, reason in upserted.unreadable:
                    logger.warning("unreadable annotation=%s batch=%s: %s", annotation_id, batch.pk, reason)
                unreadable += len(upserted.unreadable)
                seen |= upserted.ours
                created += upserted.created
                changed += upserted.changed
                # A judgment a webhook stored after the listing was taken is not missing from it.
                gone = (
                    HumanJudgment.objects.filter(task__batch=batch, deleted=False, received_at__lt=listed_at)
                    .exclude(label_studio_annotation_id__in=seen)
                    .values_list("label_studio_annotation_id", flat=True)
                )
                deleted += judgments_mark_deleted(annotation_ids=list(gone))
                AnnotationBatch.objects.filter(pk=batch.pk).update(last_synced_at=listed_at)
            seen_total += len(seen)
    logger.info(
        "annotation sync study=%s batches=%d annotations=%d created=%d changed=%d deleted=%d unreadable=%d",
        study.pk,
        len(batches),
        seen_total,
        created,
        changed,
        deleted,
        unreadable,
    )
    return SyncResult(
        batches=len(batches),
        annotations=seen_total,
        created=created,
        deleted=deleted,
        unreadable=unreadable,
        changed=changed,
    )


# --- raters ---------------------------------------------------------------------------------------------


class ParticipantInUse(DomainError):
    """The participant id already belongs to a rater of the batch, who joined from another browser."""


def rater_join(
    *, batch: AnnotationBatch, participant_id: str, platform_study_id: str = "", platform_session_id: str = ""
) -> Rater:
    """A new rater for a participant id the batch has not seen. A participant id is taken once: whoever comes
    with it later gets ParticipantInUse, never that rater (the pages keep a rater to the browser session that
    joined, see annotation/views.py)."""
    participant_id = participant_id.strip()
    if not participant_id:
        raise DomainError("A participant id is required.", field="participant_id")
    safe = "".join(ch for ch in participant_id.lower() if ch.isascii() and ch.isalnum())[:40] or "rater"
    try:
        with transaction.atomic():
            rater = Rater.objects.create(
                batch=batch,
                participant_id=participant_id,
                platform_study_id=platform_study_id,
                platform_session_id=platform_session_id,
                # Unique per rater (the batch key is), and .invalid: Label Studio never mails anyone.
                email=f"{safe}-{secrets.token_hex(3)}.{batch.key}@raters.invalid",
            )
    except IntegrityError as exc:
        raise ParticipantInUse(
            "This participant id is already taking part in this study from another browser.",
            field="participant_id",
        ) from exc
    logger.info("rater joined rater=%s batch=%s", rater.pk, batch.pk)
    return rater


@transaction.atomic
def rater_consent(*, rater: Rater) -> Rater:
    """Record consent once, with the time and the version of the study's consent text."""
    if rater.consented_at is None:
        rater.consented_at = timezone.now()
        rater.consent_version = rater.batch.study.consent_version
        rater.save(update_fields=["consented_at", "consent_version"])
        logger.info(
            "rater consented rater=%s batch=%s version=%s", rater.pk, rater.batch_id, rater.consent_version
        )
    return rater


def rater_provision(*, rater: Rater, client: LabelStudioClient | None = None) -> Rater:
    """The rater's Label Studio account, made on the first visit and found again on every later one.

    The password is stored before Label Studio is called, so an account made by a call whose answer was lost
    is found and signed in to with the same password next time: never a second account.
    """
    if rater.consented_at is None:
        raise DomainError("The rater has not consented yet.")
    if rater.batch.label_studio_project_id is None:
        raise DomainError("This batch has not been pushed to Label Studio yet.")
    with transaction.atomic():
        locked = Rater.objects.select_for_update().get(pk=rater.pk)
        if not locked.label_studio_password:
            locked.label_studio_password = secrets.token_urlsafe(18)
            locked.save(update_fields=["label_studio_password"])
    if locked.label_studio_user_id is not None:
        return locked
    with _label_studio(client) as ls:
        account = ls.ensure_user(
            email=locked.email,
            username=f"rater-{locked.batch.key}-{locked.pk}",
            first_name="Rater",
            last_name=str(locked.pk),
            password=locked.label_studio_password,
            want_token=False,
        )
    Rater.objects.filter(pk=locked.pk).update(label_studio_user_id=account.id)
    locked.label_studio_user_id = account.id
    # Annotations the account made before we knew its id (a lost answer) now get their rater.
    HumanJudgment.objects.filter(
        rater=None, label_studio_user_id=account.id, task__batch=locked.batch
    ).update(rater=locked)
    logger.info("rater provisioned rater=%s label_studio_user=%s", locked.pk, account.id)
    return locked


def rater_labeling_url(*, rater: Rater) -> str:
    """The batch's labeling stream in Label Studio."""
    project_id = rater.batch.label_studio_project_id
    return f"{settings.LABEL_STUDIO_URL.rstrip('/')}/projects/{project_id}/data?labeling=1"


def rater_label_studio_session(*, rater: Rater, client: LabelStudioClient | None = None) -> BrowserSession:
    """Sign the rater's Label Studio account in on the server and return the session cookie to hand to the
    rater's browser: the rater never sees, types or receives the account's email or password."""
    if rater.label_studio_user_id is None or not rater.label_studio_password:
        raise DomainError("The rater's Label Studio account is not made yet.")
    with _label_studio(client) as ls:
        session = ls.sign_in(email=rater.email, password=rater.label_studio_password)
    if session.user_id != rater.label_studio_user_id:
        raise LabelStudioError(
            f"Label Studio signed in account {session.user_id}, not the rater's {rater.label_studio_user_id}."
        )
    logger.info("rater signed in to label studio rater=%s label_studio_user=%s", rater.pk, session.user_id)
    return session


@transaction.atomic
def rater_set_excluded(*, rater: Rater, excluded: bool) -> Rater:
    """Leave a rater out of (or back in) the statistics; their judgments stay stored either way."""
    Rater.objects.filter(pk=rater.pk).update(excluded=excluded)
    rater.excluded = excluded
    logger.info("rater exclusion rater=%s excluded=%s", rater.pk, excluded)
    return rater


def rater_refresh_flag(*, rater: Rater) -> Rater:
    """Flag a rater whose gold-item accuracy is below the batch's threshold, once they answered the batch's
    minimum number of gold items (``gold_min_answered``). Accuracy and the unclear rule: see
    ``selectors.rater_gold_record``."""
    record = selectors.rater_gold_record(rater=rater)
    batch = rater.batch
    flagged = record.answered >= batch.gold_min_answered and record.accuracy < batch.gold_fail_threshold
    if flagged != rater.flagged:
        Rater.objects.filter(pk=rater.pk).update(flagged=flagged)
        rater.flagged = flagged
        logger.info(
            "rater flag rater=%s flagged=%s gold answered=%d correct=%d unclear=%d",
            rater.pk,
            flagged,
            record.answered,
            record.correct,
            record.unclear,
        )
    return rater
