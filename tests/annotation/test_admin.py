"""Admin pages for batches, raters (consent, progress, gold accuracy, exclusion) and judgments."""

from __future__ import annotations

from django.test import Client

from annotation.models import AnnotationBatch, HumanJudgment, Rater


def judged(
    batch: AnnotationBatch, rater: Rater, annotation_id: int, task_index: int, **fields: object
) -> None:
    task = batch.tasks.order_by("id")[task_index]
    HumanJudgment.objects.create(
        label_studio_annotation_id=annotation_id, task=task, trial=task.trial, rater=rater, **fields
    )


def test_batch_page_shows_its_invite_link(admin_client: Client, batch: AnnotationBatch) -> None:
    listing = admin_client.get("/admin/annotation/annotationbatch/")
    page = admin_client.get(f"/admin/annotation/annotationbatch/{batch.pk}/change/").content.decode()

    assert listing.status_code == 200
    assert "/r/join/" in page
    assert batch.key in page


def test_rater_list_shows_progress_and_gold_accuracy_and_excludes_without_deleting(
    admin_client: Client, batch: AnnotationBatch
) -> None:
    rater = Rater.objects.create(batch=batch, participant_id="<img src=x>", email="r@raters.invalid")
    gold = batch.tasks.filter(is_gold=True).order_by("id").first()
    assert gold is not None
    HumanJudgment.objects.create(
        label_studio_annotation_id=1, task=gold, trial=gold.trial, rater=rater, category=gold.gold_category
    )

    page = admin_client.get("/admin/annotation/rater/").content.decode()
    assert "&lt;img src=x&gt;" in page
    assert "<img src=x>" not in page
    assert f"1 / {batch.tasks_per_rater}" in page
    assert "1/1" in page  # gold accuracy

    response = admin_client.post(
        "/admin/annotation/rater/",
        {"action": "exclude_from_statistics", "_selected_action": [rater.pk]},
    )
    assert response.status_code == 302
    rater.refresh_from_db()
    assert rater.excluded
    assert admin_client.get(f"/admin/annotation/rater/{rater.pk}/delete/").status_code == 403
    assert HumanJudgment.objects.filter(rater=rater).count() == 1


def test_judgment_pages_escape_the_raters_comment(admin_client: Client, batch: AnnotationBatch) -> None:
    rater = Rater.objects.create(batch=batch, participant_id="p", email="p@raters.invalid")
    judged(batch, rater, 77, 0, category="prosocial", comment="<script>alert(1)</script>")
    judgment = HumanJudgment.objects.get()

    assert admin_client.get("/admin/annotation/humanjudgment/").status_code == 200
    page = admin_client.get(f"/admin/annotation/humanjudgment/{judgment.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page


def test_batch_action_syncs_and_reports_label_studio_being_down(
    admin_client: Client, batch: AnnotationBatch, settings: object
) -> None:
    settings.LABEL_STUDIO_URL = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    settings.LABEL_STUDIO_API_KEY = "key"  # type: ignore[attr-defined]

    response = admin_client.post(
        "/admin/annotation/annotationbatch/",
        {"action": "sync_from_label_studio", "_selected_action": [batch.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "is not reachable" in page
    assert "run the sync again once Label Studio is up" in page
