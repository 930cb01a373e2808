"""Webhook payloads are parsed whole into typed records before anything is written: ids that do not fit the
columns, NUL characters, non-finite or absurd lead times and misshapen results get a 400 with the reason and one
log line, and store nothing, so the judgments API keeps answering everyone."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotation.labelstudio import (
    MAX_ID,
    AnnotationRecord,
    PayloadError,
    WebhookEvent,
    parse_annotation,
    parse_webhook,
)
from annotation.models import AnnotationBatch, HumanJudgment
from tests.annotation.factories import annotation

URL = "/annotation/webhook"
HEADER = "X-HVAE-Webhook-Secret"


def created(batch: AnnotationBatch, annotation_id: Any = 1, **changes: Any) -> dict[str, Any]:
    task = batch.tasks.order_by("id")[0]
    return {
        "action": "ANNOTATION_CREATED",
        "annotation": {**annotation(1), "task": 900, "id": annotation_id, **changes},
        "task": {"id": 900, "data": {"hvae_key": task.key}},
    }


def post_raw(client: Client, body: str, secret: str) -> Any:
    return client.post(URL, data=body, content_type="application/json", headers={HEADER: secret})


def comment_region(text: str) -> dict[str, Any]:
    return {"from_name": "comment", "to_name": "dialogue", "type": "textarea", "value": {"text": [text]}}


BAD_ANNOTATIONS: dict[str, dict[str, Any]] = {
    "id beyond 64 bits": {"id": 2**64 + 5},
    "id beyond the column": {"id": MAX_ID + 1},
    "negative id": {"id": -3},
    "zero id": {"id": 0},
    "id as true": {"id": True},
    "completed_by beyond 64 bits": {"completed_by": 2**70},
    "negative completed_by": {"completed_by": {"id": -1}},
    "negative lead_time": {"lead_time": -1.0},
    "lead_time over ten million seconds": {"lead_time": 1e8},
    "lead_time as text": {"lead_time": "12"},
    "NUL in a comment": {"result": [comment_region("fine\x00then")]},
    "NUL in a region name": {
        "result": [{"from_name": "orien\x00tation", "value": {"choices": ["prosocial"]}}]
    },
    "NUL in a nested key": {"result": [{"from_name": "x", "value": {"a\x00": 1}}]},
    "comment too long": {"result": [comment_region("x" * 20_001)]},
    "result not a list": {"result": {"from_name": "orientation"}},
    "region without a value": {"result": [{"from_name": "orientation"}]},
    "result nested too deep": {"result": [{"from_name": "x", "value": {"v": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}}]},
    "created_at not a date": {"created_at": "yesterday"},
    "NUL in created_at": {"created_at": "2026-01-02\x00"},
    "was_cancelled as text": {"was_cancelled": "no"},
}


@pytest.mark.parametrize("changes", BAD_ANNOTATIONS.values(), ids=BAD_ANNOTATIONS.keys())
def test_a_bad_annotation_gets_400_with_a_reason_a_log_line_and_stores_nothing(
    client: Client,
    batch: AnnotationBatch,
    webhook_secret: str,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, Any],
) -> None:
    payload = created(batch, **changes)

    with caplog.at_level(logging.WARNING, logger="annotation.views"):
        response = post_raw(client, json.dumps(payload), webhook_secret)

    assert response.status_code == 400
    assert response.json()["detail"]
    assert [r.message for r in caplog.records if r.message.startswith("webhook refused")] == [
        f"webhook refused: malformed payload: {response.json()['detail']}"
    ]
    assert not HumanJudgment.objects.exists()


@pytest.mark.parametrize("lead_time", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_lead_time_json_cannot_hold_is_refused_and_the_judgments_api_keeps_working(
    client: Client, api_client: APIClient, batch: AnnotationBatch, webhook_secret: str, lead_time: str
) -> None:
    body = json.dumps(created(batch, lead_time=12.5)).replace("12.5", lead_time)
    assert lead_time in body

    response = post_raw(client, body, webhook_secret)

    assert response.status_code == 400
    assert "lead_time" in response.json()["detail"]
    assert not HumanJudgment.objects.exists()
    assert post_raw(client, json.dumps(created(batch, 2)), webhook_secret).status_code == 200
    listing = api_client.get("/api/v1/judgments")
    assert listing.status_code == 200
    assert [j["lead_time"] for j in listing.json()["results"]] == [12.5]


@pytest.mark.parametrize("number", ["NaN", "1e400"])
def test_a_non_finite_number_anywhere_in_the_result_is_refused(
    client: Client, batch: AnnotationBatch, webhook_secret: str, number: str
) -> None:
    payload = created(batch, result=[{"from_name": "extra", "value": {"score": 7.25}}])
    body = json.dumps(payload).replace("7.25", number)

    response = post_raw(client, body, webhook_secret)

    assert response.status_code == 400
    assert "not a finite number" in response.json()["detail"]
    assert not HumanJudgment.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 2**64}]},
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": -5}]},
        {"action": "ANNOTATION_CREATED\x00", "annotation": {}},
    ],
    ids=["deleted id beyond 64 bits", "negative deleted id", "NUL in the action"],
)
def test_bad_ids_in_deletions_and_a_nul_action_get_400(
    client: Client, batch: AnnotationBatch, webhook_secret: str, payload: dict[str, Any]
) -> None:
    response = post_raw(client, json.dumps(payload), webhook_secret)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_nul_in_the_task_key_is_refused_before_any_query(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    payload = created(batch)
    payload["task"]["data"]["hvae_key"] = "hvae-\x00"

    response = post_raw(client, json.dumps(payload), webhook_secret)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_json_nested_beyond_the_parser_gets_400(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    response = post_raw(client, "[" * 100_000 + "]" * 100_000, webhook_secret)
    assert response.status_code == 400
    assert not HumanJudgment.objects.exists()


def test_a_bad_annotation_after_good_ones_in_a_bulk_payload_stores_none_of_them(
    client: Client, batch: AnnotationBatch, webhook_secret: str
) -> None:
    task = batch.tasks.order_by("id")[0]
    payload = {
        "action": "ANNOTATIONS_CREATED",
        "annotation": [{**annotation(31), "task": 1}, {**annotation(32), "lead_time": -4, "task": 1}],
        "task": [{"id": 1, "data": {"hvae_key": task.key}}],
    }

    response = post_raw(client, json.dumps(payload), webhook_secret)

    assert response.status_code == 400
    assert "annotation 32: lead_time" in response.json()["detail"]
    assert not HumanJudgment.objects.exists()


def test_parse_webhook_gives_typed_records() -> None:
    payload = {
        "action": "ANNOTATION_UPDATED",
        "annotation": {**annotation(41, user=None), "completed_by": {"id": 8}, "task": 5},
        "task": {"id": 5, "data": {"hvae_key": "hvae-abc-t1", "dialogue": []}},
    }

    event = parse_webhook(payload)

    assert event == WebhookEvent(
        action="ANNOTATION_UPDATED",
        annotations=(
            AnnotationRecord(
                id=41,
                task_id=5,
                task_key="hvae-abc-t1",
                completed_by=8,
                result=annotation(41)["result"],
                lead_time=12.5,
                created_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
                updated_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
                was_cancelled=False,
            ),
        ),
    )
    assert parse_webhook({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 3}, {"id": MAX_ID}]}) == (
        WebhookEvent(action="ANNOTATIONS_DELETED", deleted_ids=(3, MAX_ID))
    )
    assert parse_webhook({"action": "PROJECT_UPDATED", "project": {}}) == WebhookEvent(
        action="PROJECT_UPDATED"
    )


def test_a_task_that_is_not_ours_has_no_key_and_a_naive_time_is_read_as_utc() -> None:
    record = parse_annotation(
        {**annotation(2), "created_at": "2026-03-04T05:06:07", "lead_time": None},
        {"id": 1, "data": {"hvae_key": 17, "text": "someone else's"}},
    )
    assert record.task_key is None
    assert record.lead_time is None
    assert record.created_at == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize("value", [0, -1, 2**31, 2**63, 2**64, 1.0, "1", None, True])
def test_ids_outside_one_to_the_column_maximum_are_refused(value: Any) -> None:
    with pytest.raises(PayloadError, match=f"annotation.id must be an integer from 1 to {MAX_ID}"):
        parse_annotation({**annotation(1), "id": value}, {"data": {}})
