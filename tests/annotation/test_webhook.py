"""The Label Studio webhook endpoint: secret check, idempotent upserts, deletions marked, malformed refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from annotation.models import AnnotationBatch, HumanJudgment, Rater
from tests.annotation.factories import annotation

URL = "/annotation/webhook"
HEADER = "X-HVAE-Webhook-Secret"


def post(client: Client, payload: Any, secret: str | None, *, raw: bytes | None = None) -> Any:
    headers = {HEADER: secret} if secret is not None else {}
    body = raw if raw is not None else json.dumps(payload)
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def created(batch: AnnotationBatch, annotation_id: int, task_index: int = 0, **fields: Any) -> dict[str, Any]:
    task = batch.tasks.order_by("id")[task_index]
    return {
        "action": "ANNOTATION_CREATED",
        "annotation": {**annotation(annotation_id, **fields), "task": 900 + task_index},
        "task": {"id": 900 + task_index, "data": {"hvae_key": task.key}},
        "project": {"id": batch.label_studio_project_id},
    }


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "unit-test-webhook-secret-but-longer"])
def test_missing_or_wrong_secret_is_refused_and_nothing_is_stored(
    client: Client, batch: AnnotationBatch, webhook_secret: str, secret: str | None
) -> None:
    response = post(client, created(batch, 1), secret)

    assert response.status_code == 403
    assert not HumanJudgment.objects.exists()


def test_without_a_configured_secret_every_webhook_is_refused(
    client: Client, batch: AnnotationBatch, settings: Any
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = ""
    assert post(client, created(batch, 1), "").status_code == 403
    assert not HumanJudgment.objects.exists()


def test_created_annotation_becomes_a_judgment_with_every_field(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    rater = Rater.objects.create(
        batch=batch, participant_id="p1", email="p1@raters.invalid", label_studio_user_id=7
    )

    response = post(
        client,
        created(batch, 11, category="altruistic", angle=61.5, comment="<i>so kind</i>"),
        webhook_secret,
    )

    assert response.status_code == 200
    assert response.json() == {"changed": 1}
    judgment = HumanJudgment.objects.get()
    task = batch.tasks.order_by("id")[0]
    assert (judgment.label_studio_annotation_id, judgment.task, judgment.trial_id) == (
        11,
        task,
        task.trial_id,
    )
    assert judgment.rater == rater
    assert (judgment.category, judgment.angle_estimate, judgment.confidence) == ("altruistic", 61.5, 4)
    assert judgment.comment == "<i>so kind</i>"
    assert judgment.lead_time == 12.5
    assert judgment.annotated_at is not None
    assert judgment.annotated_at.year == 2026
    assert not judgment.deleted


def test_replayed_and_updated_annotations_are_upserted_on_the_annotation_id(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    post(client, created(batch, 5), webhook_secret)
    post(client, created(batch, 5), webhook_secret)
    updated = {**created(batch, 5, category="individualistic", angle=3), "action": "ANNOTATION_UPDATED"}
    assert post(client, updated, webhook_secret).status_code == 200

    judgment = HumanJudgment.objects.get()
    assert (judgment.category, judgment.angle_estimate) == ("individualistic", 3.0)


def test_deleted_annotations_are_marked_not_erased(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    post(client, created(batch, 5), webhook_secret)
    post(client, created(batch, 6, task_index=1), webhook_secret)

    response = post(
        client, {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 5}, {"id": 999}]}, webhook_secret
    )

    assert response.json() == {"changed": 1}
    assert HumanJudgment.objects.count() == 2
    gone = HumanJudgment.objects.get(label_studio_annotation_id=5)
    assert gone.deleted
    assert gone.deleted_at is not None
    assert not HumanJudgment.objects.get(label_studio_annotation_id=6).deleted


def test_bulk_created_annotations_are_matched_to_their_tasks(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    tasks = list(batch.tasks.order_by("id")[:2])
    payload = {
        "action": "ANNOTATIONS_CREATED",
        "annotation": [
            {**annotation(21), "task": 2},
            {**annotation(22, category="competitive", angle=-16), "task": 1},
        ],
        "task": [
            {"id": 1, "data": {"hvae_key": tasks[0].key}},
            {"id": 2, "data": {"hvae_key": tasks[1].key}},
        ],
    }

    assert post(client, payload, webhook_secret).json() == {"changed": 2}
    assert HumanJudgment.objects.get(label_studio_annotation_id=21).task == tasks[1]
    assert HumanJudgment.objects.get(label_studio_annotation_id=22).task == tasks[0]


def test_annotations_of_tasks_that_are_not_ours_are_ignored(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    payload = {
        "action": "ANNOTATION_CREATED",
        "annotation": annotation(3),
        "task": {"id": 1, "data": {"text": "x"}},
    }
    assert post(client, payload, webhook_secret).json() == {"changed": 0}
    assert post(client, {"action": "PROJECT_UPDATED", "project": {}}, webhook_secret).json() == {"changed": 0}
    assert not HumanJudgment.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"annotation": {"id": 1}},
        {"action": "ANNOTATION_CREATED", "annotation": {"id": "one", "result": []}, "task": {"data": {}}},
        {"action": "ANNOTATION_CREATED", "annotation": {"id": 1}},
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": "x"}]},
        {"action": "ANNOTATIONS_DELETED"},
    ],
)
def test_malformed_payloads_get_400(
    client: Client, batch: AnnotationBatch, webhook_secret: str, payload: Any
) -> None:
    response = post(client, payload, webhook_secret)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_bad_annotation_in_a_bulk_payload_changes_nothing(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    task = batch.tasks.order_by("id")[0]
    bad = annotation(32, extra=[{"from_name": "confidence", "value": {"rating": 11}}])
    payload = {
        "action": "ANNOTATIONS_CREATED",
        "annotation": [{**annotation(31), "task": 1}, {**bad, "task": 1}],
        "task": [{"id": 1, "data": {"hvae_key": task.key}}],
    }

    response = post(client, payload, webhook_secret)

    assert response.status_code == 400
    assert "confidence must be 1..5" in response.json()["detail"]
    assert not HumanJudgment.objects.exists()


def test_a_body_that_is_not_json_gets_400(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    response = post(client, None, webhook_secret, raw=b"\xff{not json")
    assert response.status_code == 400
    assert not HumanJudgment.objects.exists()


def test_gold_failures_flag_the_rater_and_deleting_them_unflags(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    rater = Rater.objects.create(
        batch=batch, participant_id="p9", email="p9@raters.invalid", label_studio_user_id=7
    )
    gold = list(batch.tasks.filter(is_gold=True).order_by("id"))
    wrong = {"prosocial": "competitive", "individualistic": "altruistic"}
    for n, task in enumerate(gold):
        payload = {
            "action": "ANNOTATION_CREATED",
            "annotation": annotation(50 + n, category=wrong[task.gold_category]),
            "task": {"id": 1, "data": {"hvae_key": task.key}},
        }
        post(client, payload, webhook_secret)

    rater.refresh_from_db()
    assert len(gold) == 2
    assert rater.flagged

    post(client, {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 50}]}, webhook_secret)
    rater.refresh_from_db()
    assert not rater.flagged
    assert Rater.objects.filter(pk=rater.pk).exists()
