"""The catch-up sync's bookkeeping (against Label Studio itself in tests/integration): idempotent, deletions
marked, a webhook racing the sync never taken for a deletion, unreadable annotations left alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from annotation import services
from annotation.labelstudio import AnnotationListing, AnnotationRecord, UnreadableAnnotation
from annotation.models import AnnotationBatch, HumanJudgment, Rater
from tests.annotation.factories import annotation


def record(
    batch: AnnotationBatch, annotation_id: int, task_index: int = 0, **fields: Any
) -> AnnotationRecord:
    task = batch.tasks.order_by("id")[task_index]
    raw = annotation(annotation_id, **fields)
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    return AnnotationRecord(
        id=annotation_id,
        task_id=500 + task_index,
        task_key=task.key,
        completed_by=raw["completed_by"],
        result=raw["result"],
        lead_time=raw["lead_time"],
        created_at=moment,
        updated_at=moment,
        was_cancelled=False,
    )


@dataclass
class ListingLabelStudio:
    records: list[AnnotationRecord] = field(default_factory=list)
    during_listing: Callable[[], None] | None = None
    unreadable: list[UnreadableAnnotation] = field(default_factory=list)

    def annotation_listing(self, project_id: int, since: datetime | None) -> AnnotationListing:
        if self.during_listing is not None:
            self.during_listing()
        return AnnotationListing(records=list(self.records), unreadable=list(self.unreadable))


def sync(batch: AnnotationBatch, ls: ListingLabelStudio) -> services.SyncResult:
    return services.annotation_sync(study=batch.study, client=ls)  # type: ignore[arg-type]


def test_sync_is_idempotent_and_marks_vanished_annotations_deleted(batch: AnnotationBatch) -> None:
    ls = ListingLabelStudio([record(batch, 1), record(batch, 2, 1, category="competitive", angle=-15)])

    first = sync(batch, ls)
    again = sync(batch, ls)
    ls.records = ls.records[1:]
    after_delete = sync(batch, ls)

    assert (first.annotations, first.created, first.deleted) == (2, 2, 0)
    assert (again.annotations, again.created, again.deleted) == (2, 0, 0)
    assert (after_delete.annotations, after_delete.created, after_delete.deleted) == (1, 0, 1)
    assert HumanJudgment.objects.get(label_studio_annotation_id=1).deleted
    assert HumanJudgment.objects.get(label_studio_annotation_id=2).category == "competitive"
    batch.refresh_from_db()
    assert batch.last_synced_at is not None


def test_a_judgment_a_webhook_stores_while_the_sync_lists_is_not_taken_for_deleted(
    batch: AnnotationBatch,
) -> None:
    task = batch.tasks.order_by("id")[2]

    def webhook_arrives() -> None:
        services.webhook_handle(
            payload={
                "action": "ANNOTATION_CREATED",
                "annotation": annotation(9),
                "task": {"data": {"hvae_key": task.key}},
            }
        )

    result = sync(batch, ListingLabelStudio([record(batch, 1)], during_listing=webhook_arrives))

    assert result.deleted == 0
    assert not HumanJudgment.objects.get(label_studio_annotation_id=9).deleted


def test_an_unreadable_annotation_is_counted_and_left_alone(batch: AnnotationBatch) -> None:
    sync(batch, ListingLabelStudio([record(batch, 1)]))
    bad = record(batch, 1, extra=[{"from_name": "angle", "value": {"number": 1000}}])

    result = sync(batch, ListingLabelStudio([bad, record(batch, 2, 1)]))

    assert (result.unreadable, result.created, result.deleted) == (1, 1, 0)
    judgment = HumanJudgment.objects.get(label_studio_annotation_id=1)
    assert not judgment.deleted
    assert judgment.angle_estimate == 40.0


def test_an_annotation_label_studio_lists_malformed_is_counted_and_never_taken_for_deleted(
    batch: AnnotationBatch,
) -> None:
    sync(batch, ListingLabelStudio([record(batch, 1)]))
    listing = ListingLabelStudio(
        [], unreadable=[UnreadableAnnotation(id=1, reason="lead_time is not finite")]
    )

    result = sync(batch, listing)

    assert (result.unreadable, result.deleted) == (1, 0)
    assert not HumanJudgment.objects.get(label_studio_annotation_id=1).deleted


def test_the_scheduled_task_syncs_every_pushed_study(batch: AnnotationBatch, monkeypatch: Any) -> None:
    from annotation import tasks

    ls = ListingLabelStudio([record(batch, 1), record(batch, 2, 1)])
    ls.close = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "label_studio_client", lambda: ls)

    assert tasks.sync_all_studies() == 2
    assert tasks.sync_all_studies() == 0
    assert HumanJudgment.objects.count() == 2


def test_a_sync_writes_only_the_judgments_whose_annotation_changed(batch: AnnotationBatch) -> None:
    ls = ListingLabelStudio([record(batch, 1), record(batch, 2, 1)])
    sync(batch, ls)
    before = dict(HumanJudgment.objects.values_list("label_studio_annotation_id", "updated_at"))
    ls.records = [record(batch, 1), record(batch, 2, 1, category="competitive", angle=-15, comment="edited")]

    result = sync(batch, ls)

    assert (result.annotations, result.created, result.changed, result.deleted) == (2, 0, 1, 0)
    after = dict(HumanJudgment.objects.values_list("label_studio_annotation_id", "updated_at"))
    assert after[1] == before[1]
    assert after[2] > before[2]
    edited = HumanJudgment.objects.get(label_studio_annotation_id=2)
    assert (edited.category, edited.angle_estimate, edited.comment) == ("competitive", -15.0, "edited")
    assert edited.raw_result == ls.records[1].result


def test_a_sync_larger_than_its_statements_maps_every_annotation_to_its_task_and_rater(
    batch: AnnotationBatch, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "BULK_ROWS", 2)
    monkeypatch.setattr(services, "LOOKUP_ROWS", 4)
    rater = services.rater_join(batch=batch, participant_id="P-7")
    Rater.objects.filter(pk=rater.pk).update(label_studio_user_id=7)
    gold = list(batch.tasks.filter(is_gold=True).order_by("id"))
    tasks = list(batch.tasks.order_by("id"))
    wrong = {t.pk: next(c for c in ("altruistic", "competitive") if c != t.gold_category) for t in gold}
    records = [
        record(batch, 100 + n, n, category=wrong.get(task.pk, "prosocial"), user=7 if n % 2 else 8)
        for n, task in enumerate(tasks)
    ]
    for task in gold:  # the rater answers both gold items wrongly
        n = tasks.index(task)
        records[n] = record(batch, 100 + n, n, category=wrong[task.pk], user=7)
    records.append(replace(record(batch, 999, 0), task_key="not-one-of-ours"))  # another project's task

    result = sync(batch, ListingLabelStudio(records))

    assert (result.annotations, result.created, result.deleted) == (len(tasks), len(tasks), 0)
    stored = {j.label_studio_annotation_id: j for j in HumanJudgment.objects.all()}
    assert set(stored) == {100 + n for n in range(len(tasks))}
    for n, task in enumerate(tasks):
        judgment = stored[100 + n]
        assert (judgment.task_id, judgment.trial_id) == (task.pk, task.trial_id)
        user = records[n].completed_by
        assert judgment.label_studio_user_id == user
        assert judgment.rater_id == (rater.pk if user == 7 else None)
    rater.refresh_from_db()
    assert rater.flagged  # both gold items wrong: flagged by the sync, as by the webhook
